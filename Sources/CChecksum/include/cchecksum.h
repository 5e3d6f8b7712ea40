// SHA-256 (FIPS 180-4) for the checksums of checkpoint files: in C so that it runs at full speed
// in debug builds too (the tests write and verify many checkpoints).
#pragma once
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
/** The running state of one SHA-256 computation. */
typedef struct {
  uint32_t h[8];
  uint64_t length;      /* bytes consumed so far */
  uint8_t block[64];    /* the partial block */
  size_t filled;        /* bytes in block */
} cchecksum_sha256;

/** Starts a computation. */
void cchecksum_sha256_init(cchecksum_sha256* s);
/** Consumes n bytes. */
void cchecksum_sha256_update(cchecksum_sha256* s, const void* bytes, size_t n);
/** Writes the 32-byte digest; the state is spent. */
void cchecksum_sha256_final(cchecksum_sha256* s, uint8_t digest[32]);
#ifdef __cplusplus
}
#endif
