#!/usr/bin/env python3
"""End-to-end checks of the rseqemu command line; tests/e2e/CMakeLists.txt runs one case per
ctest test. Every case runs the emulator as a user would and checks its exit status, its
stdout and a distinctive line on stderr, printing a diff (or the whole output) on failure.

    e2e.py --rseqemu BIN --guests DIR --source DIR CASE [ARGS...]

Exit status: 0 pass, 1 fail, 77 skipped (a prerequisite of the case is missing).
"""
import argparse
import difflib
import json
import math
import os
import platform
import re
import signal
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

MAX_INSNS = 2_000_000_000  # every run gets a budget, so a runaway guest cannot hang the suite
RUN_TIMEOUT = 120          # seconds, a second guard behind --max-insns
SKIP = 77

# Set from the command line in main().
RSEQEMU: Path
GUESTS: Path
SOURCE: Path


class Failure(Exception):
    pass


class Skip(Exception):
    pass


@dataclass
class Result:
    argv: list
    status: int
    stdout: bytes
    stderr: bytes

    @property
    def err(self) -> str:
        return self.stderr.decode(errors="replace")

    @property
    def out(self) -> str:
        return self.stdout.decode(errors="replace")

    def describe(self) -> str:
        return (f"command: {' '.join(map(str, self.argv))}\nexit status: {self.status}\n"
                f"--- stdout ---\n{clip(self.out)}--- stderr ---\n{clip(self.err)}")


def clip(text: str, limit: int = 4000) -> str:
    if len(text) > limit:
        text = text[:limit] + f"\n[... {len(text) - limit} more characters]\n"
    return text if text.endswith("\n") or not text else text + "\n"


def no_core_dumps():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run(argv, native=False, timeout=RUN_TIMEOUT) -> Result:
    """Runs argv; a native process killed by signal N reports 128+N, as a shell would."""
    try:
        p = subprocess.run([str(a) for a in argv], stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout, preexec_fn=no_core_dumps if native else None)
    except subprocess.TimeoutExpired:
        raise Failure(f"timed out after {timeout}s: {' '.join(map(str, argv))}")
    status = 128 - p.returncode if p.returncode < 0 else p.returncode
    return Result(list(argv), status, p.stdout, p.stderr)


def emu(*args, max_insns=MAX_INSNS, options=(), timeout=RUN_TIMEOUT) -> Result:
    """rseqemu run --max-insns N [options] ARGS..."""
    return run([RSEQEMU, "run", "--max-insns", str(max_insns), *options, *args], timeout=timeout)


def guest(arch: str, name: str) -> Path:
    path = GUESTS / arch / name
    if not path.is_file():
        raise Failure(f"guest program {path} is missing: build it first")
    return path


# ---- checks ----------------------------------------------------------------------------------

def expect_status(r: Result, status: int):
    if r.status != status:
        raise Failure(f"exit status {r.status}, expected {status}\n{r.describe()}")


def expect_stdout(r: Result, expected: bytes, what: str = "expected"):
    if r.stdout == expected:
        return
    diff = difflib.unified_diff(expected.decode(errors="replace").splitlines(keepends=True),
                                r.out.splitlines(keepends=True), what, "actual stdout")
    raise Failure(f"stdout differs from {what}:\n{clip(''.join(diff))}{r.describe()}")


def expect_stdout_matches(r: Result, pattern: bytes):
    """stdout matches the regular expression pattern (bytes, multi-line)."""
    if not re.search(pattern, r.stdout, re.MULTILINE):
        raise Failure(f"stdout does not match /{pattern.decode()}/\n{r.describe()}")


def expect_stderr(r: Result, pattern: str, count: int = None):
    """stderr matches the regular expression pattern (exactly count times if given)."""
    n = len(re.findall(pattern, r.err, re.MULTILINE))
    if n == 0 or (count is not None and n != count):
        want = f"exactly {count} time(s)" if count is not None else "at least once"
        raise Failure(f"stderr matches /{pattern}/ {n} time(s), expected {want}\n{r.describe()}")


def expect_quiet(r: Result):
    """A guest that exits normally gets no report from rseqemu."""
    if r.stderr:
        raise Failure(f"unexpected output on stderr\n{r.describe()}")


def digest_of(r: Result) -> str:
    found = re.findall(r"^digest: ([0-9a-f]{16})$", r.err, re.MULTILINE)
    if len(found) != 1:
        raise Failure(f"expected one 'digest: <16 hex>' line on stderr\n{r.describe()}")
    return found[0]


# ---- cases -----------------------------------------------------------------------------------

def case_example(arch, name, seed, cpus, expected, status, *args):
    """An example's stdout equals its expected file and its exit status matches."""
    r = emu(guest(arch, name), *args, options=["--seed", seed, "--cpus", cpus])
    expect_stdout(r, Path(expected).read_bytes(), expected)
    expect_status(r, int(status))
    if int(status) == 0:
        expect_quiet(r)


def case_native(name, status, *args):
    """x86-64 only: the same program natively and under rseqemu --cpus $(nproc)."""
    ncpus = len(os.sched_getaffinity(0))
    if name == "affinity" and ncpus != os.cpu_count():
        raise Skip(f"the host's affinity mask ({ncpus} CPUs) is not every online CPU")
    if ncpus > 64:
        raise Skip(f"{ncpus} host CPUs, rseqemu models at most 64")
    if name.startswith("rseq_"):
        release = tuple(int(x) for x in re.findall(r"\d+", os.uname().release)[:2])
        if release < (6, 3):
            raise Skip(f"the host runs Linux {os.uname().release}; the model's default is 6.18")
    prog = guest("x86_64", name)
    r = emu(prog, *args, options=["--cpus", ncpus])
    # The host kernel preempts these programs where the model does not, and a preemption is
    # visible to them. rseq_register makes its rseq area read-only for three syscalls (spec 9.1
    # vector 16), so a host preemption there kills it with SIGSEGV (vector 41): rare, rerun it.
    # rseq_membarrier's child process C spins in a section that every host preemption aborts,
    # which on a loaded host is likely during vector 56's window however often it is rerun:
    # natively, C's answer says nothing about the fence, so only the model's is read (and
    # test_membarrier checks it is "no").
    for _ in range(5 if name == "rseq_register" else 1):
        native = run([prog, *args], native=True)
        if native.stdout == r.stdout and native.status == r.status:
            break
    if name == "rseq_membarrier":
        model_c = re.search(rb"C aborted by it: (yes|no)", r.stdout)
        if model_c:
            native.stdout = re.sub(rb"C aborted by it: (yes|no)", model_c.group(0),
                                   native.stdout)
    expect_status(native, int(status))
    expect_stdout(r, native.stdout, "native stdout")
    expect_status(r, native.status)


def case_determinism(arch, name):
    """The same seed twice: byte-identical stdout and the same digest."""
    for seed, cpus in [(1, 1), (3, 2), (5, 4), (2, 8)]:
        opts = ["--seed", seed, "--cpus", cpus, "--digest"]
        first, second = emu(guest(arch, name), options=opts), emu(guest(arch, name), options=opts)
        expect_status(first, 0)
        expect_stdout(second, first.stdout, f"the first run with --seed {seed} --cpus {cpus}")
        expect_status(second, first.status)
        if digest_of(first) != digest_of(second):
            raise Failure(f"--seed {seed} --cpus {cpus}: digests differ: {digest_of(first)} "
                          f"then {digest_of(second)}\n{first.describe()}{second.describe()}")


def case_racy_spread(arch):
    """The racy counter: seeds 1..5 give >= 3 distinct digests and >= 2 distinct totals."""
    digests, totals = set(), set()
    for seed in range(1, 6):
        r = emu(guest(arch, "racy"), options=["--seed", seed, "--cpus", 4, "--digest"])
        expect_status(r, 0)
        m = re.fullmatch(rb"counter = (\d+) of 800000\n", r.stdout)
        if not m:
            raise Failure(f"unexpected output\n{r.describe()}")
        digests.add(digest_of(r))
        totals.add(int(m[1]))
        print(f"seed {seed}: counter {int(m[1])}, digest {digest_of(r)}")
    if len(digests) < 3 or len(totals) < 2:
        raise Failure(f"seeds 1..5 gave {len(digests)} distinct digests (want >= 3) and "
                      f"{len(totals)} distinct totals {sorted(totals)} (want >= 2)")


def case_missing_program():
    r = emu("/nonexistent/rseqemu-e2e-program")
    expect_status(r, 66)
    expect_stderr(r, r"^rseqemu: /nonexistent/rseqemu-e2e-program: cannot open")


def case_text_file(tmp):
    text = tmp / "notes.txt"
    text.write_text("this is not a program\n")
    r = emu(text)
    expect_status(r, 65)
    expect_stderr(r, r"notes\.txt: not an ELF file")


def truncated_copy(tmp, size_of) -> Path:
    data = guest("x86_64", "hello").read_bytes()
    cut = tmp / "hello.truncated"
    cut.write_bytes(data[:size_of(len(data))])
    return cut


def case_truncated(tmp):
    """Half of hello: the program header is intact, the segments are cut."""
    r = emu(truncated_copy(tmp, lambda n: n // 2))
    expect_status(r, 65)
    expect_stderr(r, r"hello\.truncated: truncated ELF file")


def case_truncated_header(tmp):
    """40 bytes: the ELF header itself is cut."""
    r = emu(truncated_copy(tmp, lambda n: 40))
    expect_status(r, 65)
    expect_stderr(r, r"hello\.truncated: truncated ELF file")


def case_truncated_ident(tmp):
    """10 bytes: cut inside e_ident; the class byte says 64-bit, the file is just short."""
    r = emu(truncated_copy(tmp, lambda n: 10))
    expect_status(r, 65)
    expect_stderr(r, r"hello\.truncated: truncated")


def case_dynamic(tmp):
    gcc = shutil.which("gcc")
    if not gcc:
        raise Skip("no gcc on the host to build a dynamically linked program")
    dyn = tmp / "dyn"
    built = run([gcc, "-o", dyn, SOURCE / "examples" / "hello.c"])
    if built.status != 0:
        raise Skip(f"gcc could not build a dynamic program\n{built.describe()}")
    r = emu(dyn)
    expect_status(r, 69)
    expect_stderr(r, r"dyn: dynamically linked")


def case_other_machine(tmp):
    """hello with e_machine patched to RISC-V (243)."""
    data = bytearray(guest("x86_64", "hello").read_bytes())
    data[18:20] = (243).to_bytes(2, "little")
    riscv = tmp / "hello.riscv"
    riscv.write_bytes(data)
    r = emu(riscv)
    expect_status(r, 69)
    expect_stderr(r, r"hello\.riscv: unsupported machine RISC-V")


def case_deadlock(arch):
    """Two threads wait on a condition variable nobody signals; main joins one of them."""
    for cpus in (1, 4):
        r = emu(guest(arch, "deadlock"), options=["--cpus", cpus])
        expect_status(r, 125)
        expect_stdout(r, b"two waiters started; joining one\n")
        expect_stderr(r, r"^rseqemu: deadlock: every thread is blocked", count=1)
        blocked = set(re.findall(r"^rseqemu:\s+tid (\d+) .*blocked", r.err, re.MULTILINE))
        if len(blocked) != 3:
            raise Failure(f"the report names {len(blocked)} blocked threads, expected 3 "
                          f"(main and two waiters)\n{r.describe()}")


def case_runaway(arch):
    r = emu(guest(arch, "spin_forever"), max_insns=1_000_000)
    expect_status(r, 124)
    expect_stdout(r, b"spinning\n")
    expect_stderr(r, r"instruction budget of 1000000 exhausted", count=1)
    expect_stderr(r, r"ended after 1000000 instructions$", count=1)


def case_unsupported_syscall(arch):
    r = emu(guest(arch, "unsupported_syscall"))
    expect_status(r, 0)
    expect_stdout(r, b"io_setup call 1: returned -1, errno 38 (ENOSYS)\n"
                     b"io_setup call 2: returned -1, errno 38 (ENOSYS)\n")
    expect_stderr(r, r"\bio_setup\b", count=1)
    expect_stderr(r, r"^rseqemu: unsupported syscall io_setup ", count=1)


def case_segv(arch):
    r = emu(guest(arch, "segv"))
    expect_status(r, 139)
    expect_stdout(r, b"dereferencing NULL\n")
    expect_stderr(r, r"^rseqemu: .*killed by SIGSEGV")


def case_exit_code(arch):
    """A guest's exit status passes through: from main, from another thread, modulo 256."""
    for args, status in [((), 42), (("7", "thread"), 7), (("300",), 300 % 256), (("0",), 0)]:
        r = emu(guest(arch, "exit_code"), *args)
        expect_status(r, status)
        expect_stdout(r, f"exiting with {args[0] if args else 42}\n".encode())
        expect_quiet(r)


def big_pattern(size: int) -> bytes:
    """tests/guests/big_output.c's pattern."""
    return bytes((i * 7 + (i >> 8)) & 0xFF for i in range(size))


def case_passthrough(arch):
    """1 MiB on stdout and 100000 bytes on stderr, every byte value, writes of 1 B..64 KiB."""
    r = emu(guest(arch, "big_output"))
    expect_status(r, 0)
    for name, got, want in [("stdout", r.stdout, big_pattern(1 << 20)),
                            ("stderr", r.stderr, big_pattern(100000))]:
        if got != want:
            at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b),
                      min(len(got), len(want)))
            raise Failure(f"{name}: {len(got)} bytes, expected {len(want)}; first difference "
                          f"at byte {at}: got {got[at:at + 16].hex()}, "
                          f"expected {want[at:at + 16].hex()}")


def crash_run(tmp, arch, kind, event):
    """rseqemu run with RSEQEMU_CRASH_TEST: rseqemu fails on purpose at the given event."""
    record = Path(tmp) / "crash.sched"
    argv = [RSEQEMU, "run", "--max-insns", str(MAX_INSNS), "--seed", "7", "--record", record,
            guest(arch, "threads")]
    env = dict(os.environ, RSEQEMU_CRASH_TEST=f"{kind}:{event}")
    p = subprocess.run([str(a) for a in argv], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=RUN_TIMEOUT, env=env, preexec_fn=no_core_dumps)
    status = 128 - p.returncode if p.returncode < 0 else p.returncode
    return Result(argv, status, p.stdout, p.stderr), record


def case_crash_report(tmp, arch, kind):
    """kernel-model/crash.h: a failure of rseqemu itself (an assertion of the engine library,
    an abort of the model, a fault) ends with rseqemu's report and status 70, never a bare
    signal, and the recording up to there is on disk."""
    r, record = crash_run(tmp, arch, kind, 40)
    expect_status(r, 70)
    expect_stderr(r, r"^rseqemu: internal error: SIG(ABRT|SEGV) ", count=1)
    expect_stderr(r, r"^  command: rseqemu run .*--seed 7 .*threads$", count=1)
    expect_stderr(r, rf"^  machine: {arch}, seed 7, --kernel 6\.18, 4 CPUs, \d+ instructions, "
                     r"40 events$", count=1)
    expect_stderr(r, r"^    #\d+ (syscall|switch|clone|wake|block|preempt) thread \d+ at \d+ on CPU "
                     r"\d", None)
    expect_stderr(r, rf"recorded in {re.escape(str(record))} ", count=1)
    if kind == "engine":
        expect_stderr(r, r"phys_section_add: Assertion", count=1)
    if not record.read_text().startswith("rseqemu-schedule"):
        raise Failure(f"the recording was not flushed:\n{record.read_text()[:400]}")


def case_crash_test_malformed():
    env = dict(os.environ, RSEQEMU_CRASH_TEST="explode")
    p = subprocess.run([str(RSEQEMU), "run", str(guest("x86_64", "hello"))], capture_output=True,
                       env=env, timeout=RUN_TIMEOUT)
    r = Result([RSEQEMU, "run"], p.returncode, p.stdout, p.stderr)
    expect_status(r, 64)
    expect_stderr(r, r"RSEQEMU_CRASH_TEST must be", count=1)


def case_max_mem(tmp, arch):
    """--max-mem: a guest that touches 1 GiB under a 256 MiB cap is killed as by the OOM killer
    (SIGKILL, status 137) with a report naming the cap, and rseqemu itself never holds much more
    than the cap; a mapping larger than the cap gets ENOMEM (overcommit's heuristic); the cap is
    recorded, and the replay ends the same way."""
    record = Path(tmp) / "oom.sched"
    r = emu(guest(arch, "mem_hog"), "touch", "1024", "64",
            options=("--max-mem", "256M", "--record", record))
    expect_status(r, 137)
    expect_stderr(r, r"^rseqemu: out of memory: the guest's memory use reached --max-mem 256 MiB; "
                     r"process \d+ killed by SIGKILL", count=1)
    if not r.out.endswith("192 MiB in use\n"):
        raise Failure(f"the guest should fill 3 chunks of 64 MiB, not 4\n{r.describe()}")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak_kib > (256 + 64) * 1024:
        raise Failure(f"rseqemu's peak RSS was {peak_kib} KiB under a 256 MiB cap")
    if "\nmax-mem 268435456\n" not in record.read_text():
        raise Failure("the recording does not hold the cap")
    rr = run([RSEQEMU, "replay", record])
    expect_status(rr, 137)
    expect_stdout(rr, r.stdout, "the recorded run's stdout")
    big = emu(guest(arch, "mem_hog"), "map", "300", options=("--max-mem", "256M"))
    expect_status(big, 1)
    expect_stdout(big, b"mmap of 300 MiB: Cannot allocate memory\n")
    fits = emu(guest(arch, "mem_hog"), "touch", "200", "50", options=("--max-mem", "256M"))
    expect_status(fits, 0)
    bad = emu(guest(arch, "hello"), options=("--max-mem", "lots"))
    expect_status(bad, 64)
    expect_stderr(bad, r"--max-mem must be a size such as 256M", count=1)


def case_many_maps(arch):
    """Mappings as Linux keeps them (spec 7.9): 20,000 one-page mappings that cannot merge are
    made, checked and unmapped; adjacent ones of one kind merge into one; mapping until mmap
    fails stops at 65,531 mappings in all with ENOMEM (vm.max_map_count is 65,530 and
    do_mmap() refuses only above it), as natively on x86-64, and unmapping them all leaves the
    mappings the process started with; memory spread too far gets ENOMEM with a notice."""
    r = emu(guest(arch, "many_maps"), "20000")
    expect_status(r, 0)
    expect_stdout(r, b"mapped, checked and unmapped 20000 pages\n")
    merge = emu(guest(arch, "many_maps"), "merge", "300")
    expect_status(merge, 0)
    expect_stdout(merge, b"300 adjacent pages added 1 mappings\n")
    limit = emu(guest(arch, "many_maps"), "limit")
    expect_status(limit, 0)
    expect_stdout_matches(limit, rb"^mapping \d+ failed: Cannot allocate memory\n"
                                 rb"started with (\d+) mappings, made \d+, 65531 in all\n"
                                 rb"unmapped them all: \1 mappings left\n$")
    if arch == "x86_64" and platform.machine() == "x86_64":
        native = run([guest(arch, "many_maps"), "limit"], native=True)
        expect_status(native, 0)
        expect_stdout_matches(native, rb"65531 in all\n")
    # Memory spread over more gigabytes than rseqemu gives the engine regions for: ENOMEM
    # and a notice, never the engine's own limit (its region table aborts past about 1,000).
    spread = emu(guest(arch, "many_maps"), "spread", "600")
    expect_status(spread, 0)
    expect_stdout_matches(spread, rb"^mapping \d+ failed: Cannot allocate memory\n"
                                  rb"mapped 5[01]\d gigabytes apart\n$")
    expect_stderr(spread, r"^rseqemu: notice: the guest's memory is spread over more than 512 "
                          r"windows", count=1)


def case_segv_pc(arch):
    """A synchronous SIGSEGV's frame PC is the faulting instruction (checked natively first)."""
    r = emu(guest(arch, "segv_pc"))
    expect_stdout(r, b"load fault: frame PC is the faulting instruction: yes\n"
                     b"store fault repaired: the increment before it ran once\n",
                  "what a native run prints")
    expect_status(r, 0)


def case_unknown_option():
    r = emu(guest("x86_64", "hello"), options=["--no-such-option"])
    expect_status(r, 64)
    expect_stderr(r, r"unknown option '--no-such-option'")


def case_no_command():
    r = run([RSEQEMU])
    expect_status(r, 64)
    expect_stderr(r, r"^usage: rseqemu <command>")


def case_no_program():
    r = emu()
    expect_status(r, 64)
    expect_stderr(r, r"no program given")


def case_version():
    r = run([RSEQEMU, "--version"])
    expect_status(r, 0)
    if not re.fullmatch(rb"rseqemu \d+\.\d+\.\d+\n", r.stdout):
        raise Failure(f"expected 'rseqemu X.Y.Z' on stdout\n{r.describe()}")




# ---- the Linux 6.1 and 6.12 rseq selftests (spec 8), built by scripts/build-selftests -------

# run_param_test.sh's configurations (spec 8.6), the same in both trees.
PARAM_TESTS = [["-T", "s"], ["-T", "l"], ["-T", "b"], ["-T", "b", "-M"], ["-T", "m"],
               ["-T", "m", "-M"], ["-T", "i"], ["-T", "r"]]
# The programs run_param_test.sh's do_tests runs for each configuration, per tree: 6.12 adds
# the builds that index their per-CPU data by mm_cid (spec 3) instead of the CPU number.
PARAM_PROGRAMS = {
    "6.1": ("param_test", "param_test_compare_twice"),
    "6.12": ("param_test", "param_test_compare_twice", "param_test_mm_cid",
             "param_test_mm_cid_compare_twice"),
}
# Where scripts/build-selftests puts each tree's programs, under the guests' selftests/.
SELFTEST_TREE_DIRS = {"6.1": ".", "6.12": "6.12"}
SELFTEST_CPUS = 4
SELFTEST_MAX_INSNS = 20_000_000_000
# basic_percpu_ops_test's 200 threads yield to each other some 20 million times: about a
# minute on one host core, more on a loaded one.
SELFTEST_TIMEOUT = 540


def selftest(arch: str, name: str, tree: str = "6.1") -> Path:
    path = GUESTS / "selftests" / SELFTEST_TREE_DIRS[tree] / arch / name
    if not path.is_file():
        raise Skip(f"{path} is missing: the rseq selftests are built from linux-source-{tree} "
                   "(scripts/setup installs it)")
    return path


def stat_of(r: Result, name: str) -> int:
    found = re.findall(rf"^stat {name} (\d+)$", r.err, re.MULTILINE)
    if len(found) != 1:
        raise Failure(f"expected one 'stat {name}' line on stderr\n{r.describe()}")
    return int(found[0])


def run_selftest(arch, name, *args, seed=1, tree="6.1", options=()) -> Result:
    r = emu(selftest(arch, name, tree), *args, max_insns=SELFTEST_MAX_INSNS,
            timeout=SELFTEST_TIMEOUT,
            options=["--stats", "--cpus", SELFTEST_CPUS, "--seed", seed, *options])
    expect_status(r, 0)
    return r


def expect_aborts(r: Result, what: str):
    """Each run of a selftest with critical sections must see them aborted; Linux's `-T r` has
    no aarch64 implementation in either tree, says so and passes without a section."""
    if "is not implemented on this architecture" in r.err:
        return
    if stat_of(r, "rseq_aborts") == 0:
        raise Failure(f"{what}: no critical section was aborted\n{r.describe()}")


def case_selftest(arch, name, *args, tree="6.1"):
    """One selftest program passes; the ones with critical sections see them aborted."""
    r = run_selftest(arch, name, *args, tree=tree)
    if name != "basic_test":
        expect_aborts(r, name)


def case_selftest612(arch, name, *args):
    """case_selftest for a program of the 6.12 tree."""
    case_selftest(arch, name, *args, tree="6.12")


def case_selftest_param(arch, reps, *args, tree="6.1"):
    """Every configuration of run_param_test.sh with ARGS, for each program its do_tests runs,
    with 6 threads per CPU and REPS repetitions (spec 8.5, 8.6). Each passes, and each sees its
    critical sections aborted."""
    threads = str(6 * SELFTEST_CPUS)
    for config in PARAM_TESTS:
        for name in PARAM_PROGRAMS[tree]:
            r = run_selftest(arch, name, *config, "-r", reps, "-t", threads, *args, tree=tree)
            expect_aborts(r, f"{name} {' '.join(config)} {' '.join(args)}")


def case_selftest612_param(arch, reps, *args):
    """case_selftest_param for the 6.12 tree: param_test, param_test_compare_twice,
    param_test_mm_cid and param_test_mm_cid_compare_twice."""
    case_selftest_param(arch, reps, *args, tree="6.12")


def case_selftest612_benchmark(arch, reps):
    """6.12's benchmark builds (no delay loops, no verbose output: -DBENCHMARK), indexed by CPU
    and by mm_cid, in every configuration: each passes and sees its sections aborted."""
    threads = str(6 * SELFTEST_CPUS)
    for config in PARAM_TESTS:
        for name in ("param_test_benchmark", "param_test_mm_cid_benchmark"):
            r = run_selftest(arch, name, *config, "-r", reps, "-t", threads, tree="6.12")
            expect_aborts(r, f"{name} {' '.join(config)}")


def case_selftest612_many_maps(tmp, arch):
    """param_test_mm_cid's buffer and memcpy tests allocate a buffer of 800 KiB for each of
    CPU_SETSIZE (1024) slots, each its own mmap: with guest memory in one engine region per
    mapping this passed Unicorn's limit on sections (phys_section_add's assertion killed
    rseqemu on aarch64). Every such run passes, and the program really maps that much."""
    for name in ("param_test_mm_cid", "param_test_mm_cid_compare_twice"):
        for config in (["-T", "b"], ["-T", "b", "-M"], ["-T", "m"], ["-T", "m", "-M"]):
            run_selftest(arch, name, *config, "-r", "200", "-t", "8", tree="6.12")
    trace = tmp / "trace.jsonl"
    run_selftest(arch, "param_test_mm_cid", "-T", "b", "-r", "200", "-t", "8", tree="6.12",
                 options=["--trace-json", trace])
    maps = sum(1 for line in trace.open() if '"mmap"' in line and '"syscall"' in line)
    if maps < 1000:
        raise Failure(f"{maps} mmap calls in {trace}, expected more than 1000")


# rseq_bugs MODE under default options: exit status, the diagnostic, and the total if it lives.
RSEQ_BUGS = {
    "syscall": (139, r"^rseqemu: rseq debug: tid \d+ made syscall getpid inside a critical section "
                     r"\(descriptor 0x[0-9a-f]+: start 0x[0-9a-f]+ <add_with_syscall\+0x[0-9a-f]+>"
                     r".*; SIGSEGV, as with CONFIG_DEBUG_RSEQ$"),
    "signature": (139, r"^rseqemu: rseq: tid \d+ gets SIGSEGV: signature before abort_ip does not "
                       r"match \(at 0x[0-9a-f]+, value 0xbadc0de;.* <add_bad_signature\+"),
    "abort-inside": (139, r"^rseqemu: rseq: tid \d+ gets SIGSEGV: abort_ip inside the critical "
                          r"section .* <add_abort_inside\+"),
    "field-write": (0, r"^rseqemu: rseq debug: tid \d+'s rseq area field cpu_id \(0x[0-9a-f]+\) "
                       r"holds 42 \(0x2a\) but the kernel wrote \d+: user space must not write it;"
                       r".*\(--rseq-watch names the instruction\)$"),
}


def case_rseq_bug(arch, mode):
    """examples/rseq_bugs: each wrong use of rseq is caught with its own diagnostic and the
    outcome Linux gives it (spec 2.3, 2.4, 2.7), under several seeds."""
    status, pattern = RSEQ_BUGS[mode]
    for seed in (1, 2, 3):
        r = emu(guest(arch, "rseq_bugs"), mode, options=["--seed", seed])
        expect_status(r, status)
        expect_stderr(r, pattern, count=1)
        if status == 0:
            expect_stdout(r, f"{mode}: total = 100000 of 100000\n".encode())
        else:
            expect_stderr(r, r"^rseqemu: tid \d+ killed by SIGSEGV at ")


def case_rseq_bug_report(arch):
    """--rseq-debug report: the syscall inside a section is reported, capped, and the program
    completes as it does on a kernel without DEBUG_RSEQ (spec 2.7)."""
    r = emu(guest(arch, "rseq_bugs"), "syscall", options=["--rseq-debug", "report", "--stats"])
    expect_status(r, 0)
    expect_stdout(r, b"syscall: total = 100000 of 100000\n")
    expect_stderr(r, r"made syscall getpid inside a critical section .*syscall returns to "
                     r"0x[0-9a-f]+ <add_with_syscall\+0x[0-9a-f]+>: [^;]*$", count=8)
    expect_stderr(r, r"^rseqemu: rseq debug: further reports suppressed", count=1)
    if stat_of(r, "rseq_syscalls_in_cs") < 100000:
        raise Failure(f"every one of the 100000 sections makes its syscall\n{r.describe()}")
    r = emu(guest(arch, "rseq_bugs"), "syscall", options=["--rseq-debug", "off"])
    expect_status(r, 0)
    expect_quiet(r)


def case_rseq_bug_watch(arch):
    """--rseq-watch names the instruction that wrote a kernel-owned field (spec 2.10)."""
    store = {"x86_64": r"mov dword ptr \[r\w+ \+ 4\], 0x2a",
             "aarch64": r"str w\d+, \[x\d+, #4\]"}[arch]
    r = emu(guest(arch, "rseq_bugs"), "field-write", options=["--rseq-watch"])
    expect_status(r, 0)
    expect_stderr(r, r"field cpu_id .* holds 42 .*; written by the instruction at 0x[0-9a-f]+ "
                     rf"<add_after_field_write\+0x[0-9a-f]+>: {store}$", count=1)


def case_percpu_aborts(arch):
    """examples/percpu_counter loses nothing while its sections are aborted (spec 2.3)."""
    for cpus in (1, 2, 4):
        r = emu(guest(arch, "percpu_counter"), options=["--cpus", cpus, "--stats"])
        expect_status(r, 0)
        expect_stdout(r, b"total = 200000 of 200000\n")
        if stat_of(r, "rseq_aborts") == 0:
            raise Failure(f"no critical section was aborted\n{r.describe()}")


# ---- schedules: record and replay ----------------------------------------------------------

def program_path(arch, name) -> Path:
    """A guest, or "selftest/NAME" ("selftest612/NAME") for one of the Linux 6.1 (6.12) rseq
    selftests."""
    if name.startswith("selftest/"):
        return selftest(arch, name.split("/", 1)[1])
    if name.startswith("selftest612/"):
        return selftest(arch, name.split("/", 1)[1], "6.12")
    return guest(arch, name)


def events_of(path: Path) -> list:
    lines = path.read_text().splitlines()
    return lines[lines.index("events") + 1:]


def record_and_replay(tmp, prog, args, options, budget=MAX_INSNS) -> Path:
    """Records a run with options, replays it, and checks the replay: the same stdout, exit
    status and digest, and its own recording holds the same events. Returns the recording."""
    rec, again = tmp / "run.sched", tmp / "replay.sched"
    first = emu(prog, *args, max_insns=budget, timeout=SELFTEST_TIMEOUT,
                options=[*options, "--digest", "--record", rec])
    replay = run([RSEQEMU, "replay", "--digest", "--record", again, rec],
                 timeout=SELFTEST_TIMEOUT)
    what = " ".join(map(str, options))
    expect_stdout(replay, first.stdout, f"the recorded run's stdout ({what})")
    expect_status(replay, first.status)
    if digest_of(replay) != digest_of(first):
        raise Failure(f"{what}: digests differ: recorded {digest_of(first)}, replayed "
                      f"{digest_of(replay)}\n{first.describe()}{replay.describe()}")
    if events_of(rec) != events_of(again):
        raise Failure(f"{what}: the replay recorded other events than {rec}")
    return rec


def case_record_replay(tmp, arch, name, *args):
    """A run recorded under each policy (pct with its default depth and steps) replays exactly:
    the same stdout, exit status and digest, and the replay's own recording holds the same
    events (README "Schedule files")."""
    prog = program_path(arch, name)
    budget = SELFTEST_MAX_INSNS if name.startswith(("selftest/", "selftest612/")) else MAX_INSNS
    for policy, seed, cpus in (("random", 1, 4), ("random", 3, 2), ("round-robin", 1, 3),
                               ("pct", 2, 2)):
        record_and_replay(tmp, prog, args, ["--policy", policy, "--seed", seed, "--cpus", cpus],
                          budget)


# (--pct-depth, --pct-steps, --seed, --cpus): few steps, so that change points land; one CPU,
# where the bound holds, and several, where picks interleave with the other CPUs' runs. Seeds
# 44 and 9 show examples/ledger's bug on x86-64 and aarch64.
PCT_RECORDINGS = [(3, 60, 1, 1), (2, 50, 44, 1), (2, 50, 9, 1), (4, 100, 2, 2), (3, 200, 3, 4)]


def case_record_replay_pct(tmp, arch, name, *args):
    """Runs recorded under --policy pct replay exactly (README "Policies"), pick events and
    all; at least one of them needs a pick to replay."""
    prog = program_path(arch, name)
    picks = 0
    for depth, steps, seed, cpus in PCT_RECORDINGS:
        rec = record_and_replay(tmp, prog, args,
                                ["--policy", "pct", "--pct-depth", depth, "--pct-steps", steps,
                                 "--seed", seed, "--cpus", cpus])
        if not rec.read_text().startswith("rseqemu-schedule 2\n"):
            raise Failure(f"a pct recording is not version 2:\n{clip(rec.read_text())}")
        picks += sum(" pick " in line for line in events_of(rec))
    if picks == 0:
        raise Failure(f"no pct recording of {name} holds a pick event")


# Programs with an ordering bug for pct: threads (main included), what a run without the bug
# prints, and what a run that shows it prints (exit status 1).
PCT_BUGS = {
    "ledger": (3, rb"audit found 1000 of 1000\n",
               rb"audit found \d+ of 1000: it ran between a debit and its credit\n"),
}
PCT_MAX_INSNS = 50_000_000


def pct_outcome(r: Result, name: str) -> bool:
    """Whether a run of name showed its bug; anything else than its two outcomes fails."""
    _, fine, bug = PCT_BUGS[name]
    if r.status == 0 and re.fullmatch(fine, r.stdout):
        return False
    if r.status == 1 and re.fullmatch(bug, r.stdout):
        return True
    raise Failure(f"neither the bug nor a clean run\n{r.describe()}")


def pct_seeds(name, depth, steps) -> int:
    """B = ceil(n k^(d-1)): the seeds over which PCT's bound expects a bug of depth d among the
    n threads of name to show at least once, if the program makes at most k steps."""
    return math.ceil(PCT_BUGS[name][0] * int(steps) ** (int(depth) - 1))


def case_pct_finds(tmp, arch, name, depth, steps):
    """PCT's bound (README "Policies"): a bug of depth d among n threads of a program that makes
    at most k steps shows in one run on one CPU with probability at least 1/(n k^(d-1)). So over
    B = ceil(n k^(d-1)) seeds the expected number of runs that show it is at least 1; seeds
    1..B must show it at least once (every run's stat pct_steps must be at most k, or the bound
    does not apply). Every run that shows it, recorded, replays exactly; some through a pick
    event, which pointed at a thread that never ran is refused."""
    prog = guest(arch, name)
    n, d, k = PCT_BUGS[name][0], int(depth), int(steps)
    runs = pct_seeds(name, d, k)
    found, most_steps = [], 0
    for seed in range(1, runs + 1):
        r = emu(prog, max_insns=PCT_MAX_INSNS,
                options=["--policy", "pct", "--pct-depth", d, "--pct-steps", k, "--cpus", 1,
                         "--seed", seed, "--stats"])
        most_steps = max(most_steps, stat_of(r, "pct_steps"))
        if pct_outcome(r, name):
            found.append(seed)
    print(f"pct --pct-depth {d} --pct-steps {k}: B = ceil({n}*{k}^{d - 1}) = {runs} seeds, "
          f"at most {most_steps} steps; the bug shows with seeds {found}")
    if most_steps > k:
        raise Failure(f"a run made {most_steps} steps, more than --pct-steps {k}: the bound "
                      "does not hold")
    if not found:
        raise Failure(f"pct never showed the bug in {runs} seeds")
    picked = None
    for seed in found:
        rec = record_and_replay(tmp, prog, [], ["--policy", "pct", "--pct-depth", d,
                                                "--pct-steps", k, "--cpus", 1, "--seed", seed],
                                PCT_MAX_INSNS)
        picks = [line for line in events_of(rec) if " pick " in line]
        if picks and not picked:
            picked = (rec.read_text(), picks[0])
    if not picked:
        raise Failure(f"no run that showed the bug needed a pick event (seeds {found})")
    bad = tmp / "bad.sched"
    text, pick = picked
    bad.write_text(text.replace(pick, re.sub(r"pick \d+$", "pick 999", pick), 1))
    r = run([RSEQEMU, "replay", bad])
    expect_status(r, 65)
    expect_stderr(r, r"^rseqemu: schedule line \d+: \d+:\d+ pick: thread 999 is not runnable on "
                     r"CPU 0 here$", count=1)


def case_pct_rr_misses(arch, name, depth, steps):
    """Round-robin over the seeds of case_pct_finds, on one CPU, and on 2, 4 and 8 CPUs, never
    shows the bug that pct finds."""
    prog = guest(arch, name)
    runs = pct_seeds(name, depth, steps)
    for seed in range(1, runs + 1):
        r = emu(prog, max_insns=PCT_MAX_INSNS,
                options=["--policy", "round-robin", "--cpus", 1, "--seed", seed])
        if pct_outcome(r, name):
            raise Failure(f"round-robin showed the bug with --seed {seed}\n{r.describe()}")
    for cpus in (2, 4, 8):
        r = emu(prog, max_insns=PCT_MAX_INSNS, options=["--policy", "round-robin", "--cpus", cpus])
        if pct_outcome(r, name):
            raise Failure(f"round-robin showed the bug with --cpus {cpus}\n{r.describe()}")
    print(f"round-robin: never, over seeds 1..{runs} on one CPU and on 2, 4 and 8 CPUs")


def write(tmp, text) -> Path:
    path = tmp / "hand.sched"
    path.write_text(text)
    return path


def case_schedule_refusals(tmp):
    """Schedule files that cannot be replayed are refused with the line and the reason, exit
    65 (66 for a missing file), and the guest never runs with a wrong one."""
    hello = guest("x86_64", "hello")
    rec = tmp / "hello.sched"
    insns = stat_of(emu(hello, options=["--record", rec, "--stats"]), "insns")
    header = rec.read_text()
    v2 = header.replace("rseqemu-schedule 1\n", "rseqemu-schedule 2\n", 1)
    digit = re.search(r"^program-hash (\w)", header, re.MULTILINE)
    other_hash = header.replace(digit.group(0), "program-hash " + "01"[digit.group(1) == "0"], 1)
    # (file, stderr, whether the guest runs: an event is known to be impossible only at the end)
    cases = [
        (other_hash, r"is not the one recorded \(program-hash", False),
        (header + "999:10 preempt\n", r"^rseqemu: schedule line \d+: 999:10 preempt: no thread "
                                      r"999 ran$", True),
        (header + "100:99999999999 preempt\n", r"schedule line \d+: .*thread 100 stopped after \d+ instructions, before this",
         True),
        (header.replace("cpus 4", "cpus 4x"), r"line \d+: cpus: '4x' is not a number", False),
        (header + "100:5 fly\n", r"line \d+: unknown event 'fly'", False),
        ("rseqemu-schedule 1\nevents\n", r"no 'program' line", False),
        (header + "100:10 pick 101\n", r"line \d+: pick needs 'rseqemu-schedule 2'", False),
        (v2 + "100:10 pick 101\n", r"^rseqemu: schedule line \d+: 100:10 pick: the thread does "
                                   r"not leave its CPU here$", False),
        # hello's only thread leaves its CPU when it exits: nothing runs there after it.
        (v2 + f"100:{insns} pick 101\n", r"schedule line \d+: 100:\d+ pick: the run ended "
                                         r"before CPU 0 ran another thread$", True),
    ]
    for text, pattern, runs in cases:
        r = run([RSEQEMU, "replay", write(tmp, text)])
        expect_status(r, 65)
        expect_stderr(r, pattern)
        if bool(r.stdout) != runs:
            raise Failure(f"the guest {'did not run' if runs else 'ran'}\n{r.describe()}")
    r = run([RSEQEMU, "replay", tmp / "missing.sched"])
    expect_status(r, 66)
    expect_stderr(r, r"missing.sched: No such file")


def case_schedule_script(tmp, arch):
    """run --policy script takes a hand-written schedule: the events happen (a signal at an
    exact position kills the guest there) and the gaps are round-robin."""
    text = "rseqemu-schedule 1\nevents\n100:5000 signal SIGUSR1\n"
    r = emu(guest(arch, "threads"), options=["--policy", "script", "--schedule",
                                             write(tmp, text), "--digest"])
    expect_status(r, 128 + signal.SIGUSR1)
    expect_stderr(r, r"^rseqemu: pid 100 killed by SIGUSR1")
    expect_stderr(r, r"ended after 5000 instructions")
    again = emu(guest(arch, "threads"), options=["--policy", "script", "--schedule",
                                                 write(tmp, text), "--digest"])
    if digest_of(again) != digest_of(r):
        raise Failure("the same schedule twice gave two digests")
    r = emu(guest(arch, "threads"), options=["--policy", "script"])
    expect_status(r, 64)


# ---- traces ------------------------------------------------------------------------------

def trace_lines(path: Path) -> list:
    events = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise Failure(f"{path} line {n} is not JSON: {e}: {line[:200]}")
    return events


def check_perfetto(path: Path, cpus: int) -> list:
    """The Chrome trace-event format as Perfetto UI and chrome://tracing read it: an object
    with a traceEvents array of complete (X), instant (i) and metadata (M) events; a vCPU's
    complete events never overlap."""
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise Failure(f"{path} is not JSON: {e}")
    if not isinstance(doc, dict) or not isinstance(doc.get("traceEvents"), list):
        raise Failure(f"{path}: no traceEvents array")
    spans, names = {}, set()
    for ev in doc["traceEvents"]:
        ok = (isinstance(ev.get("name"), str) and ev.get("ph") in ("X", "i", "M")
              and isinstance(ev.get("pid"), int))
        if ok and ev["ph"] != "M":
            ok = (isinstance(ev.get("tid"), int) and isinstance(ev.get("ts"), (int, float))
                  and ev["ts"] >= 0)
        if ok and ev["ph"] == "X":
            ok = isinstance(ev.get("dur"), (int, float)) and ev["dur"] >= 0
            spans.setdefault(ev["tid"], []).append((ev["ts"], ev["ts"] + ev["dur"]))
        if ok and ev["ph"] == "i":
            ok = ev.get("s") in ("t", "p", "g")
        if ok and ev["ph"] == "M":
            ok = isinstance(ev.get("args"), dict)
            if ev["name"] == "thread_name":
                names.add(ev["args"].get("name"))
        if not ok:
            raise Failure(f"{path}: not a trace event: {ev}")
    if names != {f"vCPU {c}" for c in range(cpus)}:
        raise Failure(f"{path}: vCPU tracks {sorted(names)}, expected {cpus}")
    for cpu, lst in spans.items():
        lst.sort()
        for (a0, a1), (b0, b1) in zip(lst, lst[1:]):
            if b0 < a1 - 1e-6:
                raise Failure(f"{path}: vCPU {cpu} runs two threads at once: {a0}-{a1}, {b0}-{b1}")
    if not spans:
        raise Failure(f"{path}: no thread ever ran")
    return doc["traceEvents"]


def case_trace(tmp, arch):
    """--trace, --trace-json and --perfetto observe a run without changing it (same stdout and
    digest); the log shows syscalls as strace does and aborts with their instruction and
    descriptor; the Perfetto file is valid trace-event JSON (README "Traces")."""
    prog = guest(arch, "percpu_counter")
    plain = emu(prog, options=["--cpus", 2, "--digest"])
    jl, pf = tmp / "t.jsonl", tmp / "t.perfetto.json"
    traced = emu(prog, options=["--cpus", 2, "--digest", "--trace", "--trace-json", jl,
                                "--perfetto", pf])
    expect_status(traced, 0)
    expect_stdout(traced, plain.stdout, "the untraced run's stdout")
    if digest_of(traced) != digest_of(plain):
        raise Failure(f"tracing changed the run: {digest_of(plain)} -> {digest_of(traced)}")
    events = trace_lines(jl)
    if events[0]["ev"] != "start" or events[0]["arch"] != arch or events[0]["cpus"] != 2:
        raise Failure(f"the trace does not start with the run's description: {events[0]}")
    if events[-1]["ev"] != "end" or events[-1]["outcome"] != "exited":
        raise Failure(f"the trace does not end with the run's outcome: {events[-1]}")
    calls = [e["call"] for e in events if e["ev"] == "syscall"]
    if 'write(1, "total = 200000 of 200000\\n", 25) = 25' not in calls:
        raise Failure("no strace-like write(1, \"total...\", 25) = 25 in " + repr(calls[-8:]))
    if not any(re.fullmatch(r"rseq\(0x[0-9a-f]+, 32, 0, 0x[0-9a-f]+\) = 0", c) for c in calls):
        raise Failure("glibc's rseq registration is not in the trace")
    aborts = [e for e in events if e["ev"] == "rseq_abort"]
    if not aborts:
        raise Failure("no abort in the trace")
    for a in aborts:
        ip, start = int(a["ip"], 16), int(a["cs_start"], 16)
        if not (a["ip_sym"].startswith("worker+0x") and a["ip_insn"] and 0 <= ip - start < 64
                and a["cs_insn"] >= 0 and a["why"] in ("preempt", "migrate", "signal", "ipi")):
            raise Failure(f"an abort without its instruction or descriptor: {a}")
    text = [l for l in traced.err.splitlines() if re.search(r"\brseq_abort\b", l)]
    if len(text) != len(aborts) or not re.search(r"ip=0x[0-9a-f]+ <worker\+0x[0-9a-f]+> \(.+\) "
                                                  r"abort_ip=", text[0]):
        raise Failure(f"--trace shows {len(text)} aborts, JSON {len(aborts)}: {text[:1]}")
    marks = [e for e in check_perfetto(pf, 2) if e["ph"] == "i" and e["name"] == "rseq abort"]
    if len(marks) != len(aborts):
        raise Failure(f"{len(marks)} abort marks in the Perfetto file, {len(aborts)} aborts")


def case_exact_abort(tmp, arch):
    """A hand-written schedule that preempts a thread at a chosen instruction of a critical
    section aborts the section at exactly that instruction, as the trace shows (spec 2.3). The
    position comes from a recording of --inject-at under round-robin, which the hand-written
    file (round-robin between its events) reproduces."""
    prog = guest(arch, "percpu_counter")
    jl = tmp / "random.jsonl"
    emu(prog, options=["--cpus", 2, "--trace-json", jl])
    seen = {}
    for a in trace_lines(jl):
        if a["ev"] == "rseq_abort":
            seen.setdefault(int(a["ip"], 16), a)
    ips = sorted(seen)
    if len(ips) < 2:
        raise Failure(f"the random run aborted at {len(ips)} distinct instructions")
    for target in (ips[0], ips[len(ips) // 2], ips[-1]):
        want = seen[target]
        rec = tmp / "rr.sched"
        emu(prog, options=["--cpus", 2, "--policy", "round-robin", "--inject-at",
                           f"preempt@{target:#x}", "--record", rec])
        preempts = [l for l in events_of(rec) if l.endswith(" preempt")]
        if len(preempts) != 1:
            raise Failure(f"{rec} holds {preempts}, expected one preemption")
        tid, pos = (int(x) for x in preempts[0].split()[0].split(":"))
        hand = write(tmp, f"rseqemu-schedule 1\n# preempt tid {tid} at {want['ip_sym']}\n"
                          f"cpus 2\nevents\n{tid}:{pos} preempt\n")
        out = tmp / "hand.jsonl"
        r = emu(prog, options=["--cpus", 2, "--policy", "script", "--schedule", hand,
                               "--trace-json", out, "--stats"])
        expect_status(r, 0)
        expect_stdout(r, b"total = 200000 of 200000\n")
        if stat_of(r, "rseq_aborts") != 1:
            raise Failure(f"{stat_of(r, 'rseq_aborts')} aborts, expected exactly one\n"
                          f"{r.describe()}")
        events = trace_lines(out)
        pre = [e for e in events if e["ev"] == "preempt"]
        ab = [e for e in events if e["ev"] == "rseq_abort"]
        if len(pre) != 1 or (pre[0]["tid"], pre[0]["insns"], int(pre[0]["ip"], 16)) != \
                (tid, pos, target):
            raise Failure(f"preempted at {pre}, expected tid {tid} at {pos}, {target:#x}")
        a = ab[0]
        if (a["tid"], a["insns"], int(a["ip"], 16), a["ip_insn"], a["cs_insn"], a["why"]) != \
                (tid, pos, target, want["ip_insn"], want["cs_insn"], "preempt"):
            raise Failure(f"aborted {a}, expected tid {tid} at {pos}: {want['ip_sym']} "
                          f"({want['ip_insn']}), instruction {want['cs_insn']} of its section")


def case_timeline(tmp, arch):
    """rseqemu timeline draws a trace as SVG: a lane per vCPU, spans of the threads that ran,
    marks for aborts and signals, the sections aborts cut short shaded."""
    svg_ns = "{http://www.w3.org/2000/svg}"
    for prog, cpus, mark in (("percpu_counter", 2, "abort"), ("signals", 3, "signal")):
        jl, svg = tmp / f"{prog}.jsonl", tmp / f"{prog}.svg"
        expect_status(emu(guest(arch, prog), options=["--cpus", cpus, "--trace-json", jl]), 0)
        r = run([RSEQEMU, "timeline", jl, "-o", svg, "--to", "400"])
        expect_status(r, 0)
        try:
            root = ET.parse(svg).getroot()
        except ET.ParseError as e:
            raise Failure(f"{svg} is not XML: {e}")
        texts = [t.text for t in root.iter(svg_ns + "text")]
        lanes = [t for t in texts if t and re.fullmatch(r"vCPU \d+", t)]
        if lanes != [f"vCPU {c}" for c in range(cpus)]:
            raise Failure(f"{svg}: lanes {lanes}, expected {cpus}")
        spans = [t.text for t in root.iter(svg_ns + "title") if t.text.startswith("tid ")
                 and " on vCPU " in t.text]
        marks = [g for g in root.iter(svg_ns + "g") if g.get("class") == mark]
        if not spans or len(marks) < 2:  # the legend draws one of each
            raise Failure(f"{svg}: {len(spans)} thread spans, {len(marks) - 1} {mark} marks")
        if prog == "percpu_counter":
            shaded = [e for e in root.iter(svg_ns + "rect") if e.get("fill") == "url(#cs)"]
            if len(shaded) < 2:
                raise Failure(f"{svg}: no critical section shaded")


def case_timeline_input(tmp):
    """timeline refuses what it cannot draw: a line that is not a trace event (65, with the
    line), an empty trace (65), a missing file (66), no -o (64)."""
    cases = [('{"ev":"start","t":0,"cpus":1}\nnot json\n', 65, r"bad.jsonl: line 2: "),
             ('{"ev":"start","t":0}\n{"t":5}\n', 65, r"line 2: not a trace event"),
             ('{"ev":"switch","cpu":99,"tid":1,"t":5}\n', 65, r"line 1: cpu 99 is out of range"),
             ("", 65, r"the trace is empty")]
    for text, status, pattern in cases:
        path = tmp / "bad.jsonl"
        path.write_text(text)
        r = run([RSEQEMU, "timeline", path, "-o", tmp / "out.svg"])
        expect_status(r, status)
        expect_stderr(r, pattern)
    r = run([RSEQEMU, "timeline", tmp / "missing.jsonl", "-o", tmp / "out.svg"])
    expect_status(r, 66)
    r = run([RSEQEMU, "timeline", tmp / "bad.jsonl"])
    expect_status(r, 64)
    expect_stderr(r, r"-o FILE.svg is required")


# ---- rseqemu cs: the critical sections a program declares ----------------------------------

# What readelf says of a program, to check rseqemu cs against a tool that shares nothing with it.
@dataclass
class ElfSection:
    name: str
    addr: int
    offset: int
    size: int
    flags: str
    nobits: bool


def tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise Skip(f"{name} is not installed")
    return path


def readelf_sections(path: Path) -> dict:
    out = run([tool("readelf"), "-SW", path]).out
    found = {}
    for m in re.finditer(r"^\s*\[\s*\d+\]\s+(\S+)\s+(\S+)\s+([0-9a-f]{16})\s+([0-9a-f]+)\s+"
                         r"([0-9a-f]+)\s+[0-9a-f]+\s+([A-Za-z]*)\s+\d+\s+\d+\s+\d+$", out,
                         re.MULTILINE):
        found[m[1]] = ElfSection(m[1], int(m[3], 16), int(m[4], 16), int(m[5], 16), m[6],
                                 m[2] == "NOBITS")
    if not found:
        raise Failure(f"readelf -SW {path} listed no sections")
    return found


def readelf_functions(path: Path) -> list:
    """(address, size, name) of every sized function symbol."""
    out = run([tool("readelf"), "-sW", path]).out
    return [(int(m[1], 16), int(m[2], 0), m[3])
            for m in re.finditer(r"^\s*\d+:\s+([0-9a-f]{16})\s+(\S+)\s+FUNC\s+\S+\s+\S+\s+\S+\s+"
                                 r"(\S+)$", out, re.MULTILINE) if int(m[2], 0) > 0]


class ElfFile:
    """A program's bytes and sections, as readelf describes them."""

    def __init__(self, path: Path):
        self.path = path
        self.data = path.read_bytes()
        self.sections = readelf_sections(path)
        self.functions = readelf_functions(path)

    def section_at(self, addr: int):
        for s in self.sections.values():
            if "A" in s.flags and "T" not in s.flags and s.addr <= addr < s.addr + s.size:
                return s
        return None

    def read(self, addr: int, size: int):
        s = self.section_at(addr)
        if not s or s.nobits or addr + size > s.addr + s.size:
            return None
        return self.data[s.offset + addr - s.addr:s.offset + addr - s.addr + size]

    def names(self, addr: int) -> set:
        """What rseqemu may call addr: func+0x1c for each function holding it, else
        section+0x1c."""
        found = {f"{name}+{addr - a:#x}" if addr != a else name
                 for a, size, name in self.functions if a <= addr < a + size}
        s = self.section_at(addr)
        return found or ({f"{s.name}+{addr - s.addr:#x}"} if s else {"?"})

    def declared(self) -> list:
        """(descriptor address, (version, flags, start_ip, post_commit_offset, abort_ip))."""
        ptrs = self.sections.get("__rseq_cs_ptr_array")
        if ptrs:
            addrs = [int.from_bytes(self.data[ptrs.offset + i:ptrs.offset + i + 8], "little")
                     for i in range(0, ptrs.size - ptrs.size % 8, 8)]
        else:
            cs = self.sections["__rseq_cs"]
            addrs = list(range(cs.addr, cs.addr + cs.size - cs.size % 32, 32))
        return [(a, struct.unpack("<IIQQQ", self.read(a, 32))) for a in addrs]


def objdump_insns(arch: str, path: Path, start: int, end: int) -> list:
    """Instruction addresses objdump finds in [start, end)."""
    objdump = tool("objdump" if arch == "x86_64" else "aarch64-linux-gnu-objdump")
    r = run([objdump, "-d", "--no-show-raw-insn", f"--start-address={start:#x}",
             f"--stop-address={end:#x}", path])
    return [int(m[1], 16) for m in re.finditer(r"^\s+([0-9a-f]+):\s", r.out, re.MULTILINE)]


def cs(*args) -> Result:
    """rseqemu cs ARGS...: it runs no guest, so it takes no instruction budget."""
    return run([RSEQEMU, "cs", *args])


@dataclass
class Listed:
    """One descriptor of rseqemu cs's listing."""
    index: int
    addr: int
    version: int
    flags: int
    lines: dict          # start|commit|abort -> (address, name, rest of the line)
    code: list           # (address, name, text)
    handler: list
    warnings: list


def parse_listing(r: Result) -> list:
    listed, where = [], None
    for line in r.out.splitlines():
        m = re.fullmatch(r"\[(\d+)\] descriptor 0x([0-9a-f]+) \([^)]*\)  (?:version (\d+)  "
                         r"flags 0x([0-9a-f]+)|not in the file)", line)
        if m:
            listed.append(Listed(int(m[1]), int(m[2], 16), int(m[3] or -1), int(m[4] or "0", 16),
                                 {}, [], [], []))
            continue
        m = re.fullmatch(r"    (start|commit|abort) +0x([0-9a-f]+)  (\S+)(.*)", line)
        if m:
            listed[-1].lines[m[1]] = (int(m[2], 16), m[3], m[4])
            continue
        if line in ("    code:", "    abort handler:"):
            where = listed[-1].code if line == "    code:" else listed[-1].handler
            continue
        m = re.fullmatch(r"      0x([0-9a-f]+)  (\S+):  (.*)", line)
        if m:
            where.append((int(m[1], 16), m[2], m[3]))
            continue
        m = re.fullmatch(r"warning: \[(\d+)\] descriptor 0x[0-9a-f]+: (.*)", line)
        if m:
            listed[int(m[1])].warnings.append(m[2])
    return listed


SIGNATURES = {"x86_64": 0x53053053, "aarch64": 0xd428bc00}

# The warnings rseqemu cs gives a program's sections, by the function of their start_ip
# (examples/rseq_bugs.c): exactly one each; every other section has none.
CS_WARNINGS = {
    "rseq_bugs": {
        "add_bad_signature": r"signature 0x0badc0de at 0x[0-9a-f]+, before abort_ip, is not "
                             r"RSEQ_SIG 0x{sig:08x}: the first abort kills the thread",
        "add_abort_inside": r"abort_ip 0x{abort:x} is inside the section \[0x{start:x}, "
                            r"0x{commit:x}\): the kernel kills the thread",
    },
}


def case_cs_listing(arch, name):
    """rseqemu cs lists every section the program declares, with the addresses, symbols and
    instruction boundaries readelf and objdump give, and warns about the bad ones only."""
    path = program_path(arch, name)
    prog = path.name
    elf = ElfFile(path)
    declared = elf.declared()
    r = cs(path)
    describe = r.describe()
    expected_warnings = CS_WARNINGS.get(prog, {})
    expect_status(r, 1 if expected_warnings else 0)
    expect_quiet(r)
    n = len(declared)
    header = f"{prog}: {n} critical section{'s' if n != 1 else ''} (from __rseq_cs_ptr_array)\n"
    if not r.out.startswith(header):
        raise Failure(f"expected the listing to start with {header!r}\n{describe}")
    listed = parse_listing(r)
    if len(listed) != n:
        raise Failure(f"{len(listed)} descriptors listed, readelf finds {n}\n{describe}")
    flawed = 0
    for (addr, (version, flags, start, offset, abort)), got in zip(declared, listed):
        what = f"[{got.index}] descriptor {addr:#x}"
        commit = start + offset
        if (got.addr, got.version, got.flags) != (addr, version, flags):
            raise Failure(f"{what}: listed as {got.addr:#x} version {got.version} flags "
                          f"{got.flags:#x}; the file says version {version} flags {flags:#x}\n"
                          f"{describe}")
        for field, want in (("start", start), ("commit", commit), ("abort", abort)):
            at, sym, _ = got.lines[field]
            if at != want or sym not in elf.names(want):
                raise Failure(f"{what}: {field} {at:#x} {sym}, expected {want:#x} one of "
                              f"{sorted(elf.names(want))}\n{describe}")
        func = elf.names(start).pop().split("+")[0]
        sig = SIGNATURES[arch]
        pattern = expected_warnings.get(func)
        if pattern:
            flawed += 1
            pattern = pattern.format(sig=sig, abort=abort, start=start, commit=commit)
            if len(got.warnings) != 1 or not re.fullmatch(pattern, got.warnings[0]):
                raise Failure(f"{what} in {func}: warnings {got.warnings}, expected one "
                              f"matching /{pattern}/\n{describe}")
            continue
        if got.warnings:
            raise Failure(f"{what} in {func}: unexpected warnings {got.warnings}\n{describe}")
        if not got.lines["abort"][2].endswith(f"signature {sig:#010x} ok"):
            raise Failure(f"{what}: expected 'signature {sig:#010x} ok'\n{describe}")
        insns = objdump_insns(arch, path, start, commit)
        count = re.fullmatch(r"  \((\d+) instructions?\)", got.lines["commit"][2])
        if [a for a, _, _ in got.code] != insns or not count or int(count[1]) != len(insns):
            raise Failure(f"{what}: code at {[hex(a) for a, _, _ in got.code]} "
                          f"({got.lines['commit'][2].strip()}); objdump finds "
                          f"{[hex(a) for a in insns]}\n{describe}")
        for a, sym, _ in got.code + got.handler:
            if sym not in elf.names(a):
                raise Failure(f"{what}: instruction {a:#x} named {sym}, expected one of "
                              f"{sorted(elf.names(a))}\n{describe}")
        if not got.handler or got.handler[0][0] != abort:
            raise Failure(f"{what}: the abort handler's listing does not start at {abort:#x}\n"
                          f"{describe}")
    summary = (f"{flawed} of {n} critical section{'s' if n != 1 else ''} with warnings" if flawed
               else "the critical section is well formed" if n == 1 else "all are well formed")
    if not r.out.endswith(f"\n\n{summary}\n"):
        raise Failure(f"expected the listing to end with {summary!r}\n{describe}")


def case_cs_no_sections(arch):
    """Programs without sections, static or static-PIE, declare none and are fine."""
    for name in ("hello", "hello_pie"):
        r = cs(guest(arch, name))
        expect_stdout(r, f"{name}: no critical sections declared\n".encode())
        expect_status(r, 0)
        expect_quiet(r)


def case_cs_static_pie(arch):
    """A static-PIE program's sections hold addresses it relocates when it starts: refused
    with 69 and a message saying why, not listed wrong."""
    r = cs(guest(arch, "percpu_counter_pie"))
    expect_status(r, 69)
    expect_stdout(r, b"")
    expect_stderr(r, r"^rseqemu cs: .*percpu_counter_pie: a static-PIE program: the addresses "
                     r"of the critical sections it declares \(1 entry of __rseq_cs_ptr_array\) "
                     r"are relocated when it starts", count=1)


def patch(data: bytearray, offset: int, fmt: str, *values):
    data[offset:offset + struct.calcsize(fmt)] = struct.pack(fmt, *values)


def section_header_offset(data: bytes, name: str) -> int:
    """File offset of the section header of section name (64-bit little-endian ELF)."""
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)
    strtab_off, = struct.unpack_from("<Q", data, shoff + shstrndx * shentsize + 24)
    for i in range(shnum):
        hdr = shoff + i * shentsize
        name_off, = struct.unpack_from("<I", data, hdr)
        start = strtab_off + name_off
        if data[start:data.index(b"\0", start)] == name.encode():
            return hdr
    raise Failure(f"no section {name}")


def case_cs_patched(tmp, arch):
    """percpu_counter with its one descriptor, its pointer or its section headers broken in a
    copy: each break gets its warnings and exit 1, and nothing crashes."""
    path = guest(arch, "percpu_counter")
    elf = ElfFile(path)
    ptrs, descs = elf.sections["__rseq_cs_ptr_array"], elf.sections["__rseq_cs"]
    (addr, (_, _, start, offset, abort)), = elf.declared()
    desc = descs.offset + addr - descs.addr
    data_addr = elf.sections[".data"].addr
    variants = [
        # (what, patches as (offset, format, values...), expected warnings)
        ("version 1, flags 0x9", [(desc, "<II", 1, 9)],
         [r"version 1: the kernel accepts only 0, .*",
          r"flags 0x1: NO_RESTART_ON_PREEMPT, deprecated since Linux 6\.0, .*",
          r"unknown flag bits 0x8: .*"]),
        ("post_commit_offset wraps", [(desc + 16, "<Q", 2**64 - 16)],
         [rf"start_ip {start:#x} \+ post_commit_offset 0xfffffffffffffff0 wraps around"]),
        ("abort_ip in .data", [(desc + 24, "<Q", data_addr + 0x100)],
         [rf"abort_ip {data_addr + 0x100:#x} is not in an executable section",
          rf"signature 0x[0-9a-f]{{8}} at {data_addr + 0xfc:#x}, before abort_ip, .*"]),
        ("start_ip in .data", [(desc + 8, "<Q", data_addr)],
         [rf"start_ip {data_addr:#x} is not in an executable section"]),
        ("null pointer", [(ptrs.offset, "<Q", 0)],
         [r"its 32 bytes are not in one loaded section of the file"]),
        # 8 bytes into __rseq_cs, whose 32 bytes end there: the rest is in another section.
        ("misaligned pointer", [(ptrs.offset, "<Q", addr + 8)],
         [r"its 32 bytes are not in one loaded section of the file",
          r"not 32-byte aligned \(0x8 bytes past a boundary\)"]),
    ]
    hdr = section_header_offset(elf.data, "__rseq_cs_ptr_array")
    variants += [
        ("pointer array beyond the file", [(hdr + 24, "<Q", len(elf.data) + 4096)], []),
        ("pointer array with 4 trailing bytes", [(hdr + 32, "<Q", 12)], []),
    ]
    section_warnings = {
        "pointer array beyond the file":
            r"^warning: __rseq_cs_ptr_array: its bytes are not in the file$",
        "pointer array with 4 trailing bytes":
            r"^warning: __rseq_cs_ptr_array: 0x4 bytes after its last whole entry$",
    }
    for what, patches, warnings in variants:
        data = bytearray(elf.data)
        for off, fmt, *values in patches:
            patch(data, off, fmt, *values)
        broken = tmp / "percpu_counter"
        broken.write_bytes(data)
        r = cs(broken)
        describe = f"{what}:\n{r.describe()}"
        if r.status != 1:
            raise Failure(f"exit status {r.status}, expected 1\n{describe}")
        expect_quiet(r)
        if what in section_warnings:
            if not re.search(section_warnings[what], r.out, re.MULTILINE):
                raise Failure(f"expected /{section_warnings[what]}/\n{describe}")
            continue
        got = parse_listing(r)[0].warnings
        if len(got) != len(warnings) or not all(
                re.fullmatch(p, w) for p, w in zip(warnings, got)):
            raise Failure(f"warnings {got}, expected ones matching {warnings}\n{describe}")
        if "with warnings" not in r.out.splitlines()[-1]:
            raise Failure(f"the summary does not count the warnings\n{describe}")


def case_cs_bad_input(tmp):
    """rseqemu cs refuses what it cannot read with run's exit codes and messages, and its
    command line like every command's."""
    text = tmp / "notes.txt"
    text.write_text("this is not a program\n")
    half, head = truncated_copy(tmp, lambda n: n // 2), tmp / "hello.head"
    head.write_bytes(guest("x86_64", "hello").read_bytes()[:40])
    cases = [
        (["/nonexistent/rseqemu-e2e-program"], 66,
         r"^rseqemu: /nonexistent/rseqemu-e2e-program: cannot open"),
        ([text], 65, r"notes\.txt: not an ELF file"),
        ([half], 65, r"hello\.truncated: truncated ELF file"),
        ([head], 65, r"hello\.head: truncated ELF file"),
        ([], 64, r"^rseqemu cs: expected one program"),
        ([half, half], 64, r"^rseqemu cs: expected one program"),
        (["--no-such-option", half], 64, r"unknown option '--no-such-option'"),
    ]
    for args, status, pattern in cases:
        r = cs(*args)
        expect_status(r, status)
        expect_stdout(r, b"")
        expect_stderr(r, pattern, count=1)
    r = cs("--help")
    expect_status(r, 0)
    if not r.out.startswith("usage: rseqemu cs [options] PROG\n"):
        raise Failure(f"rseqemu cs --help prints no usage\n{r.describe()}")
    r = run([RSEQEMU, "--help"])
    if not re.search(r"^  cs PROG +list the rseq critical sections", r.out, re.MULTILINE):
        raise Failure(f"rseqemu --help does not list cs\n{r.describe()}")


# ---- cpu_opv -------------------------------------------------------------------------------

def case_cpu_opv_nr(tmp, arch):
    """cpu_opv's syscall number (spec 5.1, README "cpu_opv"): 1000 by default, --cpu-opv-nr N
    moves it and off removes it (ENOSYS); anything else is a usage error. A recording keeps the
    number in its header and the replay uses it."""
    prog = guest(arch, "cpu_opv_vectors")
    other = 335 if arch == "x86_64" else 295  # the RFC's numbers (spec 5.1)
    for options, nr, result in (((), 1000, 6), (("--cpu-opv-nr", "off"), 1000, -38),
                                (("--cpu-opv-nr", 0), 1000, -38),
                                (("--cpu-opv-nr", other), other, 6),
                                (("--cpu-opv-nr", other), 1000, -38)):
        r = emu(prog, "nr", nr, options=list(options))
        expect_status(r, 0)
        expect_stdout(r, f"nr {nr}: NR_FLAG = {result}\n".encode(), f"{options} nr {nr}")
    for bad in ("-1", "on", "2147483648", ""):
        r = emu(prog, "nr", 1000, options=["--cpu-opv-nr", bad])
        expect_status(r, 64)
        expect_stderr(r, r"^rseqemu run: --cpu-opv-nr must be a number", count=1)
    for value in (other, "off"):
        rec = tmp / "run.sched"
        first = emu(prog, "nr", other, options=["--cpu-opv-nr", value, "--digest", "--record", rec])
        if f"cpu-opv-nr {value}" not in rec.read_text().splitlines():
            raise Failure(f"no 'cpu-opv-nr {value}' line in the recording:\n{rec.read_text()}")
        replay = run([RSEQEMU, "replay", "--digest", rec])
        expect_stdout(replay, first.stdout, f"the recorded run's stdout (--cpu-opv-nr {value})")
        if digest_of(replay) != digest_of(first):
            raise Failure(f"--cpu-opv-nr {value}: the replay's digest differs")


def case_cpu_opv_trace(tmp, arch):
    """The trace of spec 9.5 vectors 62b and 74 (README "cpu_opv"): each vector to CPU 2 is a
    cpu_opv record naming its target, its operations, the thread it interrupted and its
    result, after the "ipi" event of that thread on CPU 2, whose section then aborts."""
    jl = tmp / "t.jsonl"
    r = emu(guest(arch, "cpu_opv_vectors"), "74",
            options=["--cs-inject-span", 0, "--trace-json", jl, "--stats"])
    expect_status(r, 0)
    expect_stderr(r, r"^stat cpu_opv_ipis 2$", count=1)
    events = trace_lines(jl)
    opv = [e for e in events if e["ev"] == "cpu_opv"]
    want = [(2, 0, "ipi", 101, 0, 0), (2, 3, "ipi", 101, 0, 0)]
    got = [(e["target"], e["ops"], e["on"], e.get("interrupted"), e["ret"], e["cpu"]) for e in opv]
    if got != want:
        raise Failure(f"cpu_opv records {got}, expected {want}")
    ipis = [e for e in events if e["ev"] == "ipi"]
    aborts = [e for e in events if e["ev"] == "rseq_abort"]
    if [(e["cpu"], e["tid"]) for e in ipis] != [(2, 101)] * 2:
        raise Failure(f"IPIs {ipis}, expected two to tid 101 on CPU 2")
    if [(e["tid"], e["why"], e["abort_ip_sym"]) for e in aborts] != \
            [(101, "ipi", "opv_cs_abort")] * 2:
        raise Failure(f"aborts {aborts}, expected two of tid 101 by the IPIs")
    for ipi, call in zip(ipis, opv):
        if events.index(ipi) > events.index(call):
            raise Failure("a cpu_opv record comes before the IPI it sent")
# ---- CPU hotplug ---------------------------------------------------------------------------

def case_example_offline(arch, name, seed, cpus, offline, expected, status, *args):
    """An example with CPUs offline from the start (--offline) prints its expected output."""
    r = emu(guest(arch, name), *args,
            options=["--seed", seed, "--cpus", cpus, "--offline", offline])
    expect_stdout(r, Path(expected).read_bytes(), expected)
    expect_status(r, int(status))
    if int(status) == 0:
        expect_quiet(r)


# percpu_counter's four workers (101..104) each run some 500 thousand instructions.
HOTPLUG_SCHEDULE = """rseqemu-schedule 1
# CPU 3 starts offline (--offline 3); CPUs go down and come back under the workers.
cpus 4
events
101:100000 offline 2
102:150000 online 3
101:250000 offline 1
103:300000 online 2
"""


def case_hotplug_record_replay(tmp, arch):
    """A hand-written schedule with offline and online events, on a run that starts with a
    CPU offline: recorded, it replays exactly (stdout, status, digest, events), the header
    carries --offline, and the replay's trace shows each event once."""
    prog = guest(arch, "percpu_counter")
    hand, rec, again = write(tmp, HOTPLUG_SCHEDULE), tmp / "run.sched", tmp / "replay.sched"
    first = emu(prog, options=["--cpus", "4", "--offline", "3", "--policy", "script",
                               "--schedule", hand, "--record", rec, "--digest"])
    expect_stdout(first, (SOURCE / "examples/expected/percpu_counter.out").read_bytes())
    expect_status(first, 0)
    header = rec.read_text().split("\nevents\n")[0].splitlines()
    if "offline 3" not in header:
        raise Failure(f"{rec} has no 'offline 3' header line:\n{rec.read_text()[:2000]}")
    recorded = events_of(rec)
    for event in HOTPLUG_SCHEDULE.split("events\n")[1].splitlines():
        if event not in recorded:
            raise Failure(f"{rec} lacks the event {event}")
    trace = tmp / "replay.json"
    replay = run([RSEQEMU, "replay", "--digest", "--record", again, "--trace-json", trace, rec])
    expect_stdout(replay, first.stdout, "the recorded run's stdout")
    expect_status(replay, 0)
    if digest_of(replay) != digest_of(first):
        raise Failure(f"digests differ: recorded {digest_of(first)}, replayed "
                      f"{digest_of(replay)}\n{first.describe()}{replay.describe()}")
    if events_of(again) != recorded:
        raise Failure(f"the replay recorded other events than {rec}")
    seen = [(e["ev"], e["vcpu"]) for e in trace_lines(trace) if e["ev"].startswith("cpu_o")]
    want = [("cpu_offline", 2), ("cpu_online", 3), ("cpu_offline", 1), ("cpu_online", 2)]
    if sorted(seen) != sorted(want):
        raise Failure(f"the trace shows {seen}, expected {want} in some order")


def case_hotplug_refusals(tmp):
    """--offline that cannot be (CPU 0, a CPU the run lacks, not a CPU list) is a command-line
    error, 64; a schedule's impossible hotplug event or header is refused with its line, 65."""
    hello = guest("x86_64", "hello")
    for offline, pattern in (("0", r"--offline 0: CPU 0 cannot be taken offline"),
                             ("2-4", r"--offline: CPU 4 is not below 4"),
                             ("1,", r"--offline: expected a CPU number"),
                             ("two", r"--offline: expected a CPU number at 'two'")):
        r = emu(hello, options=["--cpus", "4", "--offline", offline])
        expect_status(r, 64)
        expect_stderr(r, pattern)
    sched = write(tmp, "rseqemu-schedule 1\nevents\n100:1000 offline 0\n")
    r = emu(hello, options=["--policy", "script", "--schedule", sched])
    expect_status(r, 65)
    expect_stderr(r, r"^rseqemu: schedule line 3: 100:1000 offline: CPU 0 cannot be taken "
                     r"offline \(the boot CPU\)$")
    rec = tmp / "hello.sched"
    emu(hello, options=["--record", rec])
    for text, pattern in ((rec.read_text().replace("cpus 4\n", "cpus 4\noffline 0\n"),
                           r"line \d+: offline: CPU 0 cannot be taken offline"),
                          (rec.read_text().replace("cpus 4\n", "cpus 4\noffline 4\n"),
                           r"line \d+: offline: CPU 4 is not below cpus \(4\)"),
                          (rec.read_text() + "100:10 online 2\n",
                           r"schedule line \d+: 100:10 online: CPU 2 is already online")):
        r = run([RSEQEMU, "replay", write(tmp, text)])
        expect_status(r, 65)
        expect_stderr(r, pattern)


# ---- the cpu_opv examples (examples/opv_*.c) -------------------------------------------------

OPV_SEEDS = range(1, 21)
OPV_CPUS = (2, 4, 8)
OPV_MAX_INSNS = 200_000_000  # the longest run takes a few million instructions
# Runs with cpu_opv turned off, so that the fallback a program takes on Linux (ENOSYS) runs too.
OPV_OFF_RUNS = [(seed, cpus) for seed in (1, 2, 3) for cpus in OPV_CPUS]
OPV_STAT = re.compile(r"^stat \w+ \d+$")
OPV_ENOSYS = re.compile(r"^rseqemu: unknown syscall number 1000 by tid \d+ returns ENOSYS$")


def opv_options(seed, cpus, offline, off=False) -> list:
    options = ["--seed", seed, "--cpus", cpus, "--stats"]
    # The CPUs of the list this run has: one list serves every CPU count.
    present = [c for c in str(offline or "").split(",") if c and int(c) < cpus]
    if present:
        options += ["--offline", ",".join(present)]
    if off:
        options += ["--cpu-opv-nr", "off"]
    return options


def opv_reproduce(arch, name, options) -> str:
    return (f"reproduce: {RSEQEMU} run --max-insns {OPV_MAX_INSNS} "
            f"{' '.join(map(str, options))} -- {guest(arch, name)}")


def case_opv_example(arch, name, expected, offline=None):
    """A cpu_opv example on every seed 1..20 and --cpus 2, 4, 8 (OFFLINE, if given, is passed as
    --offline): exit 0, stdout equal to EXPECTED, nothing on stderr but the --stats lines; then
    on a few of them with --cpu-opv-nr off, where the program takes the path it takes on Linux
    (ENOSYS) and must print the same. Over the whole run some vector must have been sent to
    another CPU (stat cpu_opv_ipis). Stops at the first mismatch, with the command that
    reproduces it."""
    want = Path(expected).read_bytes()
    runs = [(seed, cpus, False) for seed in OPV_SEEDS for cpus in OPV_CPUS]
    runs += [(seed, cpus, True) for seed, cpus in OPV_OFF_RUNS]
    totals = {"rseq_aborts": 0, "cpu_opv_calls": 0, "cpu_opv_ipis": 0}
    for seed, cpus, off in runs:
        options = opv_options(seed, cpus, offline, off)
        r = emu(guest(arch, name), max_insns=OPV_MAX_INSNS, options=options)
        try:
            expect_stdout(r, want, expected)
            expect_status(r, 0)
            for line in r.err.splitlines():
                if not OPV_STAT.match(line) and not (off and OPV_ENOSYS.match(line)):
                    raise Failure(f"unexpected line on stderr: {line}\n{r.describe()}")
            if not off:
                for stat in totals:
                    totals[stat] += stat_of(r, stat)
        except Failure as e:
            raise Failure(f"{e}\n{opv_reproduce(arch, name, options)}")
    print(f"{len(runs)} runs: " + ", ".join(f"{k} {v}" for k, v in totals.items()))
    if totals["cpu_opv_ipis"] == 0:
        raise Failure(f"no cpu_opv vector ran on another CPU than its caller's in {len(runs)} runs")


# opv_wrong's report: the total, the operation, and per buffer that lost samples, the CPUs whose
# atomics on its count raced with its sections.
OPV_WRONG_TOTAL = re.compile(r"samples counted = (\d+) of (\d+)\n")
OPV_WRONG_LOST = re.compile(r"(\d+) samples lost\. The fallback, __atomic_fetch_add on the count "
                            r"of the buffer of the\nCPU read before the section aborted, ran on "
                            r"another CPU than the buffer's (\d+) times,\n")
OPV_WRONG_BUFFER = re.compile(r"^  buffer of CPU (\d+): (\d+) of (\d+) samples lost; "
                              r"__atomic_fetch_add on its count from (no other CPU seen|"
                              r"CPU \d+ \(\d+\)(?:, CPU \d+ \(\d+\))*)$", re.MULTILINE)


def check_opv_wrong_report(out: str, cpus: int) -> int:
    """The report of a failed run names the operation and, for each buffer that lost samples,
    its CPU and the other CPUs whose atomics raced with it; returns the samples lost."""
    total = OPV_WRONG_TOTAL.match(out)
    lost = OPV_WRONG_LOST.search(out)
    if not total or not lost or int(total[2]) - int(total[1]) != int(lost[1]):
        raise Failure("no total and no loss in the report")
    buffers = OPV_WRONG_BUFFER.findall(out)
    if not buffers or sum(int(b[1]) for b in buffers) != int(lost[1]):
        raise Failure("the buffers' losses do not add up to the loss")
    named = 0
    for cpu, _, _, sources in buffers:
        others = [int(c) for c in re.findall(r"CPU (\d+) \(", sources)]
        if int(cpu) >= cpus or int(cpu) in others or any(c >= cpus for c in others):
            raise Failure(f"buffer of CPU {cpu}: the CPUs named are not other CPUs of the run")
        named += len(others)
    if not named:
        raise Failure("the report names no CPU whose atomics raced with a buffer's sections")
    return int(lost[1])


def case_opv_wrong(arch, offline=None):
    """examples/opv_wrong, an atomic fallback mixed with rseq on per-CPU data (the cpu_opv RFC's
    point 11), on every seed 1..20 and --cpus 2, 4, 8: it exits 0 with the exact total or 1
    with a report naming __atomic_fetch_add and the CPUs involved, and for each CPU count at
    least one seed loses samples."""
    failing = {cpus: [] for cpus in OPV_CPUS}
    for seed in OPV_SEEDS:
        for cpus in OPV_CPUS:
            options = opv_options(seed, cpus, offline)
            r = emu(guest(arch, "opv_wrong"), max_insns=OPV_MAX_INSNS, options=options)
            try:
                if r.status == 0:
                    expect_stdout(r, b"samples counted = 3200 of 3200\n")
                    continue
                expect_status(r, 1)
                lost = check_opv_wrong_report(r.out, cpus)
            except Failure as e:
                raise Failure(f"{e}\n{r.describe()}{opv_reproduce(arch, 'opv_wrong', options)}")
            failing[cpus].append(f"{seed} ({lost} lost)")
    for cpus, seeds in failing.items():
        print(f"--cpus {cpus}: samples lost with seeds {', '.join(seeds) or 'none'}")
        if not seeds:
            raise Failure(f"--cpus {cpus}: no seed of 1..20 lost a sample")


# ---- the boundary examples (examples/boundary.h) ---------------------------------------------

# Each is NAME, a bug at the edge of its critical sections, and NAME_ok, its correct twin. Per
# program: the pattern of the buggy one's report, whether a default run of the buggy one may show
# the bug (two_stores: its window is inside the section, where the injection bias lands), and
# the events that must show it, each (kind, action, where in the buggy one, where in the twin).
# A place is ("last",): the section's last instruction; ("commit",): post_commit_ip; ("sym", S):
# symbol S; ("insn", F, RE): the first instruction of function F that objdump prints matching RE.
# kind "inject" is --inject-at ACTION@PLACE#N for some N of BOUNDARY_NTH; kind "switch" is a
# schedule with a host switch away from the thread's CPU there (a stall: no rseq event).
LAST, COMMIT = ("last",), ("commit",)
SYSCALL = r"\s(syscall|svc\s)"
BOUNDARY = {
    "lost_commit": (r"^lost \d+ of 4000 increments$", False,
                    [("inject", "preempt", COMMIT, LAST), ("inject", "migrate", COMMIT, LAST)]),
    "early_load": (r"^lost \d+ of 4000 increments$", False,
                   [("inject", "preempt", ("sym", "store_on_cpu"), ("sym", "pcpu_add"))]),
    "no_cpu_check": (r"^lost \d+ of 4000 increments$", False, []),
    "stale_retry": (r"^lost \d+ of 4000 increments$", False, []),
    "two_stores": (r"^sum = \d+ of 33872 with count = 4000 of 4000: an aborted section added "
                   r"values twice$", True, [("inject", "preempt", LAST, LAST)]),
    "atomic_fallback": (r"^lost \d+ of 4000 increments$", False, []),
    "opv_wrong_cpu": (r"^lost \d+ of 4000 increments$", False, []),
    "opv_wrong_compare": (r"^lost \d+ of 2000 items$", False,
                          [("inject", "preempt", ("insn", "push_slow", SYSCALL),
                            ("insn", "push_slow", SYSCALL)),
                           ("inject", "migrate", ("insn", "push_slow", SYSCALL),
                            ("insn", "push_slow", SYSCALL))]),
    "flip_nofence": (r"^epoch \d+ collected \d+ of its \d+ events: a section committed into it "
                     r"after the flip$", False, [("switch", None, LAST, LAST)]),
}
BOUNDARY_NTH = (1, 2, 5, 10, 20, 50)
BOUNDARY_SEEDS = range(1, 6)
BOUNDARY_CPUS = (1, 2, 4, 8)


def boundary_place(arch: str, path: Path, place) -> int:
    if place[0] in ("last", "commit"):
        listed = parse_listing(cs(path))
        if len(listed) != 1:
            raise Failure(f"{path}: {len(listed)} critical sections, expected 1")
        return listed[0].code[-1][0] if place[0] == "last" else listed[0].lines["commit"][0]
    if place[0] == "sym":
        return place[1]
    objdump = tool("objdump" if arch == "x86_64" else "aarch64-linux-gnu-objdump")
    r = run([objdump, "-d", "--no-show-raw-insn", f"--disassemble={place[1]}", path])
    for m in re.finditer(r"^\s+([0-9a-f]+):\t(.*)$", r.out, re.MULTILINE):
        if re.search(place[2], "\t" + m[2]):
            return int(m[1], 16)
    raise Failure(f"{path}: no instruction of {place[1]} matches /{place[2]}/")


def boundary_switch_run(path: Path, where, nth: int) -> Result:
    """The nth time a thread is about to run WHERE under round-robin on 2 CPUs, the host turns
    to the other CPU: a schedule with a `switch` event there."""
    where = where if isinstance(where, str) else f"{where:#x}"
    probe = emu(path, options=["--policy", "round-robin", "--cpus", "2", "--trace",
                               "--inject-at", f"tick@{where}#{nth}"])
    m = re.search(r"tid (\d+)\s+@(\d+)\s+inject\s+what=tick", probe.err)
    if not m:
        raise Failure(f"no tick at {where}#{nth}\n{probe.describe()}")
    with tempfile.NamedTemporaryFile("w", suffix=".sched", delete=False) as f:
        f.write(f"rseqemu-schedule 1\ncpus 2\nevents\n{m[1]}:{m[2]} switch\n")
    try:
        return emu(path, options=["--policy", "script", "--schedule", f.name])
    finally:
        os.unlink(f.name)


def case_boundary(arch, name, expected, expected_ok):
    """A boundary example and its twin on every seed 1..5 and --cpus 1, 2, 4, 8: the twin exits 0
    with EXPECTED_OK, the buggy one 0 with EXPECTED (or, where its window is inside the section,
    1 with its report); then each event of BOUNDARY at some N-th occurrence makes the buggy one
    exit 1 with its report, while the twin, with the same event at each of those N, exits 0."""
    report, default_may_fail, events = BOUNDARY[name]
    bug, ok = guest(arch, name), guest(arch, name + "_ok")
    want, want_ok = Path(expected).read_bytes(), Path(expected_ok).read_bytes()

    def check_bug(r: Result):
        expect_status(r, 1)
        if not re.fullmatch(report, r.out.rstrip("\n")) or r.out.count("\n") != 1:
            raise Failure(f"stdout is not one line matching /{report}/\n{r.describe()}")

    def check_ok(r: Result, w=want_ok, e=expected_ok):
        expect_stdout(r, w, e)
        expect_status(r, 0)

    for seed in BOUNDARY_SEEDS:
        for cpus in BOUNDARY_CPUS:
            options = ["--seed", seed, "--cpus", cpus]
            check_ok(emu(ok, options=options))
            r = emu(bug, options=options)
            if default_may_fail and r.status != 0:
                check_bug(r)
            else:
                check_ok(r, want, expected)
    for kind, action, where, where_ok in events:
        at, at_ok = boundary_place(arch, bug, where), boundary_place(arch, ok, where_ok)
        shown = []
        for nth in BOUNDARY_NTH:
            if kind == "switch":
                r, r_ok = boundary_switch_run(bug, at, nth), boundary_switch_run(ok, at_ok, nth)
                what = f"switch at {at:#x}#{nth}"
            else:
                spot = lambda a: a if isinstance(a, str) else f"{a:#x}"
                options = ["--cpus", "2", "--cs-inject-span", "0"]
                r = emu(bug, options=options + ["--inject-at", f"{action}@{spot(at)}#{nth}"])
                r_ok = emu(ok, options=options + ["--inject-at", f"{action}@{spot(at_ok)}#{nth}"])
                what = f"{action}@{spot(at)}#{nth}"
            check_ok(r_ok)
            if r.status != 0:
                check_bug(r)
                shown.append(what)
        print(f"{kind} {action or ''}: the bug shows with {', '.join(shown) or 'none'}")
        if not shown:
            raise Failure(f"{name}: no {kind} {action or ''} of N-th {BOUNDARY_NTH} shows the bug")



# ---- rseqemu sweep (README "Sweeping critical sections") -------------------------------------

SWEEP_TIMEOUT = 600


def sweep(tmp, program, *options, name="sweep") -> tuple:
    """rseqemu sweep OPTIONS PROGRAM into tmp/NAME; returns the result and the parsed JSON."""
    out, js, xml = tmp / name, tmp / f"{name}.json", tmp / f"{name}.xml"
    r = run([RSEQEMU, "sweep", "--out", out, "--json", js, "--junit", xml, *options, "--",
             *program], timeout=SWEEP_TIMEOUT)
    if r.status not in (0, 1):
        raise Failure(f"sweep exit status {r.status}\n{r.describe()}")
    data = json.loads(js.read_text())
    suite = ET.parse(xml).getroot().find("testsuite")
    failing = sum(1 for c in suite.iter("testcase") if c.find("failure") is not None)
    if int(suite.get("failures")) != failing or (failing > 0) != bool(data["failures"]):
        raise Failure(f"JUnit says {suite.get('failures')} failing, {failing} test cases fail, "
                      f"the JSON {len(data['failures'])} failures\n{r.describe()}")
    return r, data


def case_sweep_finds(tmp, arch, name, *args):
    """The sweep finds the example's bug: exit 1, a FAIL line per distinct failure, each with a
    schedule file that `replay` runs to the same failure (the same exit status and the same
    last line of output), and a FAIL cell in the table where it was found."""
    r, js = sweep(tmp, [guest(arch, name), *args])
    expect_status(r, 1)
    fails = js["failures"]
    if not fails or len(re.findall(r"^FAIL ", r.out, re.MULTILINE)) < len(fails):
        raise Failure(f"no failure reported\n{r.describe()}")
    cells = [row[e] for site in js["sites"] for row in site["boundaries"]
             for e in ("preempt", "migrate", "signal", "stall")]
    base_fails = fails[0]["event"] == "none"  # round-robin alone shows it: nothing is swept
    if base_fails and "base run fails" not in r.out:
        raise Failure(f"a failure without an event but no 'base run fails'\n{r.describe()}")
    if not base_fails and "FAIL" not in cells:
        raise Failure(f"no FAIL cell in the JSON table\n{r.describe()}")
    for f in fails[:3]:
        text = Path(f["file"]).read_text()
        if not text.startswith("rseqemu-schedule ") or "fill round-robin" not in text:
            raise Failure(f"{f['file']} is not a schedule file:\n{text}")
        rr = run([RSEQEMU, "replay", f["file"]])
        status = int(f["outcome"].split()[1]) if f["outcome"].startswith("exit ") else None
        if status is not None:
            expect_status(rr, status)
        elif rr.status == 0:
            raise Failure(f"replay of {f['file']} passes, the sweep said {f['outcome']}\n"
                          f"{rr.describe()}")
        if f["message"] and f["message"] not in rr.out + rr.err:
            raise Failure(f"replay of {f['file']} does not say '{f['message']}'\n{rr.describe()}")


def case_sweep_clean(tmp, program, *options):
    """A correct program sweeps clean: exit 0, no failure, no report from the emulator, and
    events were really injected (some schedules ran at boundaries of a section)."""
    argv = program.split()
    argv[0] = str(guest(*argv[0].split("/", 1)) if not argv[0].startswith("selftests/")
                  else selftest(argv[0].split("/")[1], argv[0].split("/")[2]))
    r, js = sweep(tmp, argv, *options)
    expect_status(r, 0)
    if js["failures"] or js["failed"]:
        raise Failure(f"failures in a correct program\n{r.describe()}")
    if re.search(r"^rseqemu: ", r.err, re.MULTILINE):
        raise Failure(f"emulator reports\n{r.describe()}")
    sections = [s for s in js["sites"] if s["kind"] == "section"]
    if not sections or js["passed"] == 0:
        raise Failure(f"no section was swept\n{r.describe()}")


def case_sweep_jobs(tmp, arch):
    """-j 2 gives the same table, failures and schedule files as -j 1."""
    prog = [guest(arch, "lost_commit")]
    r1, j1 = sweep(tmp, prog, "--entries", "1", name="one")
    r2, j2 = sweep(tmp, prog, "--entries", "1", "-j", "2", name="two")
    for f in j2["failures"]:
        f["file"] = f["file"].replace("/two/", "/one/")
    if j1 != j2:
        raise Failure(f"-j 2 differs from -j 1\n{r1.describe()}{r2.describe()}")
    for f in j1["failures"]:
        a = Path(f["file"]).read_text()
        b = Path(f["file"].replace("/one/", "/two/")).read_text()
        if a != b:
            raise Failure(f"{f['file']} differs between -j 1 and -j 2")
    if r1.out.replace("/one/", "/x/") != r2.out.replace("/two/", "/x/"):
        raise Failure(f"the output differs\n{r1.describe()}{r2.describe()}")


def case_sweep_base_fails(tmp, arch):
    """A program that fails without any injection is reported as such, and nothing is swept."""
    r = run([RSEQEMU, "sweep", "--out", tmp / "out", "--", guest(arch, "exit_code"), "3"],
            timeout=SWEEP_TIMEOUT)
    expect_status(r, 1)
    if "base run fails" not in r.out:
        raise Failure(f"no 'base run fails'\n{r.describe()}")


def case_sweep_usage(tmp):
    """Malformed options: a message and 64; a missing program: 66."""
    for args in (["--entries", "0"], ["--jobs", "x"], ["--kernel", "5.0"], ["--bogus"], []):
        r = run([RSEQEMU, "sweep", *args, *(["--", "/bin/true"] if args else [])])
        expect_status(r, 64)
        expect_stderr(r, r"^rseqemu sweep: ")
    r = run([RSEQEMU, "sweep", "--out", tmp / "o", "--", tmp / "missing"])
    expect_status(r, 66)


# ---- reproducible guests: the same bytes, and the same run, from any checkout ---------------

# One guest of each kind the build makes: static glibc with assert() (__FILE__), an example
# that uses guest/include, a freestanding one (libguest_start.a), a static PIE, one built with
# extra flags (-DTWIN), a benchmark guest.
REPRO_GUESTS = ["percpu_counter", "rseq_bugs", "rseq_register", "hello_pie", "lost_commit_ok",
                "bench_stores"]


def copy_tree(dest: Path) -> Path:
    """The source tree's files, without its build directories, copied to dest."""
    def ignore(directory, names):
        if Path(directory).resolve() != SOURCE:
            return []
        return [n for n in names if n.startswith(("build", ".")) or n == "sweep-out"]
    shutil.copytree(SOURCE, dest, ignore=ignore, symlinks=True)
    return dest


def expect_same_files(a: Path, b: Path, names):
    for name in names:
        if a.joinpath(name).read_bytes() != b.joinpath(name).read_bytes():
            raise Failure(f"{a / name} and {b / name} differ: the build is not reproducible")


def case_reproducible_guests(tmp):
    """Guests built from a copy of the tree at another path, in another build directory, are
    byte-identical to this build's, and a run of one by the same relative command line from
    either tree has the same digest (/proc/self/exe is not the host's path)."""
    src = copy_tree(tmp / "elsewhere" / "a" / "longer" / "path" / "src")
    build = tmp / "out-of-tree" / "b"
    r = run(["cmake", "-S", src, "-B", build, "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
             "-DLINUX_SOURCE_TARBALL=/nonexistent", "-DLINUX_SOURCE_6_12_TARBALL=/nonexistent"],
            timeout=300)
    expect_status(r, 0)
    r = run(["cmake", "--build", build, "-j2", "--target",
             *[f"guest-{g}" for g in REPRO_GUESTS]], timeout=600)
    expect_status(r, 0)
    for arch in ("x86_64", "aarch64"):
        expect_same_files(GUESTS / arch, build / "guests" / arch, REPRO_GUESTS)
        digests = []
        for root in (GUESTS.parent, build):
            p = subprocess.run([RSEQEMU, "run", "--max-insns", str(MAX_INSNS), "--digest",
                                f"guests/{arch}/percpu_counter"], cwd=root, capture_output=True,
                               timeout=RUN_TIMEOUT)
            r = Result([RSEQEMU, "run", f"guests/{arch}/percpu_counter", f"(in {root})"],
                       p.returncode, p.stdout, p.stderr)
            expect_status(r, 0)
            digests.append(digest_of(r))
        if digests[0] != digests[1]:
            raise Failure(f"{arch}: the same run from two trees has digests {digests}")


def case_reproducible_selftests(tmp, tree):
    """scripts/build-selftests run from a copy of the tree at another path, into another
    directory, builds TREE's selftests byte-identical to this build's (its extraction
    directory, random from mktemp, is mapped away)."""
    src = copy_tree(tmp / "elsewhere" / "src")
    ours = GUESTS / "selftests" / SELFTEST_TREE_DIRS[tree]
    if not ours.is_dir():
        raise Skip(f"{ours} is missing: the rseq selftests are built from linux-source-{tree}")
    out = tmp / "another" / "out"
    r = run([src / "scripts" / "build-selftests", out, tree], timeout=600)
    expect_status(r, 0)
    theirs = out / SELFTEST_TREE_DIRS[tree]
    for arch in ("x86_64", "aarch64"):
        names = sorted(p.name for p in (theirs / arch).iterdir())
        if not names:
            raise Failure(f"build-selftests built nothing in {theirs / arch}\n{r.describe()}")
        expect_same_files(ours / arch, theirs / arch, names)


CASES = {name[len("case_"):]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    global RSEQEMU, GUESTS, SOURCE
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rseqemu", type=Path, required=True)
    ap.add_argument("--guests", type=Path, required=True, help="build/guests")
    ap.add_argument("--source", type=Path, required=True, help="the source tree")
    ap.add_argument("case", choices=sorted(CASES))
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    RSEQEMU, GUESTS, SOURCE = a.rseqemu.resolve(), a.guests.resolve(), a.source.resolve()
    fn = CASES[a.case]
    try:
        if "tmp" in fn.__code__.co_varnames[:fn.__code__.co_argcount]:
            with tempfile.TemporaryDirectory(prefix="rseqemu-e2e-") as tmp:
                fn(Path(tmp), *a.args)
        else:
            fn(*a.args)
    except Skip as e:
        print(f"SKIP: {e}")
        return SKIP
    except Failure as e:
        print(f"FAIL: {e}")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
