#!/usr/bin/env python3
"""Seed corpora for the fuzz harnesses, made at build time from the project's examples:

  make-seeds.py RSEQEMU GUEST_DIR OUT

writes OUT/<target>/ for each harness: guest programs of both architectures and a tiny ELF for
elf and cs, schedules recorded from example runs (versions 1, 2 and 3: random, pct, a sweep's
failure files) for schedule, the start of --trace-json files of example runs for timeline, and
inputs in the harnesses' own formats for guest and cpu_opv (fuzz_guest.c, fuzz_cpu_opv.c). The
hand-written text seeds are committed in fuzz/seeds/ instead."""

import os
import shutil
import struct
import subprocess
import sys
import tempfile

ARCHES = ("x86_64", "aarch64")
ELF_GUESTS = ("cpu_opv_freestanding", "rseq_register")
CS_GUESTS = ("rseq_bugs", "percpu_counter", "lost_commit", "cpu_opv_freestanding")
TRACE_LINES = 400  # the start of a trace, enough to hold every kind of event
SCHEDULE_EVENTS = 60  # a recording's first events: the parser's cost is per line


def tiny_elf(machine):
    """The guest fuzzers' machine as a file: a code segment, a data and a read-only segment."""
    phdrs = [
        (1, 7, 0, 0x400000, 0x400000, 288, 0x5000, 0x1000),  # PT_LOAD RWX, the headers in it
        (1, 6, 0, 0x410000, 0x410000, 0, 0x4000, 0x1000),
        (1, 4, 0, 0x420000, 0x420000, 0, 0x1000, 0x1000),
        (0x6474E551, 6, 0, 0, 0, 0, 0, 16),  # PT_GNU_STACK
    ]
    eh = b"\x7fELF\x02\x01\x01" + bytes(9)
    eh += struct.pack("<HHIQQQIHHHHHH", 2, machine, 1, 0x401000, 64, 0, 0, 64, 56, len(phdrs), 0, 0, 0)
    body = eh + b"".join(struct.pack("<IIQQQQQQ", *p) for p in phdrs)
    return body


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def run(cmd):
    """Runs rseqemu; a seed that cannot be made is left out, the others are still made."""
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    return r.returncode


def guest_seeds(out):
    seeds = {}
    for a in (0, 1):
        sig = 0x53053053 if a == 0 else 0xD428BC00
        rseq_nr, getpid_nr = (334, 39) if a == 0 else (293, 172)
        raw = lambda nr, *args: bytes([0xC0]) + struct.pack("<H", nr) + bytes(args)
        seeds[f"exit-{a}"] = bytes([a])
        # rseq(GM_DATA, 32, 0, RSEQ_SIG), getpid(), then unregister with flag 1
        seeds[f"rseq-{a}"] = bytes([a]) + raw(rseq_nr, 0x20, 0x96, 0, 0xA0, 0, 0) + raw(
            getpid_nr, 0, 0, 0, 0, 0, 0) + raw(rseq_nr, 0x20, 0x96, 1, 0xA0, 0, 0)
        # cpu_opv(GM_DATA, 1, cpu 1, 0) on a vector written as data: ADD 8 bytes at GM_DATA+256
        op = struct.pack("<iIQQBB6x", 4, 8, 0x410100, 1, 0, 0)
        seeds[f"cpu_opv-{a}"] = bytes([a, 0x60 | 31, 0]) + op + raw(1000, 0x20, 1, 1, 0, 0, 0)
        # code: x86 xor eax,eax / aarch64 movz x0,#0; then a syscall of the table
        code = b"\x31\xc0\x90" if a == 0 else b"\x00\x00\x80\xd2"
        seeds[f"code-{a}"] = bytes([a, len(code) - 1]) + code + bytes([0x80, 3, 0, 0x20, 0x96, 0, 0, 0, 0])
    for name, data in seeds.items():
        write(os.path.join(out, "guest", name), data)


def cpu_opv_seeds(out):
    def op(kind, length, sel0, off0, sel1, off1, faults=0):
        return bytes([kind & 0xFF]) + struct.pack("<H", length) + bytes([sel0, off0, sel1, off1, faults])

    for a in (0, 1):
        ops = {
            "add": [op(4, 8, 0x24, 0, 0x01, 0)],
            "memcpy-compare": [op(2, 16, 0x24, 0, 0x25, 0), op(0, 16, 0x24, 0, 0x25, 0)],
            "ne-add": [op(1, 4, 0x24, 0, 0x26, 0), op(5, 4, 0x27, 0, 0x02, 0)],
            "fault": [op(2, 8, 0x60, 0, 0x24, 0, 3)],
            "readonly": [op(3, 8, 0x40, 0, 0x24, 0, 1)],
        }
        for name, vec in ops.items():
            vec = vec + [op(0, 0, 0, 0, 0, 0)] * (4 - len(vec))
            header = bytes([a, len([v for v in vec if v[1:3] != b"\0\0"]), 1, 0, 0, 0])
            write(os.path.join(out, "cpu_opv", f"{name}-{a}"), header + b"".join(vec) + bytes(64))
        write(os.path.join(out, "cpu_opv", f"flags-{a}"), bytes([a, 0, 0, 1, 0, 0]) + bytes(32))


def truncate_schedule(path):
    if not os.path.exists(path):
        return
    with open(path, "rb") as f:
        lines = f.readlines()
    events = lines.index(b"events\n") + 1 if b"events\n" in lines else 0
    with open(path, "wb") as f:
        f.writelines(lines[: events + SCHEDULE_EVENTS])


def main():
    rseqemu, guests, out = sys.argv[1:4]
    shutil.rmtree(out, ignore_errors=True)
    for a, machine in (("x86_64", 62), ("aarch64", 183)):
        write(os.path.join(out, "elf", f"tiny-{a}"), tiny_elf(machine))
        write(os.path.join(out, "cs", f"tiny-{a}"), tiny_elf(machine))
        for target, names in (("elf", ELF_GUESTS), ("cs", CS_GUESTS)):
            for name in names:
                src = os.path.join(guests, a, name)
                if os.path.exists(src):
                    shutil.copy(src, os.path.join(out, target, f"{name}-{a}"))
    guest_seeds(out)
    cpu_opv_seeds(out)

    sched, trace = os.path.join(out, "schedule"), os.path.join(out, "timeline")
    os.makedirs(sched, exist_ok=True)
    os.makedirs(trace, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for a in ARCHES:
            prog = lambda n: os.path.join(guests, a, n)
            runs = [
                ("percpu_counter", ["--cpus", "2"]),
                ("ledger", ["--policy", "pct", "--pct-depth", "2", "--pct-steps", "50", "--seed", "44"]),
                ("opv_counter", ["--cpus", "3", "--offline", "2"]),
                ("rseq_bugs", ["signature"]),
                ("signals", ["--policy", "round-robin"]),
            ]
            for i, (name, opts) in enumerate(runs):
                if not os.path.exists(prog(name)):
                    continue
                args = [o for o in opts if o == "signature"]
                opts = [o for o in opts if o != "signature"]
                rec = os.path.join(sched, f"{name}-{a}-{i}.sched")
                tj = os.path.join(tmp, "t.json")
                run([rseqemu, "run", "--quiet", "--max-insns", "3000000", "--record", rec,
                     "--trace-json", tj, *opts, "--", prog(name), *args])
                truncate_schedule(rec)
                if os.path.exists(tj):
                    with open(tj, "rb") as f:
                        lines = f.readlines()
                    keep = lines[:TRACE_LINES] + lines[-1:] if len(lines) > TRACE_LINES else lines
                    write(os.path.join(trace, f"{name}-{a}-{i}.jsonl"), b"".join(keep))
            # version 3: a sweep's failure files (stall, swap, pick)
            sweep_out = os.path.join(tmp, f"sweep-{a}")
            if os.path.exists(prog("lost_commit")):
                run([rseqemu, "sweep", "--no-progress", "--out", sweep_out, prog("lost_commit")])
                for f in sorted(os.listdir(sweep_out))[:6] if os.path.isdir(sweep_out) else []:
                    shutil.copy(os.path.join(sweep_out, f), os.path.join(sched, f"sweep-{a}-{f}"))


if __name__ == "__main__":
    main()
