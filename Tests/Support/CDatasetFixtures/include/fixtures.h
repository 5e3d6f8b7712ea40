// Test-only: the writers the dataset tests need to build their own fixtures (the project itself only
// reads WebP and LMDB): WebP encoding through libwebp and LMDB writing through liblmdb.
#pragma once
#include <stddef.h>
#include <stdint.h>

/** Encodes RGB pixels as WebP: lossless when `lossless` != 0, else lossy at `quality` (0-100).
    *out is freed with fixture_free. Returns 0 on success. */
int fixture_encode_webp(const uint8_t* rgb, int width, int height, int lossless, float quality, uint8_t** out,
                        size_t* out_size);
void fixture_free(void* p);

/** Writes `count` records into a new LMDB environment in the folder `dir` (data.mdb, lock.mdb), in one
    transaction. Returns 0, or an LMDB status with a message in `error`. */
int fixture_write_lmdb(const char* dir, const char* const* keys, const uint8_t* const* values, const size_t* sizes,
                       int count, char* error, size_t error_size);
