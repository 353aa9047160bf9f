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


# What arch/arm64/include/uapi/asm/unistd.h defines before including the generic table.
ARM64_WANTS = {"__ARCH_WANT_RENAMEAT", "__ARCH_WANT_NEW_STAT", "__ARCH_WANT_SET_GET_RLIMIT",
               "__ARCH_WANT_TIME32_SYSCALLS", "__ARCH_WANT_SYS_CLONE3", "__ARCH_WANT_MEMFD_SECRET"}


def generic(tree):
    """The arm64 view of include/uapi/asm-generic/unistd.h: 64-bit, no compat."""
    defs = {}
    stack = []  # (active, taken) per open conditional

    def active():
        return all(a for a, _ in stack)

    def evaluate(cond):
        cond = re.sub(r"defined\((\w+)\)", lambda m: str(m.group(1) in ARM64_WANTS or m.group(1) in defs), cond)
        cond = cond.replace("__BITS_PER_LONG", "64").replace("&&", " and ").replace("||", " or ")
        cond = re.sub(r"!(?!=)", " not ", cond)
        return bool(eval(cond))

    with open(f"{tree}/include/uapi/asm-generic/unistd.h") as f:
        for line in f:
            line = line.split("/*")[0].strip()
            m = re.match(r"#\s*(ifdef|ifndef|if|elif|else|endif)\b\s*(.*)", line)
            if m:
                kind, arg = m.groups()
                if kind == "ifdef":
                    v = arg in ARM64_WANTS or arg in defs or arg.replace("__NR", "") in defs
                    stack.append((v, v))
                elif kind == "ifndef":
                    v = not (arg in ARM64_WANTS or arg in defs)
                    stack.append((v, v))
                elif kind == "if":
                    v = evaluate(arg)
                    stack.append((v, v))
                elif kind == "elif":
                    _, taken = stack.pop()
                    v = not taken and evaluate(arg)
                    stack.append((v, taken or v))
                elif kind == "else":
                    _, taken = stack.pop()
                    stack.append((not taken, True))
                else:
                    stack.pop()
                continue
            if not active():
                continue
            m = re.match(r"#define\s+__NR(3264)?_(\w+)\s+(\S+)", line)
            if m:
                defs[("3264" if m.group(1) else "") + m.group(2)] = m.group(3)
    out = {}
    for key, val in defs.items():
        if key.startswith("3264") or key in ("syscalls", "arch_specific_syscall"):
            continue
        seen = 0
        while not val.isdigit() and seen < 8:
            val = defs.get(val.replace("__NR3264_", "3264").replace("__NR_", ""), val)
            seen += 1
        if val.isdigit():
            out[key] = int(val)
    return out


def main():
    tree = sys.argv[1]
    a, b = x86_64(tree), generic(tree)
    for name in sorted(set(a) | set(b)):
        print(f"{name} {a.get(name, -1)} {b.get(name, -1)}")


if __name__ == "__main__":
    main()
