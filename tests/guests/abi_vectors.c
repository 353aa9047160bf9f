/* Signals and the process ABI by the vectors of spec 9.6 that a program can see (the frame
 * layouts themselves are checked in tests/unit/test_sigframe_*; futex restarts and the join
 * wake-up in test_futex). Prints errno values and relations only, so it reads the same under
 * the emulator and natively.
 *   abi_vectors            79, 80, 81, 82, 85, 86, 87
 *   abi_vectors 76         x86-64: a handler without SA_RESTORER, then a signal */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

static long raw(long nr, long a, long b, long c, long d)
{
    long r = syscall(nr, a, b, c, d);
    return r < 0 ? -errno : r;
}

/* The kernel's struct sigaction (not glibc's): handler, flags, restorer, mask. */
struct ksigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};

static void nothing(int sig) { (void)sig; }

static volatile int blocked_usr1, blocked_usr2;
static void check_mask(int sig)
{
    (void)sig;
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    blocked_usr1 = sigismember(&cur, SIGUSR1);
    blocked_usr2 = sigismember(&cur, SIGUSR2);
}

static volatile int onstack, ss_flags_in_handler, change_errno;
static char altstack[65536];
static void on_alt(int sig)
{
    (void)sig;
    int local;
    onstack = (char *)&local >= altstack && (char *)&local < altstack + sizeof(altstack);
    stack_t ss;
    sigaltstack(NULL, &ss);
    ss_flags_in_handler = ss.ss_flags;
    stack_t other = {.ss_sp = altstack, .ss_size = sizeof(altstack)};
    change_errno = sigaltstack(&other, NULL) == 0 ? 0 : errno;
}

static void *sleeper(void *arg)
{
    (void)arg;
    pause();
    return NULL;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && !strcmp(argv[1], "76")) {
#if defined(__x86_64__)
        struct ksigaction ka = {.handler = nothing};
        printf("76 rt_sigaction without SA_RESTORER = %ld\n",
               raw(SYS_rt_sigaction, SIGUSR1, (long)&ka, 0, 8));
        raise(SIGUSR1);
        printf("76 still alive\n");
#endif
        return 0;
    }

    /* 79: sa_mask and the signal itself are blocked in the handler, restored after. */
    struct sigaction sa = {.sa_handler = check_mask};
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    sigset_t after;
    sigprocmask(SIG_BLOCK, NULL, &after);
    printf("79 in the handler: SIGUSR1 blocked %d, SIGUSR2 blocked %d; after: %d %d\n",
           blocked_usr1, blocked_usr2, sigismember(&after, SIGUSR1), sigismember(&after, SIGUSR2));

    /* 80: SA_ONSTACK runs on the alternate stack, which cannot change meanwhile. */
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack)};
    sigaltstack(&ss, NULL);
    struct sigaction alt = {.sa_handler = on_alt, .sa_flags = SA_ONSTACK};
    sigaction(SIGUSR2, &alt, NULL);
    raise(SIGUSR2);
    printf("80 on the alternate stack %d, SS_ONSTACK %d, changing it there: %s\n", onstack,
           (ss_flags_in_handler & SS_ONSTACK) != 0, change_errno == EPERM ? "EPERM" : "allowed");

    /* 81: argument checks of rt_sigaction and rt_sigprocmask. */
    struct ksigaction ka = {.handler = nothing, .flags = 0};
    uint64_t set = 0, old = 0;
    printf("81 rt_sigaction sigsetsize 16 = %ld, SIGKILL = %ld\n",
           raw(SYS_rt_sigaction, SIGUSR1, (long)&ka, 0, 16),
           raw(SYS_rt_sigaction, SIGKILL, (long)&ka, 0, 8));
    printf("81 rt_sigprocmask how 3 = %ld, how 3 without sets = %ld, sigsetsize 4 = %ld\n",
           raw(SYS_rt_sigprocmask, 3, (long)&set, (long)&old, 8),
           raw(SYS_rt_sigprocmask, 3, 0, 0, 8),
           raw(SYS_rt_sigprocmask, 0, (long)&set, (long)&old, 4));

    /* 82: tgkill to a thread of another process, and with tgid 0. */
    pthread_t th;
    pthread_create(&th, NULL, sleeper, NULL);
    long self = raw(SYS_gettid, 0, 0, 0, 0);
    printf("82 tgkill(our pid, a tid not ours) = %ld, tgkill(0, our tid) = %ld\n",
           raw(SYS_tgkill, getpid(), 999999, SIGUSR1, 0), raw(SYS_tgkill, 0, self, SIGUSR1, 0));

    /* 85: clone3's size checks, and a stack without a size. */
    uint64_t args[16] = {0};
    printf("85 clone3 size 63 = %ld, size 4097 = %ld\n", raw(SYS_clone3, (long)args, 63, 0, 0),
           raw(SYS_clone3, (long)args, 4097, 0, 0));
    args[5] = (uint64_t)(uintptr_t)altstack; /* stack, with stack_size 0 */
    printf("85 clone3 stack without stack_size = %ld\n", raw(SYS_clone3, (long)args, 88, 0, 0));

    /* 86: the auxiliary vector always carries AT_RANDOM. */
    printf("86 AT_RANDOM present: %s\n", getauxval(AT_RANDOM) ? "yes" : "no");

    /* 87: sched_getaffinity sizes, set_robust_list's length. */
    uint8_t mask[128];
    /* The size of the kernel's CPU mask: 8 bytes for up to 64 CPUs, more on a host with more
     * possible CPUs. */
    long full = raw(SYS_sched_getaffinity, 0, 128, (long)mask, 0);
    printf("87 sched_getaffinity len 4 = %ld, len 12 = %ld, len 128 = a mask size: %s\n",
           raw(SYS_sched_getaffinity, 0, 4, (long)mask, 0),
           raw(SYS_sched_getaffinity, 0, 12, (long)mask, 0),
           full >= 8 && full % 8 == 0 ? "yes" : "no");
    printf("87 set_robust_list len 16 = %ld\n", raw(SYS_set_robust_list, (long)mask, 16, 0, 0));

    pthread_cancel(th);
    pthread_join(th, NULL);
    return 0;
}
