/* The registration vectors of spec 9.1, freestanding (no libc registers anything first). Each
 * line names its vector and prints results and relations, never raw CPU numbers, so that the
 * output is the same under the emulator and natively on Linux 6.3+ (6.1: vector 5 differs).
 *
 * Run without arguments; it re-executes itself with "after-exec" for vector 18. */
#include "freestanding.h"
#include "rseq_guest.h"

#define PAGE 4096

/* The area on a page of its own, for the mprotect vectors. */
static union {
    struct rseq_area area;
    char page[PAGE];
} guarded __attribute__((aligned(PAGE)));

static char other_bytes[128] __attribute__((aligned(64)));
static struct rseq_desc desc;

static uint32_t sig = RSEQ_GUEST_SIG;

static long reg(void *area, uint32_t len, int flags, uint32_t s)
{
    return rseq_guest_syscall(area, len, flags, s);
}

static int getcpu(void)
{
    unsigned cpu = 0;
    gsyscall3(GSYS_getcpu, &cpu, 0, 0);
    return (int)cpu;
}

/* A valid descriptor that does not cover the code running now. */
__asm__(".text\n"
        ".globl reg_dummy_cs\n"
        "reg_dummy_cs:\n"
        "  nop\n"
        "  ret\n" RSEQ_GUEST_SIG_ASM ".globl reg_dummy_abort\n"
        "reg_dummy_abort:\n"
        "  ret\n");
extern char reg_dummy_cs[], reg_dummy_abort[];

static void fields(const char *what, struct rseq_area *a)
{
    int cpu = getcpu();
    gprintf("%s: rseq_cs=%s cpu_id_start%s cpu_id%s node_id=%u mm_cid=%u\n", what,
            RSEQ_GUEST_READ(a->rseq_cs) ? "set" : "0",
            (int)RSEQ_GUEST_READ(a->cpu_id_start) == cpu ? "=cpu" : "!=cpu",
            (int)RSEQ_GUEST_READ(a->cpu_id) == cpu ? "=cpu" : "!=cpu", RSEQ_GUEST_READ(a->node_id),
            RSEQ_GUEST_READ(a->mm_cid));
}

static int thread_result;
static int thread_fn(void *arg)
{
    (void)arg;
    /* 9.1.17: a CLONE_VM|CLONE_THREAD child starts unregistered. */
    thread_result = (int)reg(&guarded.area, 32, 0, sig);
    long u = reg(&guarded.area, 32, RSEQ_GUEST_FLAG_UNREGISTER, sig);
    return u == 0 ? 0 : 1;
}

static char thread_stack[16384] __attribute__((aligned(16)));

static int after_exec(void)
{
    /* 9.1.18: the new image starts unregistered and may register any area. */
    gprintf("18 after execve: rseq(area) = %ld\n", reg(&guarded.area, 32, 0, sig));
    fields("18 fields", &guarded.area);
    gprintf("18 unregister = %ld\n", reg(&guarded.area, 32, RSEQ_GUEST_FLAG_UNREGISTER, sig));
    return 0;
}

int main(int argc, char **argv, char **envp)
{
    if (argc > 1 && !strcmp(argv[1], "after-exec"))
        return after_exec();
    struct rseq_area *a = &guarded.area;
    char *base = (char *)a;

    gprintf("1 rseq(NULL, 0, 0, 0) = %ld\n", reg(0, 0, 0, 0));
    gprintf("2 rseq(area+1) = %ld\n", reg(base + 1, 32, 0, sig));
    gprintf("3 rseq(area+16) = %ld\n", reg(base + 16, 32, 0, sig));
    gprintf("4 len 31 = %ld, len 28 = %ld\n", reg(a, 31, 0, sig), reg(a, 28, 0, sig));
    long r33 = reg(a, 33, 0, sig);
    gprintf("5 len 33 = %ld", r33);
    if (r33 == 0) {
        gprintf(", unregister with 32 = %ld", reg(a, 32, RSEQ_GUEST_FLAG_UNREGISTER, sig));
        gprintf(", with 33 = %ld", reg(a, 33, RSEQ_GUEST_FLAG_UNREGISTER, sig));
    }
    gprintf("\n");
    gprintf("6 flags -1 = %ld, flags 2 = %ld\n", reg(a, 32, -1, sig), reg(a, 32, 2, sig));
    gprintf("7 rseq(-4096) = %ld\n", reg((void *)-4096L, 32, 0, sig));
    gprintf("8 rseq(0x10000) = %ld\n", reg((void *)0x10000L, 32, 0, sig));

    a->rseq_cs = 0x1234;
    a->cpu_id_start = 77;
    a->cpu_id = 88;
    a->node_id = 99;
    a->mm_cid = 99;
    gprintf("9 prefilled area: rseq(area) = %ld\n", reg(a, 32, 0, sig));
    fields("9 fields", a);

    gprintf("10 identical again = %ld\n", reg(a, 32, 0, sig));
    gprintf("11 other sig = %ld\n", reg(a, 32, 0, sig + 1));
    gprintf("12 other area = %ld, other len = %ld\n", reg(other_bytes, 32, 0, sig),
            reg(a, 64, 0, sig));
    gprintf("13 flags 3 = %ld\n", reg(a, 32, 3, sig));
    gprintf("14 unregister: wrong sig = %ld, wrong len = %ld, other area = %ld\n",
            reg(a, 32, RSEQ_GUEST_FLAG_UNREGISTER, sig + 1),
            reg(a, 64, RSEQ_GUEST_FLAG_UNREGISTER, sig),
            reg(other_bytes, 32, RSEQ_GUEST_FLAG_UNREGISTER, sig));

    /* 16 before 15: the thread must still be registered. */
    gprintf("16 mprotect(PROT_READ) = %ld\n", gsyscall3(GSYS_mprotect, a, PAGE, 1));
    long u16 = reg(a, 32, RSEQ_GUEST_FLAG_UNREGISTER, sig);
    long again16 = reg(a, 32, 0, sig);
    gprintf("16 mprotect(PROT_READ|PROT_WRITE) = %ld\n", gsyscall3(GSYS_mprotect, a, PAGE, 3));
    gprintf("16 read-only area: unregister = %ld, then identical registration = %ld\n", u16,
            again16);

    /* 17: fork keeps the registration; a thread starts without one. */
    long pid = gfork();
    if (pid == 0) {
        long busy = reg(a, 32, 0, sig);
        gprintf("17 fork child: identical registration = %ld\n", busy);
        fields("17 child fields", a);
        gexit(0);
    }
    int status = -1;
    gsyscall4(GSYS_wait4, pid, &status, 0, 0);
    gprintf("17 fork child exit status = %d\n", status);
    int tid = 0;
    long t = gthread_start(thread_fn, 0, thread_stack + sizeof(thread_stack), &tid);
    gthread_join(&tid);
    gprintf("17 thread started = %s, its identical registration = %d\n", t > 0 ? "yes" : "no",
            thread_result);

    desc.start_ip = (uintptr_t)reg_dummy_cs;
    desc.post_commit_offset = 1;
    desc.abort_ip = (uintptr_t)reg_dummy_abort;
    a->rseq_cs = (uintptr_t)&desc;
    gprintf("15 unregister = %ld\n", reg(a, 32, RSEQ_GUEST_FLAG_UNREGISTER, sig));
    gprintf("15 after: cpu_id_start=%u cpu_id=%d node_id=%u mm_cid=%u rseq_cs=%s\n",
            a->cpu_id_start, (int)a->cpu_id, a->node_id, a->mm_cid,
            a->rseq_cs == (uintptr_t)&desc ? "unchanged" : "changed");
    gprintf("15 second unregister = %ld\n", reg(a, 32, RSEQ_GUEST_FLAG_UNREGISTER, sig));

    gprintf("18 registering before execve = %ld\n", reg(a, 32, 0, sig));
    char *args[] = {argv[0], "after-exec", 0};
    long e = gsyscall3(GSYS_execve, "/proc/self/exe", args, envp);
    gprintf("18 execve failed: %ld\n", e);
    return 1;
}
