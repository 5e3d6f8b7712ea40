#!/usr/bin/env python3
"""Writes a test checkpoint laid out as the authors' trainer writes it, without torch.

    make_authors_checkpoint.py OUT.pt --model MODEL.safetensors [--ema EMA.safetensors]
                               [--module-prefix] [--layout trainer|no-ema|state-dict|foreign] [--hostile]

torch.save is Python's pickle (protocol 2) with tensor storages as persistent ids, in a zip of stored
entries. This script uses the same pickler with stand-ins for the few torch globals a checkpoint
names (torch._utils._rebuild_tensor_v2, torch.FloatStorage, ...), so the bytes follow the same
opcodes, including the `_metadata` attribute torch sets on every state_dict. The layout is that of
train_step.py `save_training_state`:

    {'step', 'model': GaussianDiffusion.state_dict(), 'opt': AdamW.state_dict(),
     'ema': EMA.state_dict(), 'scaler': None}

`model` holds `model.<name>` for each tensor of MODEL.safetensors plus the diffusion schedule
buffers; `ema` holds `initted`, `step`, `ema_model.*` (from EMA.safetensors) and `online_model.*`
(the raw weights), as ema-pytorch does. --module-prefix puts `module.` before every model name (a
DDP-wrapped model); --hostile adds an object whose unpickling would call os.system. Only stdlib.
"""
import argparse
import io
import collections
import json
import os
import pickle
import struct
import sys
import types
import zipfile

DTYPES = {"F32": ("FloatStorage", 4), "F64": ("DoubleStorage", 8), "I64": ("LongStorage", 8),
          "I32": ("IntStorage", 4), "U8": ("ByteStorage", 1), "BOOL": ("BoolStorage", 1), "F16": ("HalfStorage", 2)}


def _install_torch_stand_ins():
    """Module objects named like torch's, so pickle writes the same GLOBAL opcodes."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")
    torch._utils = utils

    def _rebuild_tensor_v2(*args):
        raise RuntimeError("stand-in only")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    for storage, _ in DTYPES.values():
        setattr(torch, storage, type(storage, (), {"__module__": "torch"}))
    sys.modules["torch"] = torch
    sys.modules["torch._utils"] = utils
    return torch, utils


torch, torch_utils = _install_torch_stand_ins()


class Storage:
    def __init__(self, key, dtype, data):
        self.key, self.dtype, self.data = key, dtype, data


class Tensor:
    """A contiguous tensor that pickles as torch's `_rebuild_tensor_v2(storage, 0, size, stride, False, hooks)`."""

    def __init__(self, storage, shape):
        self.storage, self.shape = storage, tuple(shape)

    def __reduce_ex__(self, protocol):
        stride, s = [], 1
        for d in reversed(self.shape):
            stride.insert(0, s)
            s *= d
        return (torch_utils._rebuild_tensor_v2,
                (self.storage, 0, self.shape, tuple(stride), False, collections.OrderedDict()))


class Hostile:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


class Writer:
    def __init__(self):
        self.storages = []

    def tensor(self, dtype, shape, data):
        storage = Storage(str(len(self.storages)), dtype, data)
        self.storages.append(storage)
        return Tensor(storage, shape)

    def floats(self, values, shape=None):
        return self.tensor("F32", shape if shape is not None else (len(values),), struct.pack(f"<{len(values)}f", *values))


def read_safetensors(path, writer):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = collections.OrderedDict()
    for name in sorted(k for k in header if k != "__metadata__"):
        e = header[name]
        b, end = e["data_offsets"]
        out[name] = writer.tensor(e["dtype"], e["shape"], raw[8 + n + b:8 + n + end])
    return out


def state_dict(items, metadata_keys):
    """An OrderedDict with the `_metadata` attribute torch's Module.state_dict() sets."""
    d = collections.OrderedDict(items)
    d._metadata = collections.OrderedDict((k, {"version": 1}) for k in metadata_keys)
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--model", required=True)
    ap.add_argument("--ema")
    ap.add_argument("--module-prefix", action="store_true")
    ap.add_argument("--layout", default="trainer", choices=["trainer", "no-ema", "state-dict", "foreign"])
    ap.add_argument("--hostile", action="store_true")
    ap.add_argument("--step", type=int, default=1234)
    a = ap.parse_args()

    w = Writer()
    model = read_safetensors(a.model, w)
    ema = read_safetensors(a.ema, w) if a.ema else model
    prefix = "module." if a.module_prefix else ""
    T = 10
    betas = [0.0001 + i * 0.002 for i in range(T)]

    def buffers():
        # GaussianDiffusion's register_buffer entries (values only need to be plausible).
        names = ["betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod",
                 "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod",
                 "sqrt_recipm1_alphas_cumprod", "posterior_variance", "posterior_log_variance_clipped",
                 "posterior_mean_coef1", "posterior_mean_coef2"]
        return [(n, w.floats(betas)) for n in names]

    def diffusion(weights):
        return [(f"model.{k}", v) for k, v in weights.items()] + buffers()

    model_sd = state_dict([(prefix + k, v) for k, v in diffusion(model)], ["", "model", "model.encoder"])
    if a.layout == "state-dict":
        root = model_sd
    elif a.layout == "foreign":
        root = {"epoch": 3, "state_dict_x": model_sd, "optimizer": {}}
    else:
        params = list(model.values())
        opt = {
            "state": {i: {"step": w.floats([float(a.step)], ()), "exp_avg": w.tensor(p.storage.dtype, p.shape, p.storage.data),
                          "exp_avg_sq": w.tensor(p.storage.dtype, p.shape, p.storage.data)} for i, p in enumerate(params[:3])},
            "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.99), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False,
                              "foreach": None, "maximize": False, "capturable": False, "differentiable": False,
                              "fused": None, "params": list(range(len(params)))}],
        }
        root = {"step": a.step, "model": model_sd, "opt": opt}
        if a.layout == "trainer":
            root["ema"] = state_dict(
                [("initted", w.tensor("BOOL", (), b"\x01")), ("step", w.tensor("I64", (), struct.pack("<q", a.step)))]
                + [(f"ema_model.{k}", v) for k, v in diffusion(ema)]
                + [(f"online_model.{k}", v) for k, v in diffusion(model)],
                ["", "ema_model", "online_model"])
        root["scaler"] = Hostile() if a.hostile else None

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                name, size = DTYPES[obj.dtype]
                return ("storage", getattr(torch, name), obj.key, "cpu", len(obj.data) // size)
            return None

    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(root)
    stem = os.path.splitext(os.path.basename(a.out))[0]
    tmp = a.out + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{stem}/data.pkl", buf.getvalue())
        z.writestr(f"{stem}/byteorder", "little")
        for s in w.storages:
            z.writestr(f"{stem}/data/{s.key}", s.data)
        z.writestr(f"{stem}/version", "3\n")
    os.replace(tmp, a.out)


if __name__ == "__main__":
    main()
