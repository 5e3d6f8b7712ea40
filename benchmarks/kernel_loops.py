#!/usr/bin/env python3
"""Whether two versions of the product kernels run the same instructions in their hot loops.

Compiles sgemm_avx2.cpp and sgemm_avx512.cpp of two kernel folders as the package does (clang++,
C++20, -O3 -fno-math-errno), disassembles them, and compares, for every tile function, the opcode
sequences of its loops that hold multiply-adds (the loops over k, where the products spend their
time). A refactor of the kernels' source that keeps these sequences keeps their speed; what it changes
outside them (a tile's prologue and stores) is reported as instruction counts.

    benchmarks/kernel_loops.py OLD_KERNELS [NEW_KERNELS]   # NEW defaults to Sources/CMLX/kernels

OLD_KERNELS is a folder of kernel sources, e.g. from `git worktree add /tmp/old REV`.
Exit status 1 when a hot loop differs.
"""
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = ["sgemm_avx2.cpp", "sgemm_avx512.cpp"]


def compiler():
    for c in ("/opt/swift/usr/bin/clang++", "clang++"):
        if subprocess.run(["which", c], capture_output=True).returncode == 0 or os.path.exists(c):
            return c
    sys.exit("kernel_loops.py: no clang++ found (the Swift toolchain's, or one on PATH)")


def functions(obj):
    """{symbol: [(address, opcode, operands)]} of the object's tile functions."""
    text = subprocess.run(["objdump", "-d", "--no-show-raw-insn", obj], capture_output=True, text=True, check=True).stdout
    out, current = {}, None
    for line in text.splitlines():
        m = re.match(r"^([0-9a-f]+) <(.*)>:", line)
        if m:
            current = m.group(2) if "tile_" in m.group(2) else None
            if current:
                out[current] = []
            continue
        m = re.match(r"^\s*([0-9a-f]+):\s*(\S+)\s*(.*)", line)
        if m and current:
            out[current].append((int(m.group(1), 16), m.group(2), m.group(3)))
    return out


def hot_loops(instructions):
    """The opcode sequence of each backward branch's body that holds a multiply-add (at most 100 long)."""
    loops = []
    for address, op, operands in instructions:
        m = re.match(r"([0-9a-f]+)", operands)
        if op.startswith("j") and m and int(m.group(1), 16) < address:
            start = int(m.group(1), 16)
            body = [o for a, o, _ in instructions if start <= a <= address]
            if len(body) <= 100 and any(o.startswith("vfmadd") for o in body):
                loops.append(body)
    return loops


def build(folder, name, into):
    obj = os.path.join(into, name + ".o")
    subprocess.run([compiler(), "-std=c++20", "-O3", "-fno-math-errno", "-fPIC", "-c", os.path.join(folder, name), "-o", obj],
                   check=True)
    return functions(obj)


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    old_dir, new_dir = sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else os.path.join(ROOT, "Sources/CMLX/kernels")
    differ = False
    with tempfile.TemporaryDirectory() as tmp:
        for name in FILES:
            os.makedirs(os.path.join(tmp, "old"), exist_ok=True)
            os.makedirs(os.path.join(tmp, "new"), exist_ok=True)
            old, new = build(old_dir, name, os.path.join(tmp, "old")), build(new_dir, name, os.path.join(tmp, "new"))
            for symbol in sorted(set(old) | set(new)):
                a, b = hot_loops(old.get(symbol, [])), hot_loops(new.get(symbol, []))
                same = a == b
                differ |= not same
                demangled = subprocess.run(["c++filt", symbol], capture_output=True, text=True).stdout
                label = (re.search(r"\w+::tile_\w+", demangled) or re.search(r".*", symbol)).group(0)
                print(f"{name}: {label}: {len(a)} hot loops ({', '.join(str(len(l)) for l in a)} instructions) "
                      f"{'identical' if same else 'DIFFER: ' + ', '.join(str(len(l)) for l in b)}; "
                      f"whole function {len(old.get(symbol, []))} -> {len(new.get(symbol, []))} instructions")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
