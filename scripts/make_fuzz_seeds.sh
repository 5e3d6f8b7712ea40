#!/usr/bin/env bash
# Writes the seed corpora of the parser fuzz targets into Tests/Fixtures/fuzz/TARGET/ (committed; the
# corpus replay test feeds every file there to its reader, and scripts/fuzz_parsers.sh starts from them).
#   scripts/make_fuzz_seeds.sh
# Seeds are small real files of each format: the repo's own configs, plans and markdown seeds; tiny
# safetensors, IDX and PyTorch files (Python's standard library); .npz written by numpy (savez and
# savez_compressed; skipped without numpy); PNGs and JPEGs of several layouts written by libpng and
# libjpeg through a small C program (needs cc and their headers).
set -euo pipefail
cd "$(dirname "$0")/.."
out=Tests/Fixtures/fuzz
python=${PYTHON:-python3}
mkdir -p "$out"/{torch,safetensors,npz,idx,png,jpeg,config,plan,seed-markdown}

cp configs/*.yaml "$out/config/"
cp plans/*.yaml "$out/plan/"
cp plans/seeds/*.txt "$out/seed-markdown/"

"$python" - "$out" <<'PY'
import gzip, json, os, struct, sys, zlib
out = sys.argv[1]

def safetensors(path, tensors, metadata=None):
    header, blob = {}, b""
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    if metadata: header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + blob)

safetensors(f"{out}/safetensors/f32.safetensors", {
    "encoder.norm.weight": ("F32", [2], struct.pack("<2f", 1.0, 2.0)),
    "encoder.norm.bias": ("F32", [2], struct.pack("<2f", 0.5, -0.5))}, {"format": "maskdm-weights"})
safetensors(f"{out}/safetensors/mixed.safetensors", {
    "a": ("F16", [2, 2], struct.pack("<4e", 1, 2, 3, 4)), "b": ("BF16", [1], b"\x80\x3f"),
    "c": ("I64", [3], struct.pack("<3q", 1, -2, 3)), "d": ("U8", [0], b""), "e": ("BOOL", [2], b"\x01\x00"),
    "f": ("F64", [1, 1], struct.pack("<d", 2.5)), "g": ("I32", [], struct.pack("<i", 7))})

# IDX: (Fashion-)MNIST's layout, images (rank 3) and labels (rank 1), as the reader sees them (gunzipped).
open(f"{out}/idx/images-idx3-ubyte", "wb").write(bytes([0, 0, 8, 3]) + struct.pack(">3I", 2, 3, 3) + bytes(range(18)))
open(f"{out}/idx/labels-idx1-ubyte", "wb").write(bytes([0, 0, 8, 1]) + struct.pack(">I", 4) + bytes([1, 0, 9, 3]))

def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

def png(path, width, height, color, depth, rows, extra=b""):
    raw = b"".join(b"\x00" + r for r in rows)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">2I5B", width, height, depth, color, 0, 0, 0))
    open(path, "wb").write(data + extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))

png(f"{out}/png/gray8.png", 3, 2, 0, 8, [bytes([0, 128, 255]), bytes([10, 20, 30])])
png(f"{out}/png/gray1.png", 8, 2, 0, 1, [bytes([0b10101010]), bytes([0b01010101])])
png(f"{out}/png/rgb16.png", 2, 2, 2, 16, [bytes(range(12)), bytes(range(12, 24))])
png(f"{out}/png/rgba.png", 2, 1, 6, 8, [bytes([255, 0, 0, 128, 0, 255, 0, 255])])
png(f"{out}/png/palette-trns.png", 2, 2, 3, 8, [bytes([0, 1]), bytes([1, 0])],
    chunk(b"PLTE", bytes([255, 0, 0, 0, 0, 255])) + chunk(b"tRNS", bytes([0, 255])))
png(f"{out}/png/gray-alpha.png", 1, 2, 4, 8, [bytes([40, 255]), bytes([80, 0])])
PY

if "$python" -c "import numpy" 2>/dev/null; then
  "$python" - "$out" <<'PY'
import sys, numpy as np
out = sys.argv[1]
mu, sigma = np.array([0.5, -1.0]), np.array([[2.0, 0.5], [0.5, 1.0]])
np.savez(f"{out}/npz/stats.npz", mu=mu, sigma=sigma, count=np.array([100.0]))
np.savez(f"{out}/npz/float32.npz", mu=mu.astype(np.float32), sigma=sigma.astype(np.float32))
np.savez_compressed(f"{out}/npz/compressed.npz", mu=mu, sigma=sigma)
PY
else
  echo "make_fuzz_seeds: numpy not found (PYTHON=...), .npz seeds not written" >&2
fi

# PyTorch files in the authors' layouts (and a hostile one), from the safetensors seed above.
for layout in trainer state-dict; do
  "$python" scripts/make_authors_checkpoint.py "$out/torch/$layout.pt" --model "$out/safetensors/f32.safetensors" \
    --ema "$out/safetensors/f32.safetensors" --layout "$layout" >/dev/null
done
"$python" scripts/make_authors_checkpoint.py "$out/torch/hostile.pt" --model "$out/safetensors/f32.safetensors" --hostile >/dev/null

# PNGs and JPEGs that need the real encoders: interlaced PNG, baseline/progressive/gray/restart JPEGs.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/seeds.c" <<'C'
#include <stdio.h>
#include <stddef.h>
#include <jpeglib.h>
#include <png.h>
static unsigned char pixels[16 * 16 * 3];
static void jpeg(const char* path, int gray, int progressive, int restart) {
  struct jpeg_compress_struct c; struct jpeg_error_mgr e; FILE* f = fopen(path, "wb");
  c.err = jpeg_std_error(&e); jpeg_create_compress(&c); jpeg_stdio_dest(&c, f);
  c.image_width = 16; c.image_height = 16; c.input_components = gray ? 1 : 3;
  c.in_color_space = gray ? JCS_GRAYSCALE : JCS_RGB; jpeg_set_defaults(&c); jpeg_set_quality(&c, 50, TRUE);
  if (progressive) jpeg_simple_progression(&c);
  c.restart_interval = restart;
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < 16) { JSAMPROW row = pixels + c.next_scanline * 16 * (gray ? 1 : 3); jpeg_write_scanlines(&c, &row, 1); }
  jpeg_finish_compress(&c); jpeg_destroy_compress(&c); fclose(f);
}
static void interlaced_png(const char* path) {
  FILE* f = fopen(path, "wb"); png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, 0, 0, 0);
  png_infop i = png_create_info_struct(p); png_init_io(p, f);
  png_set_IHDR(p, i, 16, 16, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_ADAM7, 0, 0);
  png_bytep rows[16]; for (int y = 0; y < 16; ++y) rows[y] = pixels + y * 48;
  png_set_rows(p, i, rows); png_write_png(p, i, 0, 0); png_destroy_write_struct(&p, &i); fclose(f);
}
int main(int argc, char** argv) {
  char path[4096];
  for (int k = 0; k < 16 * 16 * 3; ++k) pixels[k] = (unsigned char)(k * 7);
  snprintf(path, sizeof path, "%s/jpeg/baseline.jpg", argv[1]); jpeg(path, 0, 0, 0);
  snprintf(path, sizeof path, "%s/jpeg/gray.jpg", argv[1]); jpeg(path, 1, 0, 0);
  snprintf(path, sizeof path, "%s/jpeg/progressive.jpg", argv[1]); jpeg(path, 0, 1, 0);
  snprintf(path, sizeof path, "%s/jpeg/restart.jpg", argv[1]); jpeg(path, 0, 0, 1);
  snprintf(path, sizeof path, "%s/png/interlaced.png", argv[1]); interlaced_png(path);
  return argc < 2;
}
C
cc -o "$tmp/seeds" "$tmp/seeds.c" -ljpeg -lpng
"$tmp/seeds" "$out"
echo "seeds written to $out: $(find "$out" -type f | wc -l) files, $(du -sk "$out" | cut -f1) KB"
