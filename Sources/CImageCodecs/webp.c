// WebP through libwebp (see cimage.h), LSUN's image format. libwebp returns statuses; the wrapper gives
// Swift the same convention as the other codecs, and decodes into a buffer malloc'd here so that
// cimg_free (not libwebp's own allocator) releases it.
#include "cimage.h"

#include <stdlib.h>
#include <string.h>
#include <webp/decode.h>

static void webp_error(char* error, size_t size, const char* message) {
  if (error && size) {
    strncpy(error, message, size - 1);
    error[size - 1] = 0;
  }
}

int cimg_decode_webp(const uint8_t* data, size_t size, cimg_image* out, char* error, size_t error_size) {
  WebPBitstreamFeatures features;
  memset(out, 0, sizeof *out);
  if (WebPGetFeatures(data, size, &features) != VP8_STATUS_OK) {
    webp_error(error, error_size, "invalid WebP data (bad header)");
    return 1;
  }
  if (features.has_animation) {
    webp_error(error, error_size, "animated WebP is not supported");
    return 1;
  }
  if ((uint64_t)features.width * (uint64_t)features.height > CIMG_MAX_PIXELS) {
    webp_error(error, error_size, "an image larger than the 8192 x 8192 pixels an image may have");
    return 1;
  }
  size_t stride = (size_t)features.width * 3;
  uint8_t* pixels = (uint8_t*)malloc(stride * (size_t)features.height);
  if (!pixels) {
    webp_error(error, error_size, "out of memory");
    return 1;
  }
  /* Decoding into RGB drops alpha, as the PNG decoder does. */
  if (!WebPDecodeRGBInto(data, size, pixels, stride * (size_t)features.height, (int)stride)) {
    free(pixels);
    webp_error(error, error_size, "invalid or truncated WebP data");
    return 1;
  }
  out->width = features.width;
  out->height = features.height;
  out->channels = 3;
  out->pixels = pixels;
  return 0;
}
