/* Where a synchronous SIGSEGV is reported: the signal frame's PC must be the faulting
 * instruction itself, so that a handler which repairs the fault and returns re-runs only that
 * instruction. Natively this prints "yes" twice and "ran once"; see tests/e2e/README.md. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

extern char segv_pc_load[]; /* the faulting load in load_null() */
static sigjmp_buf recover;
static volatile uintptr_t fault_pc;
static char *guarded;

static uintptr_t frame_pc(void *ucv)
{
    ucontext_t *uc = ucv;
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#else
    return (uintptr_t)uc->uc_mcontext.pc;
#endif
}

/* Records the PC and leaves the faulting code through siglongjmp. */
static void on_segv_jump(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)si;
    fault_pc = frame_pc(uc);
    siglongjmp(recover, 1);
}

/* Makes the page writable and returns: the faulting store runs again and succeeds. */
static void on_segv_fix(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)uc;
    if ((char *)si->si_addr >= guarded && (char *)si->si_addr < guarded + 4096)
        mprotect(guarded, 4096, PROT_READ | PROT_WRITE);
}

/* A load from address p, at the global label segv_pc_load, after two other instructions. */
static __attribute__((noinline)) long load_null(long p)
{
    long v;
#if defined(__x86_64__)
    asm volatile("nop\n\tnop\n\t.globl segv_pc_load\nsegv_pc_load:\n\tmovq (%1), %0"
                 : "=r"(v)
                 : "r"(p)
                 : "memory");
#else
    asm volatile("nop\n\tnop\n\t.globl segv_pc_load\nsegv_pc_load:\n\tldr %0, [%1]"
                 : "=r"(v)
                 : "r"(p)
                 : "memory");
#endif
    return v;
}

/* Starts a block (a branch target), increments n, then stores to page: returns n. */
static __attribute__((noinline)) long increment_then_store(char *page)
{
    long n = 0;
#if defined(__x86_64__)
    asm volatile("jmp 1f\n1:\n\tincq %0\n\tmovb $42, (%1)" : "+r"(n) : "r"(page) : "memory");
#else
    asm volatile("b 1f\n1:\n\tadd %0, %0, #1\n\tstrb wzr, [%1]" : "+r"(n) : "r"(page) : "memory");
#endif
    return n;
}

static void install(void (*fn)(int, siginfo_t *, void *))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
}

int main(int argc, char **argv)
{
    (void)argv;
    install(on_segv_jump);
    if (!sigsetjmp(recover, 1))
        load_null(argc - 1);
    long delta = (long)(fault_pc - (uintptr_t)segv_pc_load);
    printf("load fault: frame PC is the faulting instruction: %s\n", delta == 0 ? "yes" : "no");
    if (delta != 0)
        fprintf(stderr, "segv_pc: frame PC is %ld bytes from the faulting load\n", delta);

    guarded = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (guarded == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    install(on_segv_fix);
    long n = increment_then_store(guarded);
    printf("store fault repaired: the increment before it ran %s\n",
           n == 1   ? "once"
           : n == 2 ? "twice"
                    : "an unexpected number of times");
    return 0;
}
