/* Synchronous faults: the signal, si_code and si_addr a handler sees, and that the handler can
 * leave with siglongjmp. argv[1] names the fault; "nohandler" as argv[2] lets the default
 * action end the process (the status a shell would show). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static sigjmp_buf env;
static volatile int got_sig, got_code;
static volatile uintptr_t got_addr;
static volatile uintptr_t expect_addr;

static void handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    got_sig = sig;
    got_code = si->si_code;
    got_addr = (uintptr_t)si->si_addr;
    siglongjmp(env, 1);
}

static volatile uintptr_t low_address = 0x18; /* hidden from the compiler's bounds checks */

static void fault_segv_maperr(void)
{
    expect_addr = low_address;
    *(volatile int *)low_address = 1;
}

static void fault_segv_accerr(void)
{
    char *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    expect_addr = (uintptr_t)p + 8;
    *(volatile char *)(p + 8) = 1;
}

/* The trapping instruction is at a label so the expected si_addr is known. */
static void fault_ill(void)
{
#if defined(__x86_64__)
    __asm__ volatile("lea 1f(%%rip), %%rax\n mov %%rax, %0\n 1: ud2" : "=m"(expect_addr)::"rax");
#else
    __asm__ volatile("adr x9, 1f\n str x9, %0\n 1: udf #0" : "=m"(expect_addr)::"x9");
#endif
}

static void fault_trap(void)
{
#if defined(__x86_64__)
    expect_addr = 0; /* int3 is reported with SI_KERNEL and no address */
    __asm__ volatile("int3");
#else
    __asm__ volatile("adr x9, 1f\n str x9, %0\n 1: brk #0" : "=m"(expect_addr)::"x9");
#endif
}

static void fault_fpe(void)
{
#if defined(__x86_64__)
    volatile int zero = 0, one = 1;
    __asm__ volatile("lea 1f(%%rip), %%rcx\n mov %%rcx, %0\n mov %1, %%eax\n cltd\n 1: idivl %2"
                     : "=m"(expect_addr)
                     : "r"(one), "r"(zero)
                     : "rax", "rcx", "rdx");
#else
    volatile int zero = 0;
    printf("aarch64 integer division by zero gives %d, no signal\n", 1 / zero);
#endif
}

/* A call through a NULL function pointer: the fetch at 0 faults, si_addr 0. */
static void fault_null_call(void)
{
    static void (*volatile null_fn)(void);
    expect_addr = 0;
    null_fn();
}

/* lcall with a register operand (FF /3, mod 3): undefined, #UD. It once aborted the engine's
 * x86 translator (emu/x86_far_branch.c). */
static void fault_far_call(void)
{
#if defined(__x86_64__)
    __asm__ volatile("lea 1f(%%rip), %%rax\n mov %%rax, %0\n 1: .byte 0xff, 0xd8"
                     : "=m"(expect_addr)::"rax");
#else
    printf("aarch64 has no far call\n");
#endif
}

/* lock cmpsd: LOCK on an instruction that cannot take it is #UD; it once aborted the engine's
 * x86 translator (emu/x86_far_branch.c). */
static void fault_bad_lock(void)
{
#if defined(__x86_64__)
    __asm__ volatile("lea 1f(%%rip), %%rax\n mov %%rax, %0\n 1: .byte 0xf0, 0xa7"
                     : "=m"(expect_addr)::"rax");
#else
    printf("aarch64 has no lock prefix\n");
#endif
}

/* An unallocated "three same (FP16)" encoding: undefined, and it once aborted the engine's
 * aarch64 translator (emu/a64_fp16_guard.c). */
static void fault_fp16_unallocated(void)
{
#if defined(__aarch64__)
    __asm__ volatile("adr x9, 1f\n str x9, %0\n 1: .inst 0x4ec02601" : "=m"(expect_addr)::"x9");
#else
    printf("x86-64 has no such encoding\n");
#endif
}

static void fault_bus(void)
{
#if defined(__aarch64__)
    static uint64_t words[4];
    char *misaligned = (char *)words + 1;
    expect_addr = (uintptr_t)misaligned;
    uint64_t v;
    __asm__ volatile("ldxr %0, [%1]" : "=r"(v) : "r"(misaligned) : "memory");
#else
    printf("x86-64 has no alignment fault here\n");
#endif
}

struct fault {
    const char *name;
    void (*fn)(void);
    int sig;
};

static const struct fault faults[] = {
    {"segv_maperr", fault_segv_maperr, SIGSEGV},
    {"segv_accerr", fault_segv_accerr, SIGSEGV},
    {"ill", fault_ill, SIGILL},
    {"trap", fault_trap, SIGTRAP},
    {"fpe", fault_fpe, SIGFPE},
    {"bus", fault_bus, SIGBUS},
    {"null_call", fault_null_call, SIGSEGV},
    {"far_call", fault_far_call, SIGILL},
    {"fp16_unallocated", fault_fp16_unallocated, SIGILL},
    {"bad_lock", fault_bad_lock, SIGILL},
};

int main(int argc, char **argv)
{
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
        const struct fault *f = &faults[i];
        if (argc < 2 || strcmp(argv[1], f->name) != 0)
            continue;
        if (argc < 3 || strcmp(argv[2], "nohandler") != 0) {
            struct sigaction sa;
            memset(&sa, 0, sizeof(sa));
            sa.sa_sigaction = handler;
            sa.sa_flags = SA_SIGINFO;
            sigaction(f->sig, &sa, NULL);
        }
        if (sigsetjmp(env, 1) == 0) {
            f->fn();
            printf("%s: no fault\n", f->name);
            return 0;
        }
        printf("%s: signal %s, si_code %d, si_addr %s\n", f->name, strsignal(got_sig), got_code,
               got_addr == expect_addr ? "as expected" : "unexpected");
        return 0;
    }
    fprintf(stderr, "usage: faults segv_maperr|segv_accerr|ill|trap|fpe|bus [nohandler]\n");
    return 2;
}
