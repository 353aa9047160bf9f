#!/usr/bin/env python3
"""Lists every Linux syscall with its x86-64 and aarch64 numbers, from a kernel source tree.

Used to seed and check kernel-model/syscalls.def, whose rows are kept by hand:
    scripts/gen-syscall-names.py /path/to/linux-source-6.1
prints `name x86_64_nr aarch64_nr` (-1 where an arch lacks the call), sorted by name.
"""
import re
import sys


def x86_64(tree):
    out = {}
    with open(f"{tree}/arch/x86/entry/syscalls/syscall_64.tbl") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3 or parts[0].startswith("#"):
                continue
            nr, abi, name = int(parts[0]), parts[1], parts[2]
            if abi in ("common", "64"):
                out[name] = nr
    return out


def generic(tree):
    defs = {}
    with open(f"{tree}/include/uapi/asm-generic/unistd.h") as f:
        text = f.read()
    for m in re.finditer(r"#define\s+__NR(3264)?_(\w+)\s+(\S+)", text):
        defs[("3264" if m.group(1) else "") + m.group(2)] = m.group(3)
    out = {}
    for key, val in defs.items():
        if key.startswith("3264") or key in ("syscalls", "arch_specific_syscall"):
            continue
        while not val.isdigit():
            ref = val.replace("__NR3264_", "3264").replace("__NR_", "")
            if ref not in defs:
                break
            val = defs[ref]
        if val.isdigit():
            out[key] = int(val)
    # 64-bit names of the 32/64 pairs (fcntl, statfs, ..., mmap, fadvise64).
    for key, val in defs.items():
        if key.startswith("3264") and val.isdigit():
            name = key[4:]
            name = {"fstatat": "newfstatat", "fstat": "fstat", "mmap": "mmap"}.get(name, name)
            out.setdefault(name, int(val))
    out.pop("syscalls", None)
    return out


def main():
    tree = sys.argv[1]
    a, b = x86_64(tree), generic(tree)
    for name in sorted(set(a) | set(b)):
        print(f"{name} {a.get(name, -1)} {b.get(name, -1)}")


if __name__ == "__main__":
    main()
