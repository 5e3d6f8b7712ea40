// C wrappers around libpng, libjpeg-turbo, libwebp and zlib. libpng's and libjpeg's errors longjmp, which
// Swift cannot cross, so every call here catches them and returns a status (0 = success) with a message
// in `error`.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The most pixels (width x height) a decoder accepts, checked from the header before anything
 *  image-sized is allocated: 8192 x 8192, eight times the largest images of the paper's datasets
 *  (CelebA-HQ and FFHQ at 1024 x 1024). A small file may claim a huge image; this bounds what it costs. */
#define CIMG_MAX_PIXELS ((uint64_t)1 << 26)
/** The most bytes cimg_read_gzip inflates (Fashion-MNIST's largest file is 47 MB). */
#define CIMG_MAX_GZIP_BYTES ((size_t)1 << 30)

/** A decoded image: 8-bit samples, row-major HWC. Free `pixels` with cimg_free. */
typedef struct {
  int width, height, channels;
  uint8_t* pixels;
} cimg_image;

/** Decodes PNG (any bit depth, palette, gray, alpha; alpha dropped, 16-bit reduced to 8). */
int cimg_decode_png(const uint8_t* data, size_t size, cimg_image* out, char* error, size_t error_size);
/** Decodes baseline or progressive JPEG to gray or RGB. Data that libjpeg can only patch over (a
 *  truncated file, a corrupt entropy-coded segment) is an error, not a half-decoded image. */
int cimg_decode_jpeg(const uint8_t* data, size_t size, cimg_image* out, char* error, size_t error_size);
/** Decodes still WebP (lossy or lossless) to RGB; alpha dropped. */
int cimg_decode_webp(const uint8_t* data, size_t size, cimg_image* out, char* error, size_t error_size);
/** Encodes 8-bit gray (1) or RGB (3) pixels as PNG; *out is malloc'd, free with cimg_free. */
int cimg_encode_png(const uint8_t* pixels, int width, int height, int channels, uint8_t** out, size_t* out_size,
                    char* error, size_t error_size);
/** Encodes 8-bit gray or RGB pixels as JPEG at `quality` (1-100). */
int cimg_encode_jpeg(const uint8_t* pixels, int width, int height, int channels, int quality, uint8_t** out,
                     size_t* out_size, char* error, size_t error_size);
/** Reads a whole gzip (or plain) file into memory, at most CIMG_MAX_GZIP_BYTES once inflated. */
int cimg_read_gzip(const char* path, uint8_t** out, size_t* out_size, char* error, size_t error_size);
/** CRC-32 (zlib) of a buffer, continuing from `crc` (start with 0). */
uint32_t cimg_crc32(uint32_t crc, const uint8_t* data, size_t size);
void cimg_free(void* p);

#ifdef __cplusplus
}
#endif
