/* The notify-resume and fixup vectors of spec 9.2: `rseq_fixup VECTOR` sets up one case and
 * runs a critical section; the test harness places the event (preemption, migration, signal,
 * tick, notify) on a chosen instruction with an injection by symbol (fixup_cs_start, ...).
 *
 * Run with GLIBC_TUNABLES=glibc.pthread.rseq=0: the program registers its own area, on a page
 * of its own, so that it can make it read-only (vector 41). */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "rseq_guest.h"

#define PAGE 4096

static union {
    struct rseq_area area;
    char page[PAGE];
} guarded __attribute__((aligned(PAGE)));
static struct rseq_area *const area = &guarded.area;

/* The abort handler records the CPU fields before anything else runs. */
uint32_t fixup_abort_cpu = 0xdead, fixup_abort_cpu_start = 0xdead;

/* int fixup_cs_run(struct rseq_area *, const struct rseq_desc *, long *counter): arms the
 * descriptor and runs [fixup_cs_start, fixup_cs_post), three no-ops and the commit
 * (counter += 1). 0 at the post-commit point, 1 from the abort handler fixup_cs_abort.
 * fixup2_run: the same with the signature right before the post-commit point, which is also
 * its abort point (vector 33). fixup3_run: a getpid syscall inside the section (vector 43).
 * fixup_spot: a place outside any section, for events there. fixup_badsig: an abort point
 * whose 4 bytes before are not the signature. */
#if defined(__x86_64__)
#define SIG_ASM ".byte 0x0f, 0xb9, 0x3d\n .long 0x53053053\n"
__asm__(".text\n"
        ".globl fixup_cs_run, fixup_cs_start, fixup_cs_last, fixup_cs_post, fixup_cs_abort\n"
        "fixup_cs_run:\n"
        "  movq %rsi, 8(%rdi)\n"
        "fixup_cs_start:\n"
        "  nop\n"
        "  nop\n"
        "  nop\n"
        "fixup_cs_last:\n"
        "  addq $1, (%rdx)\n"
        "fixup_cs_post:\n"
        "  xorl %eax, %eax\n"
        "  ret\n" SIG_ASM "fixup_cs_abort:\n"
        "  movl 4(%rdi), %eax\n"
        "  movl %eax, fixup_abort_cpu(%rip)\n"
        "  movl 0(%rdi), %eax\n"
        "  movl %eax, fixup_abort_cpu_start(%rip)\n"
        "  movl $1, %eax\n"
        "  ret\n"
        ".globl fixup2_run, fixup2_start, fixup2_post\n"
        "fixup2_run:\n"
        "  movq %rsi, 8(%rdi)\n"
        "fixup2_start:\n"
        "  nop\n"
        "  addq $1, (%rdx)\n"
        "  jmp fixup2_post\n" SIG_ASM "fixup2_post:\n"
        "  xorl %eax, %eax\n"
        "  ret\n"
        ".globl fixup3_run, fixup3_start, fixup3_post\n"
        "fixup3_run:\n"
        "  movq %rsi, 8(%rdi)\n"
        "fixup3_start:\n"
        "  movl $39, %eax\n"
        "  syscall\n"
        "  addq $1, (%rdx)\n"
        "fixup3_post:\n"
        "  xorl %eax, %eax\n"
        "  ret\n" SIG_ASM "fixup3_abort:\n"
        "  movl $1, %eax\n"
        "  ret\n"
        ".globl fixup3_abort, fixup_spot, fixup_badsig\n"
        "fixup_spot:\n"
        "  nop\n"
        "  ret\n"
        "  .long 0x12345678\n"
        "fixup_badsig:\n"
        "  movl $1, %eax\n"
        "  ret\n");
#elif defined(__aarch64__)
#define SIG_ASM ".inst 0xd428bc00\n"
__asm__(".text\n"
        ".globl fixup_cs_run, fixup_cs_start, fixup_cs_last, fixup_cs_post, fixup_cs_abort\n"
        "fixup_cs_run:\n"
        "  str x1, [x0, #8]\n"
        "fixup_cs_start:\n"
        "  nop\n"
        "  nop\n"
        "  ldr x9, [x2]\n"
        "  add x9, x9, #1\n"
        "fixup_cs_last:\n"
        "  str x9, [x2]\n"
        "fixup_cs_post:\n"
        "  mov w0, #0\n"
        "  ret\n" SIG_ASM "fixup_cs_abort:\n"
        "  ldr w9, [x0, #4]\n"
        "  adrp x10, fixup_abort_cpu\n"
        "  str w9, [x10, :lo12:fixup_abort_cpu]\n"
        "  ldr w9, [x0]\n"
        "  adrp x10, fixup_abort_cpu_start\n"
        "  str w9, [x10, :lo12:fixup_abort_cpu_start]\n"
        "  mov w0, #1\n"
        "  ret\n"
        ".globl fixup2_run, fixup2_start, fixup2_post\n"
        "fixup2_run:\n"
        "  str x1, [x0, #8]\n"
        "fixup2_start:\n"
        "  ldr x9, [x2]\n"
        "  add x9, x9, #1\n"
        "  str x9, [x2]\n"
        "  b fixup2_post\n" SIG_ASM "fixup2_post:\n"
        "  mov w0, #0\n"
        "  ret\n"
        ".globl fixup3_run, fixup3_start, fixup3_post\n"
        "fixup3_run:\n"
        "  str x1, [x0, #8]\n"
        "  mov x11, x2\n"
        "fixup3_start:\n"
        "  mov x8, #172\n"
        "  svc #0\n"
        "  ldr x9, [x11]\n"
        "  add x9, x9, #1\n"
        "  str x9, [x11]\n"
        "fixup3_post:\n"
        "  mov w0, #0\n"
        "  ret\n" SIG_ASM "fixup3_abort:\n"
        "  mov w0, #1\n"
        "  ret\n"
        ".globl fixup3_abort, fixup_spot, fixup_badsig\n"
        "fixup_spot:\n"
        "  nop\n"
        "  ret\n"
        "  .inst 0x12345678\n"
        "fixup_badsig:\n"
        "  mov w0, #1\n"
        "  ret\n");
#endif

int fixup_cs_run(struct rseq_area *a, const struct rseq_desc *d, long *counter);
int fixup2_run(struct rseq_area *a, const struct rseq_desc *d, long *counter);
int fixup3_run(struct rseq_area *a, const struct rseq_desc *d, long *counter);
void fixup_spot(void);
extern char fixup_cs_start[], fixup_cs_post[], fixup_cs_abort[], fixup2_start[], fixup2_post[];
extern char fixup3_start[], fixup3_post[], fixup3_abort[], fixup_badsig[];

static struct rseq_desc desc;
static long counter;

static void describe(uint64_t start, uint64_t len, uint64_t abort)
{
    desc.version = 0;
    desc.flags = 0;
    desc.start_ip = start;
    desc.post_commit_offset = len;
    desc.abort_ip = abort;
}

static void describe_cs(void)
{
    describe((uintptr_t)fixup_cs_start, (uintptr_t)fixup_cs_post - (uintptr_t)fixup_cs_start,
             (uintptr_t)fixup_cs_abort);
}

static const char *cs_state(const struct rseq_desc *d)
{
    uint64_t v = RSEQ_GUEST_READ(area->rseq_cs);
    return v == 0 ? "0" : v == (uintptr_t)d ? "armed" : "other";
}

/* Runs the section once and says what happened. */
static void run_cs(const struct rseq_desc *d)
{
    counter = 0;
    int aborted = fixup_cs_run(area, d, &counter);
    printf("aborted=%d counter=%ld rseq_cs=%s\n", aborted, counter, cs_state(d));
}

static volatile uint64_t handler_ip;
static volatile int handler_ran;

static void record_ip(int sig, siginfo_t *info, void *ucv)
{
    (void)sig, (void)info;
    ucontext_t *uc = ucv;
#if defined(__x86_64__)
    handler_ip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
#else
    handler_ip = uc->uc_mcontext.pc;
#endif
    handler_ran++;
}

static void on_segv_exit(int sig)
{
    (void)sig;
    _exit(11);
}

static void on_segv_return(int sig)
{
    (void)sig;
    static const char msg[] = "SIGSEGV handler returns\n";
    write(1, msg, sizeof(msg) - 1);
}

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof(set), &set);
}

/* An event right here, with the descriptor armed but the IP outside any section. */
static void event_outside(const struct rseq_desc *d)
{
    area->rseq_cs = (uintptr_t)d;
    fixup_spot();
    printf("survived: rseq_cs=%s\n", cs_state(d));
}

int main(int argc, char **argv)
{
    if (rseq_guest_glibc_area()) {
        printf("run with GLIBC_TUNABLES=glibc.pthread.rseq=0\n");
        return 2;
    }
    long reg = rseq_guest_register(area);
    if (reg != 0) {
        printf("rseq registration failed: %ld\n", reg);
        return 2;
    }
    int v = argc > 1 ? atoi(argv[1]) : 0;
    const char *variant = argc > 2 ? argv[2] : "";
    describe_cs();
    printf("vector %d%s%s\n", v, *variant ? " " : "", variant);
    fflush(stdout);
    switch (v) {
    case 19: /* preempt at start_ip */
    case 20: /* preempt at the commit */
    case 21: /* preempt at the post-commit IP */
    case 26: /* a tick (no switch) in the section */
    case 42: /* preempt before arming, notify-resume inside */
        run_cs(&desc);
        break;
    case 22: /* preempt before the descriptor is stored */
        area->rseq_cs = 0;
        run_cs(&desc);
        break;
    case 23: /* post_commit_offset 0: never inside */
        desc.post_commit_offset = 0;
        run_cs(&desc);
        break;
    case 24: { /* a signal inside: the frame holds abort_ip */
        struct sigaction sa = {.sa_sigaction = record_ip, .sa_flags = SA_SIGINFO};
        sigaction(SIGUSR1, &sa, NULL);
        run_cs(&desc);
        printf("handler ran %d, its saved IP is abort_ip: %s\n", handler_ran,
               handler_ip == desc.abort_ip ? "yes" : "no");
        break;
    }
    case 25: /* migrated from CPU 0 to CPU 1 inside */
        pin(0);
        {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(0, &set);
            CPU_SET(1, &set);
            sched_setaffinity(0, sizeof(set), &set);
        }
        printf("on cpu %d\n", sched_getcpu());
        run_cs(&desc);
        printf("at abort_ip: cpu_id=%u cpu_id_start=%u\n", fixup_abort_cpu, fixup_abort_cpu_start);
        break;
    case 27: /* the signature before abort_ip is wrong */
    case 28:
        if (v == 28) {
            signal(SIGSEGV, strcmp(variant, "return") ? on_segv_exit : on_segv_return);
        }
        desc.abort_ip = (uintptr_t)fixup_badsig;
        if (!strcmp(variant, "outside"))
            event_outside(&desc);
        else
            run_cs(&desc);
        break;
    case 29: /* version 1, IP outside */
        desc.version = 1;
        event_outside(&desc);
        break;
    case 30: /* a deprecated NO_RESTART flag in the descriptor, IP inside */
        desc.flags = 1;
        run_cs(&desc);
        break;
    case 31: /* a flag in the area */
        area->flags = 1;
        if (!strcmp(variant, "outside"))
            event_outside(&desc);
        else
            run_cs(&desc);
        area->flags = 0;
        break;
    case 32: /* abort_ip inside the section */
        desc.abort_ip = desc.start_ip + 2;
        run_cs(&desc);
        break;
    case 33: { /* abort_ip is the post-commit IP, signature right before it */
        describe((uintptr_t)fixup2_start, (uintptr_t)fixup2_post - (uintptr_t)fixup2_start,
                 (uintptr_t)fixup2_post);
        counter = 0;
        int r = fixup2_run(area, &desc, &counter);
        printf("returned %d counter=%ld rseq_cs=%s\n", r, counter, cs_state(&desc));
        break;
    }
    case 34: /* start_ip + post_commit_offset wraps */
        desc.post_commit_offset = (uint64_t)-100;
        event_outside(&desc);
        break;
    case 35: /* start_ip + post_commit_offset beyond user space, no wrap */
        desc.post_commit_offset = 0x0001000000000000ULL;
        event_outside(&desc);
        break;
    case 36: /* abort_ip beyond user space */
        desc.abort_ip = 0xffff800000000000ULL;
        event_outside(&desc);
        break;
    case 37: /* the rseq_cs pointer beyond user space */
        area->rseq_cs = 0xffff800000000000ULL;
        fixup_spot();
        printf("survived\n");
        break;
    case 38: /* the rseq_cs pointer to unmapped memory */
        area->rseq_cs = 0x10000;
        fixup_spot();
        printf("survived\n");
        break;
    case 39: { /* abort_ip - 4 unmapped */
        char *two = mmap(NULL, 2 * PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        munmap(two, PAGE);
        desc.abort_ip = (uintptr_t)(two + PAGE);
        run_cs(&desc);
        break;
    }
    case 40: { /* descriptors at offsets 1 and 8 from a 32-byte boundary */
        static char buf[128] __attribute__((aligned(64)));
        for (int off = 1; off <= 8; off += 7) {
            memcpy(buf + off, &desc, sizeof(desc));
            const struct rseq_desc *d = (const struct rseq_desc *)(buf + off);
            counter = 0;
            int aborted = fixup_cs_run(area, d, &counter);
            printf("offset %d: aborted=%d counter=%ld\n", off, aborted, counter);
        }
        break;
    }
    case 41: { /* the area read-only, then a sleep */
        mprotect(area, PAGE, PROT_READ);
        printf("area read-only, sleeping\n");
        fflush(stdout);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        mprotect(area, PAGE, PROT_READ | PROT_WRITE);
        printf("survived\n");
        break;
    }
    case 43: { /* a syscall inside the section */
        describe((uintptr_t)fixup3_start, (uintptr_t)fixup3_post - (uintptr_t)fixup3_start,
                 (uintptr_t)fixup3_abort);
        counter = 0;
        int r = fixup3_run(area, &desc, &counter);
        printf("returned %d counter=%ld\n", r, counter);
        break;
    }
    case 44: /* sched_setaffinity moves the thread before it returns */
        pin(0);
        pin(1);
        printf("cpu_id=%u cpu_id_start=%u getcpu=%d\n", RSEQ_GUEST_READ(area->cpu_id),
               RSEQ_GUEST_READ(area->cpu_id_start), sched_getcpu());
        break;
    default:
        printf("unknown vector\n");
        return 2;
    }
    fflush(stdout);
    return 0;
}
