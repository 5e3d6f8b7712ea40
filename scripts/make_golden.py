#!/usr/bin/env python3
"""Golden fixtures from the reference implementations: the authors' MaskDM code (U-ViT forward, noise
schedules, q_sample, posterior step, masked loss), the TF-FID Inception-v3 (TorchScript default_1.pt)
and diffusers' DPMSolverMultistepScheduler (DPM-Solver++ 2M trajectories). The Swift parity tests
(GoldenParityTests, InceptionGoldenTests, DPMSolverGoldenTests) compare against them.

  make_golden.py check   AUTHORS DIR        recompute every case in DIR from its stored inputs and print
                                            the largest relative error of each output (exit 1 if > 1e-5)
  make_golden.py check   AUTHORS DIR --write  ... and rewrite the outputs
  make_golden.py check   AUTHORS DIR --add-missing  ... and add the quantities a case lacks (loss_cosine_l1)
  make_golden.py uvit    AUTHORS DIR NAME [--seed S --img-size 16 --patch 4 --dim 64 --depth 5 --heads 4
                                            --mask block --ratio 0.5 --block 2 --batch 3 --num-classes K]
                                            a new uvit_NAME case: the authors' weight init and inputs
                                            drawn with torch.manual_seed(S)
  make_golden.py inception AUTHORS DIR NAME [--seed S --count 4 --size 32]
                                            a new inception_NAME case from random uint8 images
  make_golden.py dpm DIR NAME [--schedule linear|cosine --objective pred_noise|pred_x0|pred_v
                               --steps N --timesteps T --no-clip --seed S]
                                            a new dpm_NAME case: diffusers' DPM-Solver++ 2M trajectory
                                            of the analytic model `analytic_model` from seeded noise
  (`check` needs AUTHORS for uvit_ cases only; dpm_ cases are recomputed with diffusers.)

AUTHORS is a checkout of github.com/jiachenlei/maskdm (Tests/Fixtures/golden/README.md names the commit).
Run it with the benchmark venv's python (benchmarks/compare.sh makes it: torch, timm, einops, ...) plus
`safetensors`. The Inception weights come from .deps/fid/default_1.pt (make bootstrap) or $MASKDM_FID_WEIGHTS.
"""
import argparse
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def import_authors(authors):
    """Their modules from the checkout, checked to come from there."""
    authors = os.path.realpath(authors)
    sys.path.insert(0, authors)
    import models
    import gaussian_ddpm
    import datasets.masking_generator as masking
    for module in (models, gaussian_ddpm, masking):
        if not os.path.realpath(module.__file__).startswith(authors + os.sep):
            sys.exit(f"make_golden: {module.__name__} came from {module.__file__}, not from {authors}")
    return models.MaskedUViT, gaussian_ddpm, masking


def load(path):
    from safetensors.numpy import load_file
    return load_file(path)


def save(path, tensors):
    from safetensors.numpy import save_file
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, path)


# ---------------------------------------------------------------- U-ViT cases

def uvit_outputs(authors, tensors, cfg):
    """The authors' code on a case's weights and inputs: every `out.*` and the masked loss."""
    import torch
    MaskedUViT, gd, _ = import_authors(authors)
    weights = {k[len("model."):]: torch.from_numpy(v) for k, v in tensors.items() if k.startswith("model.")}
    model = MaskedUViT(img_size=cfg["img_size"], patch_size=cfg["patch_size"],
                       in_chans=weights["encoder.patch_embed.proj.weight"].shape[1],
                       encoder_embed_dim=cfg["embed_dim"], encoder_depth=cfg["depth"], encoder_heads=cfg["heads"],
                       mlp_ratio=cfg.get("mlp_ratio", 4), qkv_bias=cfg["qkv_bias"],
                       num_classes=cfg.get("num_classes", -1)).eval()
    model.load_state_dict(weights, strict=True)
    x = torch.from_numpy(tensors["in.x"])
    t = torch.from_numpy(tensors["in.t"]).long()
    noise = torch.from_numpy(tensors["in.noise"])
    # Their datasets prepend a 0 (visible) for the time token to each patch mask; a class-conditional
    # model has a label token before it, which is kept too.
    mask = torch.from_numpy(tensors["in.mask"]).bool()
    mask = torch.cat([torch.zeros(mask.shape[0], model.extras, dtype=torch.bool), mask], dim=1)
    out = {}
    with torch.no_grad():
        out["out.full"] = model(x, t).numpy()
        out["out.masked"] = model(x, t, mask=mask).numpy()
        if "in.y" in tensors:  # class-conditional: the label token from label_emb (out.full used uncond_embed)
            y = torch.from_numpy(tensors["in.y"]).long()
            out["out.cond"] = model(x, t, y=y).numpy()
            out["out.masked_cond"] = model(x, t, mask=mask, y=y).numpy()
        out["out.betas_linear"] = gd.linear_beta_schedule(1000).numpy()
        out["out.betas_cosine"] = gd.cosine_beta_schedule(1000).numpy()
        cosine = gd.GaussianDiffusion(model, image_size=cfg["img_size"], loss_type="l2", beta_schedule="cosine",
                                      objective="pred_noise", channels=x.shape[1])
        xt = cosine.q_sample(x, t, noise=noise)
        out["out.xt"] = xt.numpy()
        step = torch.full((x.shape[0],), cfg["p_step_t"], dtype=torch.long)
        mean, _, logvar, x0 = cosine.p_mean_variance(xt, step, clip_denoised=True)
        out["out.p_mean"], out["out.p_logvar"], out["out.p_x0"] = mean.numpy(), logvar.reshape(-1).numpy(), x0.numpy()
        _, model_out = cosine.p_losses(x, t, mask=mask, noise=noise)
        loss = cosine.loss_fn(noise, x, t, model_out, mask=mask)["loss"]
        cosine.loss_type = "l1"
        out["loss_cosine_l1"] = float(cosine.loss_fn(noise, x, t, model_out, mask=mask)["loss"])
    return out, float(loss)


def new_uvit(authors, args):
    import torch
    MaskedUViT, _, masking = import_authors(authors)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    model = MaskedUViT(img_size=args.img_size, patch_size=args.patch, in_chans=3, encoder_embed_dim=args.dim,
                       encoder_depth=args.depth, encoder_heads=args.heads, qkv_bias=False, num_classes=args.num_classes)
    tensors = {f"model.{k}": v.detach().numpy() for k, v in model.state_dict().items()}
    b, side = args.batch, args.img_size
    tensors["in.x"] = (torch.rand(b, 3, side, side) * 2 - 1).numpy()
    tensors["in.t"] = np.array([0, 417, 999][:b] + [int(i) for i in torch.randint(0, 1000, (max(0, b - 3),))], dtype=np.int32)
    tensors["in.noise"] = torch.randn(b, 3, side, side).numpy()
    grid = side // args.patch
    if args.mask == "patch":
        gen = masking.RandomMaskingGenerator(grid, args.ratio)
        masks = [gen() for _ in range(b)]
    else:
        # The token count must be a whole multiple of the visible count; block masks drop whole blocks.
        keep = round(grid * grid * (1 - args.ratio))
        masks = []
        for _ in range(b):
            per = grid // args.block
            blocks = np.random.permutation(per * per)[: (per * per) - keep // (args.block ** 2)]
            m = np.zeros((grid, grid), dtype=np.int32)
            for k in blocks:
                r, c = divmod(int(k), per)
                m[r * args.block:(r + 1) * args.block, c * args.block:(c + 1) * args.block] = 1
            masks.append(m.reshape(-1))
    tensors["in.mask"] = np.stack(masks).astype(np.int32).reshape(b, -1)
    if args.num_classes > 0:
        tensors["in.y"] = np.array([int(v) for v in torch.randint(0, args.num_classes, (b,))], dtype=np.int32)
    cfg = dict(seed=args.seed, img_size=side, patch_size=args.patch, embed_dim=args.dim, depth=args.depth,
               heads=args.heads, qkv_bias=False, mask_type=args.mask, mask_ratio=args.ratio, block_size=args.block,
               crop_size=-1, batch=b, timesteps=[int(v) for v in tensors["in.t"]], p_step_t=417,
               beta_schedule_for_loss="cosine", num_classes=args.num_classes,
               note="out.masked rows follow the official order: visible tokens in index order, time token dropped")
    out, loss = uvit_outputs(authors, tensors, cfg)
    cfg["loss_cosine_l2"] = loss
    cfg["loss_cosine_l1"] = out.pop("loss_cosine_l1")
    tensors.update(out)
    path = os.path.join(args.dir, f"uvit_{args.name}.safetensors")
    save(path, tensors)
    with open(path[:-len(".safetensors")] + ".json", "w") as f:
        json.dump(cfg, f, indent=1)
    print(f"wrote {path} and its .json")


# ---------------------------------------------------------------- Inception cases

def tf1_resize(images, size=299):
    """TF1 bilinear resize (align_corners False, no half-pixel centres): source = dst * in / out,
    clamped at the border, no antialiasing. (N, H, W, C) uint8 -> (N, size, size, C) float64 in [0, 255]."""
    x = images.astype(np.float64)
    n, h, w, c = x.shape

    def axis(inp):
        src = np.arange(size) * (inp / size)
        lo = np.floor(src).astype(np.int64)
        hi = np.minimum(lo + 1, inp - 1)
        return lo, hi, src - lo

    y0, y1, fy = axis(h)
    x0, x1, fx = axis(w)
    top = x[:, y0][:, :, x0] * (1 - fx)[None, None, :, None] + x[:, y0][:, :, x1] * fx[None, None, :, None]
    bottom = x[:, y1][:, :, x0] * (1 - fx)[None, None, :, None] + x[:, y1][:, :, x1] * fx[None, None, :, None]
    return top * (1 - fy)[None, :, None, None] + bottom * fy[None, :, None, None]


def weights_path():
    return os.environ.get("MASKDM_FID_WEIGHTS") or os.path.join(ROOT, ".deps", "fid", "default_1.pt")


def inception_outputs(images):
    import torch
    net = torch.jit.load(weights_path(), map_location="cpu").eval()
    resized = tf1_resize(images)                                        # (N, 299, 299, 3) in [0, 255]
    x = torch.from_numpy(resized.transpose(0, 3, 1, 2).astype(np.float32))
    with torch.no_grad():
        features = net(x / 128 - 1).reshape(images.shape[0], -1).numpy()  # (N, 2048)
    return {"out.resized0": (resized[0].transpose(2, 0, 1) / 255).astype(np.float32),
            "out.features": features.astype(np.float32),
            "out.mu": features.astype(np.float64).mean(axis=0)}


def new_inception(args):
    rng = np.random.default_rng(args.seed)
    images = rng.integers(0, 256, (args.count, args.size, args.size, 3), dtype=np.uint8)
    tensors = {"in.images": images, **inception_outputs(images)}
    path = os.path.join(args.dir, f"inception_{args.name}.safetensors")
    save(path, tensors)
    print(f"wrote {path}")


# ---------------------------------------------------------------- DPM-Solver++ cases

ANALYTIC_MODEL = "0.9 * tanh(0.7 * x + 0.3 * cos(0.013 * t)) + 0.1 * x"


def analytic_model(x, t):
    """A fixed network stand-in: elementwise in x, varying with the timestep t (the Swift test has the
    same formula). Its output is read as eps, x0 or v depending on the case's objective."""
    import torch
    return 0.9 * torch.tanh(0.7 * x + 0.3 * torch.cos(torch.tensor(0.013 * float(t), dtype=x.dtype))) + 0.1 * x


def authors_betas(schedule, timesteps):
    """The authors' schedules (gaussian_ddpm.py linear_beta_schedule, cosine_beta_schedule) in float64;
    the uvit_ cases check the Swift ones against their code."""
    if schedule == "linear":
        scale = 1000 / timesteps
        return np.linspace(scale * 1e-4, scale * 0.02, timesteps, dtype=np.float64)
    s = 0.008
    x = np.linspace(0, timesteps, timesteps + 1, dtype=np.float64)
    f = np.cos(((x / timesteps) + s) / (1 + s) * np.pi * 0.5) ** 2
    f = f / f[0]
    return np.clip(1 - (f[1:] / f[:-1]), 0, 0.999)


def dpm_outputs(tensors, cfg):
    """diffusers' DPM-Solver++ 2M (midpoint, lower-order final step, linspace spacing, final sigma 0)
    on the case's noise: the timesteps and the sample after every step."""
    import torch
    from diffusers import DPMSolverMultistepScheduler
    prediction = {"pred_noise": "epsilon", "pred_x0": "sample", "pred_v": "v_prediction"}[cfg["objective"]]
    sched = DPMSolverMultistepScheduler(
        num_train_timesteps=cfg["timesteps"], algorithm_type="dpmsolver++", solver_order=2, solver_type="midpoint",
        lower_order_final=True, timestep_spacing="linspace", final_sigmas_type="zero", prediction_type=prediction,
        # Dynamic thresholding with sample_max_value 1 clamps the threshold to 1: x0 clipped to [-1, 1].
        thresholding=cfg["clip"], sample_max_value=1.0)
    # The project's float64 cumulative product of the authors' betas (diffusers' own is float32).
    ac = torch.from_numpy(np.cumprod(1 - authors_betas(cfg["schedule"], cfg["timesteps"])))
    sched.alphas_cumprod = ac
    sched.alpha_t, sched.sigma_t = torch.sqrt(ac), torch.sqrt(1 - ac)
    sched.lambda_t = torch.log(sched.alpha_t) - torch.log(sched.sigma_t)
    sched.set_timesteps(cfg["steps"])
    x = torch.from_numpy(tensors["in.noise"]).double()
    states = []
    for t in sched.timesteps:
        x = sched.step(analytic_model(x, int(t)), t, x).prev_sample
        states.append(x.numpy().copy())
    return {"out.timesteps": sched.timesteps.numpy().astype(np.int32), "out.x": np.stack(states).astype(np.float32)}


def new_dpm(args):
    import torch
    torch.manual_seed(args.seed)
    tensors = {"in.noise": torch.randn(2, 3, 8, 8).numpy()}
    cfg = dict(schedule=args.schedule, objective=args.objective, steps=args.steps, timesteps=args.timesteps,
               clip=not args.no_clip, seed=args.seed, model=ANALYTIC_MODEL,
               note="out.x[i] is the sample after step i (the last is x0); out.timesteps the model's timesteps")
    tensors.update(dpm_outputs(tensors, cfg))
    path = os.path.join(args.dir, f"dpm_{args.name}.safetensors")
    save(path, tensors)
    with open(path[:-len(".safetensors")] + ".json", "w") as f:
        json.dump(cfg, f, indent=1)
    print(f"wrote {path} and its .json")


# ---------------------------------------------------------------- check

def relative_error(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return float("inf")
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def check(authors, directory, write, add_missing=False):
    worst = 0.0
    names = sorted(os.listdir(directory))
    for name in names:
        path = os.path.join(directory, name)
        if not name.endswith(".safetensors"):
            continue
        tensors = load(path)
        if name.startswith("uvit_"):
            with open(path[:-len(".safetensors")] + ".json") as f:
                cfg = json.load(f)
            out, loss = uvit_outputs(authors, tensors, cfg)
            l1 = out.pop("loss_cosine_l1")
            errors = {k: relative_error(v, tensors[k]) for k, v in out.items()}
            errors["loss_cosine_l2"] = relative_error(loss, cfg["loss_cosine_l2"])
            if "loss_cosine_l1" in cfg:
                errors["loss_cosine_l1"] = relative_error(l1, cfg["loss_cosine_l1"])
            if write or (add_missing and "loss_cosine_l1" not in cfg):
                if write:
                    cfg["loss_cosine_l2"] = loss
                cfg["loss_cosine_l1"] = l1
                print(f"{name}: loss_cosine_l1 = {l1!r} written to its .json")
                with open(path[:-len(".safetensors")] + ".json", "w") as f:
                    json.dump(cfg, f, indent=1)
        elif name.startswith("inception_"):
            out = inception_outputs(tensors["in.images"])
            errors = {k: relative_error(v, tensors[k]) for k, v in out.items()}
        elif name.startswith("dpm_"):
            with open(path[:-len(".safetensors")] + ".json") as f:
                out = dpm_outputs(tensors, json.load(f))
            errors = {k: relative_error(v, tensors[k]) for k, v in out.items()}
        else:
            continue
        worst = max([worst] + list(errors.values()))
        print(f"{name}: " + ", ".join(f"{k} {v:.2e}" for k, v in errors.items()))
        if write:
            tensors.update(out)
            save(path, tensors)
    print(f"largest relative error {worst:.2e}")
    return 0 if worst <= 1e-5 or write else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    c = sub.add_parser("check")
    c.add_argument("authors"), c.add_argument("dir"), c.add_argument("--write", action="store_true")
    c.add_argument("--add-missing", action="store_true", help="write outputs a case lacks (newer quantities), keep the rest")
    u = sub.add_parser("uvit")
    u.add_argument("authors"), u.add_argument("dir"), u.add_argument("name")
    for flag, default in [("--seed", 7), ("--img-size", 16), ("--patch", 4), ("--dim", 64), ("--depth", 5),
                          ("--heads", 4), ("--block", 2), ("--batch", 3), ("--num-classes", -1)]:
        u.add_argument(flag, type=int, default=default)
    u.add_argument("--mask", choices=["patch", "block"], default="block")
    u.add_argument("--ratio", type=float, default=0.5)
    i = sub.add_parser("inception")
    i.add_argument("authors"), i.add_argument("dir"), i.add_argument("name")
    for flag, default in [("--seed", 0), ("--count", 4), ("--size", 32)]:
        i.add_argument(flag, type=int, default=default)
    d = sub.add_parser("dpm")
    d.add_argument("dir"), d.add_argument("name")
    d.add_argument("--schedule", choices=["linear", "cosine"], default="linear")
    d.add_argument("--objective", choices=["pred_noise", "pred_x0", "pred_v"], default="pred_noise")
    for flag, default in [("--steps", 10), ("--timesteps", 1000), ("--seed", 0)]:
        d.add_argument(flag, type=int, default=default)
    d.add_argument("--no-clip", action="store_true", help="x0 unclipped (the sampler clips; this checks the rest)")
    args = p.parse_args()
    if args.what == "dpm":
        return new_dpm(args)
    if args.what == "check":
        sys.exit(check(args.authors, args.dir, args.write, args.add_missing))
    if args.what == "uvit":
        new_uvit(args.authors, args)
    else:
        new_inception(args)


if __name__ == "__main__":
    main()
