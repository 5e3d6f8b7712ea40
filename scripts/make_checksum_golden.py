#!/usr/bin/env python3
"""Golden SHA-256 digests (Python's hashlib, the reference) for the checksums of checkpoint files.

  make_checksum_golden.py DIR [NAME]    writes DIR/sha256_NAME.json (NAME: patterns)

Each case is a text (its UTF-8 bytes) or a length of the pattern byte[i] = (31 * i + 7) % 251, at the
lengths around SHA-256's 64-byte block and its 56-byte padding limit, and a few megabytes.
Tests/TrainingTests/FileChecksumTests.swift checks every sha256_*.json in Tests/Fixtures/golden.
"""
import hashlib
import json
import os
import sys


def pattern(n):
    return bytes((31 * i + 7) % 251 for i in range(n))


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    directory, name = sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else "patterns"
    texts = ["", "abc", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "checkpoint ✓"]
    lengths = [1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 65536, 3 * 1024 * 1024 + 17]
    cases = [{"text": t, "sha256": hashlib.sha256(t.encode()).hexdigest()} for t in texts]
    cases += [{"pattern_length": n, "sha256": hashlib.sha256(pattern(n)).hexdigest()} for n in lengths]
    document = {"reference": "Python hashlib.sha256", "pattern": "byte[i] = (31 * i + 7) % 251", "cases": cases}
    path = os.path.join(directory, f"sha256_{name}.json")
    with open(path, "w") as f:
        json.dump(document, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
