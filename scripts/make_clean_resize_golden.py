#!/usr/bin/env python3
"""The golden case of FID's `clean` resize: clean-fid's own resizer on real images.

    make_clean_resize_golden.py DIR           writes DIR/resize_clean_fmnist.safetensors
    make_clean_resize_golden.py DIR --check   recomputes it and prints the largest difference (exit 1 if > 0)

The reference is clean-fid's `make_resizer("PIL", False, "bicubic", (299, 299))` (its "clean" mode: each
channel as a float32 PIL image, `Image.resize((299, 299), Image.BICUBIC)`, clipped to 0...255), applied
as clean-fid applies it, to uint8 HxWx3 images (grey replicated, as its loader's convert("RGB") does).
The images are real: Fashion-MNIST training images (Debian's dataset-fashion-mnist, which the bootstrap
installs), at 28x28 (enlarged 10.7x) and as a 448x336 mosaic of 16x12 of them (shrunk 1.50x and 1.12x,
where the antialiasing acts), and one RGB image whose channels are three of them.
The file holds the inputs (`in.NAME`, uint8, N x H x W x C, C = 1 for grey) and, to stay small, the
outputs at every 13th row and the last (`rows`, int32; `out.NAME`, float32, N x rows x 299 x C: a grey
image's three equal channels stored once).
Tests/EvaluationTests/CleanResizeGoldenTests.swift compares FIDResize.clean with it.

Needs numpy, Pillow and clean-fid, e.g. in a folder of their own:
    python3 -m pip install --no-deps --target .deps/cleanfid-golden clean-fid==0.1.35 pillow==11.3.0
    PYTHONPATH=.deps/cleanfid-golden python3 scripts/make_clean_resize_golden.py Tests/Fixtures/golden
clean-fid's resize module imports torch for its PyTorch resizers; when torch is not installed an empty
stand-in module is registered for that import (the PIL resizer used here never calls torch).
"""
import gzip
import json
import os
import struct
import sys
import types

import numpy as np

FMNIST = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
NAME = "resize_clean_fmnist.safetensors"


def clean_resizer():
    try:
        import torch  # noqa: F401
    except ImportError:
        torch = types.ModuleType("torch")
        torch.nn = types.ModuleType("torch.nn")
        torch.nn.functional = types.ModuleType("torch.nn.functional")
        torch.utils = types.ModuleType("torch.utils")
        torch.utils.data = types.ModuleType("torch.utils.data")
        torch.utils.data.Dataset = object  # the base of its folder loader's class, defined at import
        sys.modules.update({"torch": torch, "torch.nn": torch.nn, "torch.nn.functional": torch.nn.functional,
                            "torch.utils": torch.utils, "torch.utils.data": torch.utils.data})
    import PIL
    from cleanfid.resize import make_resizer
    from importlib.metadata import version
    versions = {"clean-fid": version("clean-fid"), "pillow": PIL.__version__, "numpy": np.__version__}
    return make_resizer("PIL", False, "bicubic", (299, 299)), versions


def fashion_mnist(count):
    with gzip.open(FMNIST, "rb") as f:
        magic, n, h, w = struct.unpack(">IIII", f.read(16))
        assert magic == 2051 and h == w == 28
        return np.frombuffer(f.read(count * h * w), dtype=np.uint8).reshape(count, h, w)


def inputs():
    images = fashion_mnist(16 * 12 + 4)
    grey = images[:4, :, :, None]  # (4, 28, 28, 1)
    mosaic = images[4:4 + 16 * 12].reshape(12, 16, 28, 28).transpose(0, 2, 1, 3).reshape(1, 12 * 28, 16 * 28, 1)
    rgb = np.stack([images[0], images[1], images[2]], axis=2)[None]  # (1, 28, 28, 3)
    return {"grey28": grey, "mosaic448x336": mosaic, "rgb28": rgb}


ROWS = np.array(list(range(0, 299, 13)) + [298], dtype=np.int32)


def outputs(resize, cases):
    """Each image as clean-fid gets it (grey replicated to RGB), resized; a grey image's first channel only."""
    out = {}
    for name, images in cases.items():
        channels = images.shape[3]
        out[name] = np.stack([resize(np.repeat(img, 3 // channels, axis=2))[ROWS][:, :, :channels] for img in images]).astype(np.float32)
    return out


def save(path, tensors, metadata):
    dtypes = {np.dtype(np.uint8): "U8", np.dtype(np.int32): "I32", np.dtype(np.float32): "F32"}
    header, offset, blobs = {"__metadata__": metadata}, 0, []
    for key in sorted(tensors):
        t = np.ascontiguousarray(tensors[key])
        blob = t.astype(t.dtype.newbyteorder("<")).tobytes()
        header[key] = {"dtype": dtypes[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def load(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    dtypes = {"U8": np.uint8, "I32": np.int32, "F32": np.float32}
    out = {}
    for key, v in header.items():
        if key == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[key] = np.frombuffer(data[8 + n + a:8 + n + b], dtype=dtypes[v["dtype"]]).reshape(v["shape"])
    return out


def main():
    directory = sys.argv[1]
    resize, versions = clean_resizer()
    cases = inputs()
    results = outputs(resize, cases)
    path = os.path.join(directory, NAME)
    if "--check" in sys.argv[2:]:
        stored = load(path)
        worst = 0.0
        for name in cases:
            assert np.array_equal(stored[f"in.{name}"], cases[name]), f"in.{name} differs"
            worst = max(worst, float(np.abs(stored[f"out.{name}"] - results[name]).max()))
        print(f"{path}: largest difference {worst:.3g} ({json.dumps(versions)})")
        sys.exit(0 if worst == 0 else 1)
    tensors = {"rows": ROWS}
    for name in cases:
        tensors[f"in.{name}"] = cases[name]
        tensors[f"out.{name}"] = results[name]
    metadata = {"reference": "cleanfid.resize.make_resizer('PIL', False, 'bicubic', (299, 299))", **versions}
    save(path, tensors, metadata)
    print(f"wrote {path} ({os.path.getsize(path)} bytes; {json.dumps(versions)})")


if __name__ == "__main__":
    main()
