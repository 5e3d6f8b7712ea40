// libpng / libjpeg-turbo / zlib behind status codes (see cimage.h).
#include "cimage.h"

#include <stdio.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void set_error(char* error, size_t size, const char* message) {
  if (error && size) {
    strncpy(error, message, size - 1);
    error[size - 1] = 0;
  }
}

void cimg_free(void* p) { free(p); }

uint32_t cimg_crc32(uint32_t crc, const uint8_t* data, size_t size) {
  while (size > 0) {
    uInt chunk = size > (1u << 30) ? (1u << 30) : (uInt)size;
    crc = (uint32_t)crc32(crc, data, chunk);
    data += chunk;
    size -= chunk;
  }
  return crc;
}

/* ---- PNG ---- */

typedef struct {
  const uint8_t* data;
  size_t size, offset;
} png_source;

static void png_read_memory(png_structp png, png_bytep out, png_size_t n) {
  png_source* src = (png_source*)png_get_io_ptr(png);
  if (src->offset + n > src->size) png_error(png, "truncated PNG data");
  memcpy(out, src->data + src->offset, n);
  src->offset += n;
}

static void png_error_message(png_structp png, png_const_charp message) {
  char* buffer = (char*)png_get_error_ptr(png);
  if (buffer) set_error(buffer, 256, message);
  png_longjmp(png, 1);
}

static void png_warning_ignore(png_structp png, png_const_charp message) {
  (void)png;
  (void)message;
}

int cimg_decode_png(const uint8_t* data, size_t size, cimg_image* out, char* error, size_t error_size) {
  char message[256] = "invalid PNG";
  memset(out, 0, sizeof *out);
  if (size < 8 || png_sig_cmp(data, 0, 8)) {
    set_error(error, error_size, "not a PNG file (bad signature)");
    return 1;
  }
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, message, png_error_message, png_warning_ignore);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  uint8_t* volatile pixels = NULL;
  png_bytep* volatile rows = NULL;
  if (!png || !info) {
    set_error(error, error_size, "out of memory");
    png_destroy_read_struct(&png, &info, NULL);
    return 1;
  }
  if (setjmp(png_jmpbuf(png))) {
    free(pixels);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    set_error(error, error_size, message);
    return 1;
  }
  png_source src = {data, size, 0};
  png_set_read_fn(png, &src, png_read_memory);
  png_set_user_limits(png, 1 << 15, 1 << 15);
  png_read_info(png, info);
  png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  if ((uint64_t)w * h > CIMG_MAX_PIXELS) {
    snprintf(message, sizeof message, "a %ux%u image, more than the %llu pixels (8192 x 8192) an image may have",
             (unsigned)w, (unsigned)h, (unsigned long long)CIMG_MAX_PIXELS);
    png_longjmp(png, 1);
  }
  int color = png_get_color_type(png, info);
  png_set_strip_16(png);
  png_set_packing(png);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8) png_set_expand_gray_1_2_4_to_8(png);
  png_set_strip_alpha(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png), png_set_strip_alpha(png);
  png_read_update_info(png, info);
  int channels = png_get_channels(png, info);
  if (channels != 1 && channels != 3) png_error(png, "unsupported PNG channel layout");
  size_t stride = (size_t)w * channels;
  pixels = (uint8_t*)malloc(stride * h);
  rows = (png_bytep*)malloc(sizeof(png_bytep) * h);
  if (!pixels || !rows) png_error(png, "out of memory");
  for (png_uint_32 y = 0; y < h; ++y) rows[y] = pixels + y * stride;
  png_read_image(png, rows);
  png_read_end(png, NULL);
  free(rows);
  png_destroy_read_struct(&png, &info, NULL);
  out->width = (int)w;
  out->height = (int)h;
  out->channels = channels;
  out->pixels = pixels;
  return 0;
}

typedef struct {
  uint8_t* data;
  size_t size, capacity;
} png_sink;

static void png_write_memory(png_structp png, png_bytep in, png_size_t n) {
  png_sink* sink = (png_sink*)png_get_io_ptr(png);
  if (sink->size + n > sink->capacity) {
    size_t cap = sink->capacity ? sink->capacity * 2 : 4096;
    while (cap < sink->size + n) cap *= 2;
    uint8_t* grown = (uint8_t*)realloc(sink->data, cap);
    if (!grown) png_error(png, "out of memory");
    sink->data = grown;
    sink->capacity = cap;
  }
  memcpy(sink->data + sink->size, in, n);
  sink->size += n;
}

static void png_flush_nothing(png_structp png) { (void)png; }

int cimg_encode_png(const uint8_t* pixels, int width, int height, int channels, uint8_t** out, size_t* out_size,
                    char* error, size_t error_size) {
  char message[256] = "PNG encoding failed";
  if (channels != 1 && channels != 3) {
    set_error(error, error_size, "PNG encoding needs 1 or 3 channels");
    return 1;
  }
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, message, png_error_message, png_warning_ignore);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  png_sink sink = {NULL, 0, 0};
  if (!png || !info) {
    png_destroy_write_struct(&png, &info);
    set_error(error, error_size, "out of memory");
    return 1;
  }
  if (setjmp(png_jmpbuf(png))) {
    free(sink.data);
    png_destroy_write_struct(&png, &info);
    set_error(error, error_size, message);
    return 1;
  }
  png_set_write_fn(png, &sink, png_write_memory, png_flush_nothing);
  png_set_IHDR(png, info, width, height, 8, channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < height; ++y) png_write_row(png, (png_const_bytep)(pixels + (size_t)y * width * channels));
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  *out = sink.data;
  *out_size = sink.size;
  return 0;
}

/* ---- JPEG ---- */

typedef struct {
  struct jpeg_error_mgr base;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
} jpeg_error;

static void jpeg_error_exit(j_common_ptr info) {
  jpeg_error* e = (jpeg_error*)info->err;
  (*info->err->format_message)(info, e->message);
  longjmp(e->jump, 1);
}

/* libjpeg reports damage it can patch over as warnings and goes on (a truncated file decodes with
 * its missing rows gray). Those that mean lost image data are errors here; the others (extraneous
 * bytes between markers, unknown JFIF revisions, trace messages) are ignored. */
static void jpeg_warning(j_common_ptr info, int level) {
  if (level >= 0) return;
  switch (info->err->msg_code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_MUST_RESYNC:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_BOGUS_PROGRESSION: {
      jpeg_error* e = (jpeg_error*)info->err;
      char text[JMSG_LENGTH_MAX];
      (*info->err->format_message)(info, text);
      snprintf(e->message, sizeof e->message, "%s (the file is truncated or damaged)", text);
      longjmp(e->jump, 1);
    }
    default:
      return;
  }
}

int cimg_decode_jpeg(const uint8_t* data, size_t size, cimg_image* out, char* error, size_t error_size) {
  struct jpeg_decompress_struct info;
  jpeg_error err;
  uint8_t* volatile pixels = NULL;
  memset(out, 0, sizeof *out);
  info.err = jpeg_std_error(&err.base);
  err.base.error_exit = jpeg_error_exit;
  err.base.emit_message = jpeg_warning;
  if (setjmp(err.jump)) {
    free(pixels);
    jpeg_destroy_decompress(&info);
    set_error(error, error_size, err.message);
    return 1;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, data, (unsigned long)size);
  jpeg_read_header(&info, TRUE);
  /* Checked from the header, before jpeg_start_decompress allocates (a progressive image's
   * coefficient buffers are image-sized). */
  if ((uint64_t)info.image_width * info.image_height > CIMG_MAX_PIXELS) {
    snprintf(err.message, sizeof err.message, "a %ux%u image, more than the %llu pixels (8192 x 8192) an image may have",
             (unsigned)info.image_width, (unsigned)info.image_height, (unsigned long long)CIMG_MAX_PIXELS);
    longjmp(err.jump, 1);
  }
  if (info.num_components != 1) info.out_color_space = JCS_RGB;
  jpeg_start_decompress(&info);
  int channels = info.output_components;
  size_t stride = (size_t)info.output_width * channels;
  pixels = (uint8_t*)malloc(stride * info.output_height);
  if (!pixels) {
    strcpy(err.message, "out of memory");
    longjmp(err.jump, 1);
  }
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = pixels + info.output_scanline * stride;
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  out->width = (int)info.output_width;
  out->height = (int)info.output_height;
  out->channels = channels;
  out->pixels = pixels;
  jpeg_destroy_decompress(&info);
  return 0;
}

int cimg_encode_jpeg(const uint8_t* pixels, int width, int height, int channels, int quality, uint8_t** out,
                     size_t* out_size, char* error, size_t error_size) {
  struct jpeg_compress_struct info;
  jpeg_error err;
  unsigned char* volatile buffer = NULL;
  unsigned long size = 0;
  info.err = jpeg_std_error(&err.base);
  err.base.error_exit = jpeg_error_exit;
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&info);
    free(buffer);
    set_error(error, error_size, err.message);
    return 1;
  }
  jpeg_create_compress(&info);
  unsigned char* mem = NULL;
  jpeg_mem_dest(&info, &mem, &size);
  info.image_width = width;
  info.image_height = height;
  info.input_components = channels;
  info.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, quality, TRUE);
  jpeg_start_compress(&info, TRUE);
  while (info.next_scanline < info.image_height) {
    JSAMPROW row = (JSAMPROW)(pixels + (size_t)info.next_scanline * width * channels);
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  buffer = mem;
  jpeg_destroy_compress(&info);
  *out = (uint8_t*)malloc(size);
  memcpy(*out, mem, size);
  free(mem);
  *out_size = size;
  return 0;
}

/* ---- gzip ---- */

int cimg_read_gzip(const char* path, uint8_t** out, size_t* out_size, char* error, size_t error_size) {
  gzFile f = gzopen(path, "rb");
  if (!f) {
    set_error(error, error_size, "cannot open the file");
    return 1;
  }
  size_t cap = 1 << 20, size = 0;
  uint8_t* buffer = (uint8_t*)malloc(cap);
  for (;;) {
    if (size == cap && cap >= CIMG_MAX_GZIP_BYTES) {
      free(buffer);
      gzclose(f);
      set_error(error, error_size, "inflates to 1 GiB or more, beyond any dataset file this reads");
      return 1;
    }
    if (size == cap) {
      cap *= 2;
      uint8_t* grown = (uint8_t*)realloc(buffer, cap);
      if (!grown) {
        free(buffer);
        gzclose(f);
        set_error(error, error_size, "out of memory");
        return 1;
      }
      buffer = grown;
    }
    int n = gzread(f, buffer + size, (unsigned)(cap - size > (1u << 30) ? (1u << 30) : cap - size));
    if (n < 0) {
      int code;
      set_error(error, error_size, gzerror(f, &code));
      free(buffer);
      gzclose(f);
      return 1;
    }
    if (n == 0) break;
    size += (size_t)n;
  }
  gzclose(f);
  *out = buffer;
  *out_size = size;
  return 0;
}
