#!/usr/bin/env python3
"""End-to-end checks of the rseqemu command line; tests/e2e/CMakeLists.txt runs one case per
ctest test. Every case runs the emulator as a user would and checks its exit status, its
stdout and a distinctive line on stderr, printing a diff (or the whole output) on failure.

    e2e.py --rseqemu BIN --guests DIR --source DIR CASE [ARGS...]

Exit status: 0 pass, 1 fail, 77 skipped (a prerequisite of the case is missing).
"""
import argparse
import difflib
import math
import os
import re
import signal
import resource
import shutil
import subprocess
import sys
import tempfile
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




# ---- the Linux 6.1 rseq selftests (spec 8), built by scripts/build-selftests --------------

# run_param_test.sh's configurations (spec 8.6).
PARAM_TESTS = [["-T", "s"], ["-T", "l"], ["-T", "b"], ["-T", "b", "-M"], ["-T", "m"],
               ["-T", "m", "-M"], ["-T", "i"], ["-T", "r"]]
SELFTEST_CPUS = 4
SELFTEST_MAX_INSNS = 20_000_000_000
# basic_percpu_ops_test's 200 threads yield to each other some 20 million times: about a
# minute on one host core, more on a loaded one.
SELFTEST_TIMEOUT = 540


def selftest(arch: str, name: str) -> Path:
    path = GUESTS / "selftests" / arch / name
    if not path.is_file():
        raise Skip(f"{path} is missing: the rseq selftests are built from linux-source-6.1 "
                   "(scripts/setup installs it)")
    return path


def stat_of(r: Result, name: str) -> int:
    found = re.findall(rf"^stat {name} (\d+)$", r.err, re.MULTILINE)
    if len(found) != 1:
        raise Failure(f"expected one 'stat {name}' line on stderr\n{r.describe()}")
    return int(found[0])


def run_selftest(arch, name, *args, seed=1) -> Result:
    r = emu(selftest(arch, name), *args, max_insns=SELFTEST_MAX_INSNS, timeout=SELFTEST_TIMEOUT,
            options=["--stats", "--cpus", SELFTEST_CPUS, "--seed", seed])
    expect_status(r, 0)
    return r


def case_selftest(arch, name, *args):
    """One selftest program passes; the ones with critical sections see them aborted."""
    r = run_selftest(arch, name, *args)
    if name != "basic_test" and stat_of(r, "rseq_aborts") == 0:
        raise Failure(f"no critical section was aborted\n{r.describe()}")


def case_selftest_param(arch, reps, *args):
    """Every configuration of run_param_test.sh with ARGS, param_test and
    param_test_compare_twice, with 6 threads per CPU and REPS repetitions (spec 8.5, 8.6). Each
    passes, and each sees its critical sections aborted."""
    threads = str(6 * SELFTEST_CPUS)
    for config in PARAM_TESTS:
        for name in ("param_test", "param_test_compare_twice"):
            r = run_selftest(arch, name, *config, "-r", reps, "-t", threads, *args)
            if "is not implemented on this architecture" in r.err:
                continue  # 6.1's -T r exists for x86 only; it says so and passes
            if stat_of(r, "rseq_aborts") == 0:
                raise Failure(f"{name} {' '.join(config)}: no critical section was aborted\n"
                              f"{r.describe()}")


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
    """A guest, or "selftest/NAME" for one of the kernel's rseq selftests."""
    if name.startswith("selftest/"):
        return selftest(arch, name.split("/", 1)[1])
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
    """A run recorded under each policy replays exactly: the same stdout, exit status and
    digest, and the replay's own recording holds the same events (README "Schedule files")."""
    prog = program_path(arch, name)
    budget = SELFTEST_MAX_INSNS if name.startswith("selftest/") else MAX_INSNS
    for policy, seed, cpus in (("random", 1, 4), ("random", 3, 2), ("round-robin", 1, 3)):
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
