"""Times the authors' DDIM sampling loop, the counterpart of `maskdm bench sample --sampler ddim`.

Why: sampling throughput is compared with their code on the same machine, the same way as ours. This
driver imports THEIR code from a checkout given by path (models.MaskedUViT, gaussian_ddpm.GaussianDiffusion)
and calls their `GaussianDiffusion.sample` (ddim_sample when sampling_timesteps < timesteps: x0 clipped
to [-1, 1], eta 0 here as ours' --eta 0) under torch.no_grad on a randomly initialised model (the
arithmetic does not depend on the weights). One untimed batch first, as ours; then --batches timed ones.

Prints one JSON object with the fields of `maskdm bench sample --json` that mean the same.
Run it with the benchmark venv's python; benchmarks/compare.sh --only sample does.
"""
import argparse
import json
import os
import sys
import time

from authors_train_step import PRESETS, import_authors, network_settings


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--authors", required=True, help="checkout of github.com/jiachenlei/maskdm")
    p.add_argument("--preset", default="s32", choices=sorted(PRESETS))
    p.add_argument("--steps", type=int, default=50, help="DDIM steps (network evaluations per image)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--batches", type=int, default=2, help="timed batches (after one untimed batch)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def main():
    args = parse_args()
    import torch
    if args.steps < 1 or args.steps >= 1000 or args.batch_size < 1 or args.batches < 1:
        sys.exit("authors_ddim_sample: --steps must be 1..999 (DDIM), --batch-size and --batches positive")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    MaskedUViT, GaussianDiffusion, _, _ = import_authors(args.authors)
    preset = PRESETS[args.preset]
    size = preset["img_size"]
    network = network_settings(preset)
    channels = network["in_chans"]
    model = MaskedUViT(**network)
    diffusion = GaussianDiffusion(model, image_size=size, timesteps=1000, sampling_timesteps=args.steps, loss_type="l2",
                                  objective="pred_noise", beta_schedule="linear", ddim_sampling_eta=0.0,
                                  normalization=True, clip_denoised=True, clip_max=1, clip_min=-1, channels=channels)
    diffusion.eval()
    times = []
    with torch.no_grad():
        for i in range(args.batches + 1):
            start = time.perf_counter()
            images = diffusion.sample(batch_size=args.batch_size)
            assert images.shape == (args.batch_size, channels, size, size)
            if i > 0:
                times.append(time.perf_counter() - start)
    result = {
        "preset": args.preset, "sampler": f"DDIM {args.steps} steps, eta 0", "steps": args.steps,
        "batch_size": args.batch_size, "images": args.batch_size * args.batches,
        "images_per_second": args.batch_size * args.batches / sum(times), "seconds_per_batch": times,
        "device": "cpu", "torch": torch.__version__, "threads": args.threads,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
