#!/usr/bin/env python3
"""Reads TensorBoard event directories with TensorBoard's own reader and prints them as JSON.

    PYTHONPATH=.deps/tensorboard python3 -S scripts/read_tensorboard.py DIR [DIR ...]

prints {DIR: {"scalars": {TAG: [[step, value], ...]}, "images": {TAG: [[step, width, height, sha256 of the
encoded image], ...]}, "files": N}}. The reader is tensorboard's EventAccumulator (the one TensorBoard's
own loading goes through, orphaned-data purging on, as TensorBoard runs it), with no sampling.

    ... scripts/read_tensorboard.py --truncations FILE

copies FILE cut at several offsets inside its last record (length, its CRC, the payload, the payload's
CRC) and prints, per cut, the number of events the reader loads from it: a killed writer's torn record
must cost that record and nothing before it. The bootstrap installs the reader into .deps/tensorboard.
"""
import hashlib
import json
import os
import shutil
import struct
import sys
import tempfile

from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.backend.event_processing import event_file_loader


def read(directory):
    acc = ea.EventAccumulator(directory, size_guidance={ea.SCALARS: 0, ea.IMAGES: 0, ea.TENSORS: 0})
    acc.Reload()
    tags = acc.Tags()
    return {
        "scalars": {t: [[e.step, e.value] for e in acc.Scalars(t)] for t in tags["scalars"]},
        "images": {t: [[e.step, e.width, e.height, hashlib.sha256(e.encoded_image_string).hexdigest()]
                       for e in acc.Images(t)] for t in tags["images"]},
        "files": len([f for f in os.listdir(directory) if "tfevents" in f]),
    }


def record_offsets(data):
    """The start of every TFRecord in data (each: 8-byte length, 4-byte CRC, payload, 4-byte CRC)."""
    offsets, at = [], 0
    while at + 12 <= len(data):
        (length,) = struct.unpack("<Q", data[at:at + 8])
        offsets.append(at)
        at += 16 + length
    return offsets


def truncations(path):
    data = open(path, "rb").read()
    offsets = record_offsets(data)
    last = offsets[-1]
    cuts = sorted({last + 3, last + 8, last + 11, last + 12, last + 13, (last + len(data)) // 2, len(data) - 4, len(data) - 1})
    out = {"records": len(offsets), "loaded": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for cut in cuts:
            cut_path = os.path.join(tmp, "events.out.tfevents.cut")
            with open(cut_path, "wb") as f:
                f.write(data[:cut])
            loader = event_file_loader.EventFileLoader(cut_path)
            out["loaded"][str(cut - last)] = sum(1 for _ in loader.Load())
        whole = os.path.join(tmp, "events.out.tfevents.whole")
        shutil.copyfile(path, whole)
        out["whole"] = sum(1 for _ in event_file_loader.EventFileLoader(whole).Load())
    return out


if __name__ == "__main__":
    if sys.argv[1:2] == ["--truncations"]:
        print(json.dumps(truncations(sys.argv[2])))
    else:
        print(json.dumps({d: read(d) for d in sys.argv[1:]}))
