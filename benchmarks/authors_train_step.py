"""Times the authors' PyTorch training step, the counterpart of `maskdm bench train`.

Why: the issue "Faster than the authors' PyTorch code on CPU" needs their step measured on the same
machine, the same way as ours. This driver imports THEIR code from a checkout given by path
(models.MaskedUViT, gaussian_ddpm.GaussianDiffusion, datasets.masking_generator,
utils.lr_schedule); nothing of theirs is copied or stubbed. What it adds is what their main.py and
train_step.py get from libraries and the data loader:

  batch  : random uint8-range images (fixed, like ours) converted to float in [0, 1] as their
           ToTensor does, and one patch mask per image from their RandomMaskingGenerator with a 0
           prepended for the time token (as their datasets' __getitem__ do), stacked as the
           DataLoader's collate does. Their loader runs in worker processes beside the training loop;
           here a pool of 8 such batches is made before the timed steps and cycled, and each step
           moves its batch to the device as accelerate's loader does.
  step   : loss = diffusion([img, mask])["loss"]; loss.item(); isnan check; backward;
           AdamW(betas (0.99, 0.99), weight decay 0.03) step; their LambdaLR step; zero_grad;
           EMA update (decay 0.999, every step) done as ema-pytorch's update_moving_average does it:
           lerp_ of every EMA parameter towards the model's, buffers copied.
  dtype  : float32 on CPU (their accelerate fp16 autocast is a GPU setting), torch.set_num_threads.
           With --device cuda --precision fp16: what their accelerate setting (mixed_precision 'fp16')
           does, torch.autocast(float16) around the forward and loss, a GradScaler around backward and
           the optimizer step. Each timed step ends with torch.cuda.synchronize().
  flops  : with --count-flops, one extra untimed step under torch.utils.flop_counter.FlopCounterMode
           gives the step's matrix FLOPs (forward + backward), reported as flops_per_step.

Prints one JSON object with the same fields as `maskdm bench train --json` where they mean the same.
Run it with the benchmark venv's python; benchmarks/compare.sh does.
"""
import argparse
import copy
import itertools
import json
import os
import resource
import sys
import time

PRESETS = {
    # Same settings as TrainingBenchmark.swift's presets.
    "s32": dict(img_size=32, encoder_embed_dim=256, encoder_depth=13, encoder_heads=4, batch_size=64),
    "celeba64": dict(img_size=64, encoder_embed_dim=512, encoder_depth=13, encoder_heads=8, batch_size=128),
    "tiny": dict(img_size=16, encoder_embed_dim=64, encoder_depth=5, encoder_heads=4, batch_size=16),
    # The studies' CPU model (ModelConfig.quick): Fashion-MNIST, one channel.
    "quick": dict(img_size=32, encoder_embed_dim=64, encoder_depth=5, encoder_heads=2, batch_size=64, in_chans=1),
}


def network_settings(preset):
    """As their main.py's build_model(args) with configs/base.yml's network section, at a preset's shape."""
    return dict(name="maskdm", img_size=preset["img_size"], patch_size=4, in_chans=preset.get("in_chans", 3),
                encoder_embed_dim=preset["encoder_embed_dim"], encoder_depth=preset["encoder_depth"],
                encoder_heads=preset["encoder_heads"], mlp_ratio=4, qkv_bias=False, num_classes=-1,
                mlp_time_embed=False, use_checkpoint=False)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--authors", required=True, help="checkout of github.com/jiachenlei/maskdm")
    p.add_argument("--preset", default="s32", choices=sorted(PRESETS))
    p.add_argument("--mask-ratio", type=float, default=0.0)
    p.add_argument("--steps", type=int, default=20, help="timed steps (after --warmup steps)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps (ours: 3)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--lr", type=float, default=2e-4, help="ours' TrainConfig default")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--precision", default="fp32", choices=["fp32", "fp16"],
                   help="fp16: their accelerate mixed_precision (autocast float16 + GradScaler); CUDA only")
    p.add_argument("--count-flops", action="store_true", help="count one step's FLOPs (FlopCounterMode)")
    return p.parse_args()


def import_authors(authors):
    """Imports their modules from the checkout and checks that each came from there."""
    authors = os.path.realpath(authors)
    sys.path.insert(0, authors)
    import models
    import gaussian_ddpm
    import datasets.masking_generator as masking
    import utils.lr_schedule as lr_schedule
    for module in (models, gaussian_ddpm, masking, lr_schedule):
        if not os.path.realpath(module.__file__).startswith(authors + os.sep):
            sys.exit(f"authors_train_step: {module.__name__} was imported from {module.__file__}, "
                     f"not from {authors}; another package of that name shadows theirs")
    return models.MaskedUViT, gaussian_ddpm.GaussianDiffusion, masking.RandomMaskingGenerator, lr_schedule


def main():
    args = parse_args()
    import numpy as np
    import torch

    if args.precision == "fp16" and args.device != "cuda":
        sys.exit("authors_train_step: --precision fp16 is their GPU setting; use it with --device cuda")
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("authors_train_step: --device cuda, but torch sees no CUDA device")
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    MaskedUViT, GaussianDiffusion, RandomMaskingGenerator, lr_schedule = import_authors(args.authors)

    preset = PRESETS[args.preset]
    size, batch = preset["img_size"], preset["batch_size"]
    network = network_settings(preset)
    channels = network["in_chans"]
    model = MaskedUViT(**network)
    # As their main.py; the schedule is ours' default (linear): it does not change the work per step.
    diffusion = GaussianDiffusion(model, image_size=size, timesteps=1000, sampling_timesteps=500, loss_type="l2",
                                  normalization=True, clip_denoised=True, clip_max=1, clip_min=-1, channels=channels,
                                  beta_schedule="linear")
    diffusion.to(device)
    diffusion.train()
    opt = torch.optim.AdamW(diffusion.parameters(), lr=args.lr, betas=(0.99, 0.99), weight_decay=0.03)
    scheduler = lr_schedule.prepare_lr_schedule(optimizer=opt, warmup_steps=0)

    ema_model = copy.deepcopy(diffusion)
    ema_model.requires_grad_(False)
    ema_pairs = list(zip(ema_model.parameters(), diffusion.parameters()))
    ema_buffers = list(zip(ema_model.buffers(), diffusion.buffers()))

    @torch.no_grad()
    def ema_update(decay=0.999):
        for ma, current in ema_pairs:
            ma.data.lerp_(current.data, 1.0 - decay)
        for ma, current in ema_buffers:
            ma.data.copy_(current.data)

    window = size // network["patch_size"]
    mask_generator = RandomMaskingGenerator(window, args.mask_ratio)
    images = torch.randint(0, 256, (batch, channels, size, size), dtype=torch.uint8)
    scaler = torch.amp.GradScaler("cuda") if args.precision == "fp16" else None

    def collate():
        img = images.float().div(255)  # ToTensor
        masks = [torch.cat([torch.tensor([0]), torch.from_numpy(mask_generator())], dim=0) for _ in range(batch)]
        return img, torch.stack(masks)

    # Their DataLoader's workers make batches beside the training loop; here a pool of 8 is made before
    # it (on a GPU, drawing 128 masks in Python would otherwise be a visible part of a masked step).
    pool = itertools.cycle([collate() for _ in range(8)])

    def next_batch():
        img, masks = next(pool)
        # As accelerate's prepared DataLoader: the collated batch moves to the device every step.
        return [img.to(device, non_blocking=True), masks.to(device, non_blocking=True)]

    def step():
        with torch.autocast("cuda", dtype=torch.float16, enabled=scaler is not None):
            loss_dict = diffusion(next_batch())
            loss = loss_dict["loss"]
            value = loss.item()
        if torch.isnan(loss).sum() != 0:
            print("Nan occurs in loss", file=sys.stderr)
        if scaler is None:
            loss.backward()
            opt.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        scheduler.step()
        opt.zero_grad()
        ema_update()
        sync()
        return value

    flops = None
    if args.count_flops:
        from torch.utils.flop_counter import FlopCounterMode
        counter = FlopCounterMode(display=False)
        with counter:
            step()
        flops = counter.get_total_flops()

    times, losses = [], []
    for i in range(args.warmup + args.steps):
        start = time.perf_counter()
        losses.append(step())
        if i >= args.warmup:
            times.append((time.perf_counter() - start) * 1000)
    median = sorted(times)[len(times) // 2]
    result = {
        "side": "authors-pytorch",
        "preset": args.preset,
        "images_per_second": batch / (median / 1000),
        "ms_per_step": median,
        "ms_per_step_all": times,
        "warmup": args.warmup,
        "mask_ratio": args.mask_ratio,
        "mask_type": "patch",
        "masked_patches": mask_generator.num_mask,
        "batch_size": batch,
        "parameters": sum(p.numel() for p in diffusion.parameters() if p.requires_grad),
        "device": args.device,
        "gpu": torch.cuda.get_device_name() if args.device == "cuda" else None,
        "precision": args.precision,
        "flops_per_step": flops,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "loss_first_last": [losses[0], losses[-1]],
        "self_max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "gpu_peak_bytes": torch.cuda.max_memory_allocated() if args.device == "cuda" else None,
    }
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
