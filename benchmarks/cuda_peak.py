"""Measures the CUDA device's bf16 matrix-product ceiling, the denominator of model FLOPs utilisation.

Why: the issue "On an NVIDIA H100" asks for MFU "against the measured bf16 ceiling", not the datasheet.
This times torch.matmul of two random (n, n) bfloat16 matrices (random data: zeros run faster) with
CUDA events, after warm-up, rotating over several input pairs so the L2 cache does not serve them,
and prints one JSON object: the median TFLOP/s over --repeats products, and the device-to-device
copy bandwidth (bytes read + written) for the memory-bound side of the same story.
"""
import argparse
import json
import statistics


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=8192)
    p.add_argument("--repeats", type=int, default=30)
    args = p.parse_args()
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("cuda_peak: torch sees no CUDA device")
    n = args.size
    pairs = [(torch.randn(n, n, device="cuda", dtype=torch.bfloat16),
              torch.randn(n, n, device="cuda", dtype=torch.bfloat16)) for _ in range(3)]

    def timed(fn):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1000

    for i in range(5):
        a, b = pairs[i % 3]
        torch.matmul(a, b)
    seconds = [timed(lambda: torch.matmul(*pairs[i % 3])) for i in range(args.repeats)]
    tflops = 2 * n ** 3 / statistics.median(seconds) / 1e12

    src = torch.empty(2 ** 30, dtype=torch.uint8, device="cuda").random_()
    dst = torch.empty_like(src)
    copies = [timed(lambda: dst.copy_(src)) for _ in range(10)]
    bandwidth = 2 * src.numel() / statistics.median(copies) / 1e12
    print(json.dumps({"gpu": torch.cuda.get_device_name(), "bf16_matmul_tflops": tflops, "matmul_size": n,
                      "copy_tb_per_s": bandwidth, "torch": torch.__version__}, sort_keys=True))


if __name__ == "__main__":
    main()
