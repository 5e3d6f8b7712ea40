"""Side-by-side benchmark of the authors' PyTorch code and ours (maskdm), alternating, with ratios.

Why: a claim "ours is N x the authors' code" is only as good as the conditions both sides ran under.
Here both run on the same machine in the same session, in separate child processes, one after the
other, the order swapped every repetition (theirs first on even repetitions, ours first on odd ones)
and the repetitions interleaved across all settings, so that load and thermal drift hit both sides
alike. Each child does its own warm-up and then times N steps; a repetition's figure is the median
of its N steps, and the table shows the median over repetitions.

  train : authors_train_step.py (their MaskedUViT, GaussianDiffusion, masks; AdamW; EMA) vs
          `maskdm bench train --preset P --mask-ratio R --json`
  fid   : torch_fid_features.py (default_1.pt via torch.jit.load, F.interpolate resize) vs
          `maskdm bench fid --batch B --size S --json`
  sample: authors_ddim_sample.py (their GaussianDiffusion.sample, DDIM eta 0, random weights) vs
          `maskdm bench sample --preset P --sampler ddim --steps N --eta 0 --json` (only with --only sample)

--device cuda runs both on the GPU: theirs with their accelerate setting (fp16 autocast + GradScaler),
ours with --precision bf16 (both changeable); it first measures the GPU's bf16 matrix-product ceiling
(cuda_peak.py) and counts each setting's FLOPs per step once with PyTorch's FlopCounterMode on their
model (the same model as ours: the parameter counts are compared), so that the table gives model FLOPs
utilisation (FLOPs per step x steps per second / ceiling) for both sides.

Memory: the peak resident set (ru_maxrss of the child, from os.wait4) of each child process, the
same measure for both sides; ours' JSON also gives MLX's own peak of allocated buffers.
Started by benchmarks/compare.sh (which makes the venv and builds maskdm); run it with the venv's
python. Writes the raw per-repetition numbers and the table as JSON (--results).
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def parse_args():
    p = argparse.ArgumentParser(description="Compare the authors' PyTorch code and maskdm, side by side.")
    p.add_argument("--authors", help="checkout of github.com/jiachenlei/maskdm (needed for train)")
    p.add_argument("--maskdm", default=os.path.join(ROOT, ".build", "release", "maskdm"))
    p.add_argument("--fid-weights", default=os.path.join(ROOT, ".deps", "fid", "default_1.pt"))
    p.add_argument("--only", choices=["train", "fid", "sample", "all"], default="all",
                   help="all: train and fid (sample runs only when asked for: --only sample)")
    p.add_argument("--reps", type=int, default=5, help="repetitions per side and setting (each: warm-up + timed steps)")
    p.add_argument("--steps", type=int, default=10, help="timed training steps per repetition (after 3 warm-up steps)")
    p.add_argument("--presets", default="s32", help="comma list of s32, celeba64, tiny, quick (the studies' CPU model)")
    p.add_argument("--mask-ratios", default="0,0.9", help="comma list of patch mask ratios")
    p.add_argument("--fid-batch", type=int, default=16)
    p.add_argument("--fid-sizes", default="32", help="comma list of input sides resized to 299 (32, 64)")
    p.add_argument("--fid-batches", type=int, default=3, help="timed FID batches per repetition (after 1 warm-up)")
    p.add_argument("--sample-steps", default="50", help="comma list of DDIM step counts (--only sample)")
    p.add_argument("--sample-batch", type=int, default=64, help="images per sampling batch")
    p.add_argument("--sample-batches", type=int, default=2, help="timed sampling batches per repetition (after 1 untimed)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads for the PyTorch side")
    p.add_argument("--taskset", default=None, help="pin both sides to these CPUs (taskset -c LIST), e.g. 0,1")
    p.add_argument("--results", default=None, help="JSON file to write (default benchmarks/results/DATE-DEVICE.json)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where both sides run")
    p.add_argument("--their-precision", choices=["fp32", "fp16"], default=None,
                   help="their training precision (default: fp32 on cpu, fp16 autocast on cuda as their config)")
    p.add_argument("--isa", choices=["native", "avx2"], default="native",
                   help="avx2: force both sides to their AVX2 code on a CPU with AVX-512 (see ISA_ENVIRONMENT)")
    p.add_argument("--our-precision", choices=["fp32", "bf16"], default=None,
                   help="ours' training precision (default: fp32 on cpu, bf16 on cuda)")
    args = p.parse_args()
    gpu = args.device == "cuda"
    args.their_precision = args.their_precision or ("fp16" if gpu else "fp32")
    args.our_precision = args.our_precision or ("bf16" if gpu else "fp32")
    if args.reps < 1 or args.steps < 1 or args.fid_batches < 1:
        p.error("--reps, --steps and --fid-batches must be at least 1")
    if args.only in ("train", "sample", "all") and not args.authors:
        p.error("--authors is needed for the training and sampling comparisons (or use --only fid)")
    if args.sample_batch < 1 or args.sample_batches < 1:
        p.error("--sample-batch and --sample-batches must be at least 1")
    args.sample_steps = [int(s) for s in args.sample_steps.split(",") if s]
    args.presets = [s for s in args.presets.split(",") if s]
    args.mask_ratios = [float(s) for s in args.mask_ratios.split(",") if s]
    args.fid_sizes = [int(s) for s in args.fid_sizes.split(",") if s]
    return args


def shown(path):
    """path relative to the repository when inside it (as printed and recorded), else as given."""
    rel = os.path.relpath(os.path.abspath(path), ROOT)
    return path if rel.startswith("..") else rel


def default_results_path(device):
    folder = os.path.join(HERE, "results")
    stem = datetime.date.today().isoformat() + "-" + device
    path, n = os.path.join(folder, stem + ".json"), 2
    while os.path.exists(path):  # never overwrite a kept result
        path, n = os.path.join(folder, f"{stem}-{n}.json"), n + 1
    return path


# --isa avx2: what makes each library use its AVX2 code on a CPU with AVX-512. PyTorch's own kernels
# (ATen's dispatch), oneDNN's and MKL's each have their switch; OpenBLAS (ours' other products, and
# numpy's) takes a core type; ours takes MASKDM_ISA. The children report what they ran (PyTorch's
# torch.backends.cpu.get_cpu_capability(), ours' cpu_path and OpenBLAS's core name), and the summary
# says so, so that a switch that did not take is seen.
ISA_ENVIRONMENT = {
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
             "OPENBLAS_CORETYPE": "Haswell", "MASKDM_ISA": "avx2"},
}


def child_environment(args):
    return {**os.environ, **ISA_ENVIRONMENT.get(args.isa, {})}


def run_child(cmd, label, env=None):
    """Runs cmd; returns (parsed JSON of its last JSON line, max RSS bytes, wall seconds)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=ROOT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)  # reaps the child and gives its rusage
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = "\n".join((stderr + stdout).strip().splitlines()[-15:])
        sys.exit(f"compare: {label} failed (exit status {proc.returncode}):\n  {' '.join(cmd)}\n{tail}")
    return json.loads(lines[-1]), usage.ru_maxrss * 1024, wall  # ru_maxrss is in KiB on Linux


def settings(args):
    """The list of (kind, setting) pairs, each measured on both sides every repetition."""
    out = []
    if args.only in ("train", "all"):
        out += [("train", {"preset": p, "mask_ratio": r}) for p in args.presets for r in args.mask_ratios]
    if args.only in ("fid", "all"):
        out += [("fid", {"batch": args.fid_batch, "size": s}) for s in args.fid_sizes]
    if args.only == "sample":
        out += [("sample", {"preset": p, "steps": n, "batch": args.sample_batch}) for p in args.presets for n in args.sample_steps]
    return out


def their_train_command(args, s):
    return [sys.executable, os.path.join(HERE, "authors_train_step.py"), "--authors", args.authors,
            "--preset", s["preset"], "--mask-ratio", str(s["mask_ratio"]), "--threads", str(args.threads),
            "--device", args.device, "--precision", args.their_precision]


def commands(args, kind, s):
    pin = ["taskset", "-c", args.taskset] if args.taskset else []
    ours_device = "gpu" if args.device == "cuda" else "cpu"
    if kind == "train":
        theirs = their_train_command(args, s) + ["--steps", str(args.steps)]
        ours = [args.maskdm, "bench", "train", "--preset", s["preset"], "--mask-type", "patch",
                "--mask-ratio", str(s["mask_ratio"]), "--steps", str(args.steps), "--precision", args.our_precision,
                "--device", ours_device, "--json"]
    elif kind == "sample":
        # The same sampler on both sides: DDIM, eta 0, x0 clipped, linear schedule, eps objective.
        theirs = [sys.executable, os.path.join(HERE, "authors_ddim_sample.py"), "--authors", args.authors,
                  "--preset", s["preset"], "--steps", str(s["steps"]), "--batch-size", str(s["batch"]),
                  "--batches", str(args.sample_batches), "--threads", str(args.threads)]
        ours = [args.maskdm, "bench", "sample", "--preset", s["preset"], "--sampler", "ddim", "--steps", str(s["steps"]),
                "--eta", "0", "--batch-size", str(s["batch"]), "--batches", str(args.sample_batches),
                "--device", ours_device, "--json"]
    else:
        theirs = [sys.executable, os.path.join(HERE, "torch_fid_features.py"), "--weights", args.fid_weights,
                  "--batch", str(s["batch"]), "--size", str(s["size"]), "--repeats", str(args.fid_batches),
                  "--threads", str(args.threads), "--device", args.device]
        ours = [args.maskdm, "bench", "fid", "--batch", str(s["batch"]), "--size", str(s["size"]),
                "--repeats", str(args.fid_batches), "--device", ours_device, "--json"]
    return {"theirs": pin + theirs, "ours": pin + ours}


def gpu_measures(args):
    """On CUDA: the bf16 ceiling and, per training setting, FLOPs per step (one counted step of theirs)."""
    peak, _, _ = run_child([sys.executable, os.path.join(HERE, "cuda_peak.py")], "cuda_peak.py")
    print(f"compare: {peak['gpu']}: bf16 matmul {peak['bf16_matmul_tflops']:.0f} TFLOP/s, "
          f"copy {peak['copy_tb_per_s']:.2f} TB/s", file=sys.stderr)
    flops = {}
    for kind, s in settings(args):
        if kind == "train":
            counted, _, _ = run_child(their_train_command(args, s) + ["--count-flops", "--steps", "1", "--warmup", "0"],
                                      f"FLOP count ({describe(kind, s)})")
            flops[describe(kind, s)] = counted["flops_per_step"]
    return peak, flops


def describe(kind, s):
    if kind == "train":
        return f"train {s['preset']} mask {s['mask_ratio']:g}"
    if kind == "sample":
        return f"sample {s['preset']} ddim {s['steps']} batch {s['batch']}"
    return f"fid {s['size']}px->299 batch {s['batch']}"


def git_commit(path):
    try:
        head = subprocess.run(["git", "-C", path, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "-C", path, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True)
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def machine():
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())  # the first processor's
    except OSError:
        pass
    # OpenBLAS's kernel choice (OPENBLAS_CORETYPE pins it) changes its matrix products about 2x on
    # AVX-512 machines (ours' Linear layers use their own product there, unless MASKDM_GEMM=blas);
    # PyTorch brings its own BLAS. Recorded so that runs are compared like with like.
    openblas = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_")}
    # "AMD EPYC" names several generations: the family and model (25/1 a Zen 3, 25/17 a Zen 4) and AVX-512 tell them apart.
    return {"system": platform.system(), "machine": platform.machine(), "cpu": fields.get("model name"),
            "cpu_family": fields.get("cpu family"), "cpu_model": fields.get("model"),
            "avx512f": "avx512f" in fields.get("flags", "").split(), "cpu_count": os.cpu_count(),
            "python": platform.python_version(), "openblas_env": openblas}


def median(values):
    return statistics.median(values) if values else None


def summarize(runs, args, peak=None, flops=None):
    """Per setting: medians, spreads, ratio ours/theirs, peaks, MFU on a GPU; per preset: masked speed-ups."""
    rows = []
    for kind, s in settings(args):
        row = {"kind": kind, **s}
        for side in ("theirs", "ours"):
            mine = [r for r in runs if r["kind"] == kind and r["setting"] == s and r["side"] == side]
            ips = [r["images_per_second"] for r in mine]
            row[side] = {"images_per_second_median": median(ips), "images_per_second_min": min(ips),
                         "images_per_second_max": max(ips), "reps": len(ips),
                         "max_rss_bytes": max(r["max_rss_bytes"] for r in mine)}
            if side == "ours" and kind == "train":
                row[side]["mlx_peak_bytes"] = max(r["result"]["peak_memory_bytes"] for r in mine)
            if side == "theirs" and kind == "train" and mine[0]["result"].get("gpu_peak_bytes") is not None:
                row[side]["torch_gpu_peak_bytes"] = max(r["result"]["gpu_peak_bytes"] for r in mine)
            if peak and flops and kind == "train":
                steps_per_second = row[side]["images_per_second_median"] / mine[0]["result"]["batch_size"]
                row[side]["mfu"] = flops[describe(kind, s)] * steps_per_second / (peak["bf16_matmul_tflops"] * 1e12)
        row["ratio_ours_over_theirs"] = row["ours"]["images_per_second_median"] / row["theirs"]["images_per_second_median"]
        rows.append(row)
    speedups = []
    for p in args.presets:
        base = next((r for r in rows if r["kind"] == "train" and r["preset"] == p and r["mask_ratio"] == 0), None)
        for r in rows:
            if base and r["kind"] == "train" and r["preset"] == p and r["mask_ratio"] > 0:
                speedups.append({"preset": p, "mask_ratio": r["mask_ratio"], **{
                    side: r[side]["images_per_second_median"] / base[side]["images_per_second_median"]
                    for side in ("theirs", "ours")}})
    return {"rows": rows, "masked_speedups": speedups}


def table(summary, args):
    mb = lambda b: f"{b / 2**20:.0f} MiB"
    digits = lambda v: 1 if v >= 10 else 2
    speed = lambda side: (f"{side['images_per_second_median']:.{digits(side['images_per_second_median'])}f} "
                          f"({side['images_per_second_min']:.{digits(side['images_per_second_min'])}f}-"
                          f"{side['images_per_second_max']:.{digits(side['images_per_second_max'])}f})")
    lines = []
    train = [r for r in summary["rows"] if r["kind"] == "train"]
    where = "CUDA" if args.device == "cuda" else "CPU"
    if train:
        lines += [f"Training step on {where}, theirs {args.their_precision}, ours {args.our_precision}. img/s: median "
                  f"over {args.reps} reps of each rep's median of {args.steps} timed steps (min-max over reps)",
                  f"{'setting':<20}  {'theirs img/s':>20}  {'ours img/s':>20}  {'ours/theirs':>11}  "
                  f"{'theirs maxRSS':>13}  {'ours maxRSS':>11}  {'ours MLX peak':>13}"]
        for r in train:
            t, o = r["theirs"], r["ours"]
            lines.append(f"{describe('train', r):<20}  {speed(t):>20}  {speed(o):>20}  "
                         f"{r['ratio_ours_over_theirs']:>10.2f}x  {mb(t['max_rss_bytes']):>13}  "
                         f"{mb(o['max_rss_bytes']):>11}  {mb(o['mlx_peak_bytes']):>13}")
        if any("mfu" in r["ours"] for r in train):
            peak = summary["gpu_peak"]
            lines.append(f"model FLOPs utilisation against the measured bf16 matmul ceiling "
                         f"({peak['bf16_matmul_tflops']:.0f} TFLOP/s on {peak['gpu']}); FLOPs per step from "
                         "FlopCounterMode on their model:")
            for r in train:
                lines.append(f"  {describe('train', r):<20}  {summary['flops_per_step'][describe('train', r)] / 1e12:.3f} "
                             f"TFLOP/step  theirs {100 * r['theirs']['mfu']:.1f}%  ours {100 * r['ours']['mfu']:.1f}%")
            for r in train:
                if "torch_gpu_peak_bytes" in r["theirs"]:
                    lines.append(f"  GPU memory peak, {describe('train', r)}: theirs (torch max allocated) "
                                 f"{mb(r['theirs']['torch_gpu_peak_bytes'])}, ours (MLX peak) {mb(r['ours']['mlx_peak_bytes'])}")
        for s in summary["masked_speedups"]:
            lines.append(f"masked speed-up, {s['preset']} mask {s['mask_ratio']:g} over mask 0: "
                         f"theirs {s['theirs']:.2f}x, ours {s['ours']:.2f}x")
    fid = [r for r in summary["rows"] if r["kind"] == "fid"]
    if fid:
        if lines:
            lines.append("")
        lines += [f"FID features (resize + TF-FID Inception-v3), fp32 {where}. img/s: median over {args.reps} reps of "
                  f"each rep's median of {args.fid_batches} batches (min-max over reps)",
                  f"{'setting':<26}  {'torch img/s':>20}  {'ours img/s':>20}  {'ours/torch':>10}  "
                  f"{'torch maxRSS':>12}  {'ours maxRSS':>11}"]
        for r in fid:
            t, o = r["theirs"], r["ours"]
            lines.append(f"{describe('fid', r):<26}  {speed(t):>20}  {speed(o):>20}  "
                         f"{r['ratio_ours_over_theirs']:>9.2f}x  {mb(t['max_rss_bytes']):>12}  {mb(o['max_rss_bytes']):>11}")
    sample = [r for r in summary["rows"] if r["kind"] == "sample"]
    if sample:
        if lines:
            lines.append("")
        lines += [f"DDIM sampling (eta 0, x0 clipped), fp32 {where}, random weights. img/s: median over {args.reps} reps "
                  f"of each rep's {args.sample_batches} timed batches after one untimed (min-max over reps)",
                  f"{'setting':<30}  {'theirs img/s':>20}  {'ours img/s':>20}  {'ours/theirs':>11}  "
                  f"{'theirs maxRSS':>13}  {'ours maxRSS':>11}"]
        for r in sample:
            t, o = r["theirs"], r["ours"]
            lines.append(f"{describe('sample', r):<30}  {speed(t):>20}  {speed(o):>20}  "
                         f"{r['ratio_ours_over_theirs']:>10.2f}x  {mb(t['max_rss_bytes']):>13}  {mb(o['max_rss_bytes']):>11}")
    return "\n".join(lines)


def main():
    args = parse_args()
    results_path = args.results or default_results_path(args.device)
    plan = settings(args)
    total = len(plan) * args.reps * 2
    print(f"compare: {len(plan)} settings x {args.reps} reps x 2 sides = {total} runs; results -> "
          f"{shown(results_path)}", file=sys.stderr)
    gemm, _, _ = run_child([args.maskdm, "bench", "gemm", "--size", "64", "--repeats", "1", "--device", "cpu", "--json"],
                           "maskdm (version check)", child_environment(args))
    peak, flops = gpu_measures(args) if args.device == "cuda" else (None, None)
    runs, done = [], 0
    started = datetime.datetime.now().astimezone()
    # Repetitions outermost: every setting is measured once per pass, so slow drift spreads over all.
    for rep in range(args.reps):
        for kind, s in plan:
            cmds = commands(args, kind, s)
            order = ["theirs", "ours"] if rep % 2 == 0 else ["ours", "theirs"]
            for position, side in enumerate(order):
                load_before = os.getloadavg()[0]
                result, rss, wall = run_child(cmds[side], f"{side} ({describe(kind, s)})", child_environment(args))
                done += 1
                runs.append({"kind": kind, "setting": s, "side": side, "rep": rep, "position": position,
                             "images_per_second": result["images_per_second"], "max_rss_bytes": rss,
                             "wall_seconds": wall, "loadavg_1min_before": load_before, "result": result})
                print(f"[{done}/{total}] rep {rep + 1} {describe(kind, s):<26} {side:<6} "
                      f"{result['images_per_second']:8.2f} img/s  maxRSS {rss / 2**20:6.0f} MiB  {wall:5.0f} s  "
                      f"load {load_before:.1f}", file=sys.stderr)
    summary = summarize(runs, args, peak, flops)
    if peak:
        summary["gpu_peak"], summary["flops_per_step"] = peak, flops
    text = table(summary, args)
    for kind, s in plan:  # both sides must have built the same model
        counts = {r["side"]: r["result"].get("parameters") for r in runs if r["kind"] == "train" and r["setting"] == s}
        if kind == "train" and counts.get("theirs") != counts.get("ours"):
            text += (f"\nWARNING: {describe(kind, s)}: the models differ, {counts.get('theirs')} parameters (theirs) "
                     f"vs {counts.get('ours')} (ours)")
    load = median([r["loadavg_1min_before"] for r in runs])
    if load > 1.5 * (os.cpu_count() or 1):
        text += (f"\nWARNING: busy machine (median 1-minute load {load:.1f} on {os.cpu_count()} CPUs before the runs); "
                 "other processes distort both sides, PyTorch's OpenMP threads especially: re-measure on a quiet machine.")
    pinned = {k: v for k, v in os.environ.items() if k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    product = next((r["result"].get("linear_product") for r in runs
                    if r["side"] == "ours" and r["kind"] == "train"), None)
    if product:
        text += f"\nOurs' Linear products: {product}"
    text += ("\nOpenBLAS (ours' other matrix products" + (", and Linear's" if product == "OpenBLAS" else "") + "): " +
             (", ".join(f"{k}={v}" for k, v in sorted(pinned.items())) + " (kernel pinned by the environment)"
              if pinned else "kernel chosen by OpenBLAS for this CPU"))
    paths = {side: sorted({str(r["result"].get(key)) for r in runs if r["side"] == side})
             for side, key in (("theirs", "cpu_capability"), ("ours", "cpu_path"))}
    cores = sorted({str(r["result"].get("openblas_core")) for r in runs if r["side"] == "ours"})
    text += (f"\nCPU code paths: theirs (ATen) {', '.join(paths['theirs'])}; ours {', '.join(paths['ours'])}, "
             f"OpenBLAS core {', '.join(cores)}" + (f" (forced: --isa {args.isa})" if args.isa != "native" else ""))
    if args.isa == "avx2" and (paths["theirs"] != ["AVX2"] or paths["ours"] != ["avx2"]):
        text += "\nWARNING: --isa avx2 did not take on both sides (see the CPU code paths above)"
    torch_version = next((r["result"].get("torch") for r in runs if r["side"] == "theirs"), None)
    record = {
        "schema": 1,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": {"maskdm_commit": git_commit(ROOT), "mlx": gemm.get("mlx"), "torch": torch_version,
                     "authors_commit": git_commit(args.authors) if args.authors else None},
        "settings": {"reps": args.reps, "steps": args.steps, "sample_steps": args.sample_steps,
                     "sample_batch": args.sample_batch, "sample_batches": args.sample_batches, "warmup_steps": 3, "presets": args.presets,
                     "mask_ratios": args.mask_ratios, "mask_type": "patch", "fid_batch": args.fid_batch,
                     "fid_sizes": args.fid_sizes, "fid_batches": args.fid_batches, "fid_warmup_batches": 1,
                     "torch_threads": args.threads, "taskset": args.taskset, "only": args.only,
                     "device": args.device, "their_precision": args.their_precision, "isa": args.isa,
                     "isa_environment": ISA_ENVIRONMENT.get(args.isa, {}),
                     "our_precision": args.our_precision},
        "memory_measure": "max_rss_bytes: ru_maxrss of each child process from os.wait4 (both sides); "
                          "mlx_peak_bytes: ours' MLX peak of allocated buffers",
        "loadavg_1min_median": load,
        "summary": summary,
        "table": text.splitlines(),
        "runs": runs,
    }
    os.makedirs(os.path.dirname(os.path.abspath(results_path)), exist_ok=True)
    with open(results_path, "w") as f:
        json.dump(record, f, indent=1, sort_keys=True)
        f.write("\n")
    print(text)
    print(f"\nraw numbers: {shown(results_path)}")


if __name__ == "__main__":
    main()
