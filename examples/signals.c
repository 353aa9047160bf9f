/* Signal handling end to end: handlers with and without SA_SIGINFO, blocked and pending
 * signals, an alternate stack, a SIGSEGV the program recovers from, a signal sent to another
 * thread with tgkill, and (with the argument "abort") abort(). Every line it prints is the same
 * on every schedule and natively. */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile sig_atomic_t usr1_count;
static volatile int last_code;
static volatile uintptr_t handler_sp_offset;
static volatile int handler_saw_onstack;
static char *guarded;
static volatile pid_t handler_tid;
static sem_t ready, go;

static void on_usr1(int sig)
{
    (void)sig;
    usr1_count++;
}

static void on_usr2_info(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)uc;
    last_code = si->si_code;
    handler_tid = (pid_t)syscall(SYS_gettid);
}

static char altstack[1 << 16];

static void on_alt(int sig)
{
    (void)sig;
    char local;
    handler_sp_offset = (uintptr_t)&local - (uintptr_t)altstack;
    stack_t ss;
    sigaltstack(NULL, &ss);
    handler_saw_onstack = (ss.ss_flags & SS_ONSTACK) != 0;
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)uc;
    /* Recover: make the page writable; the faulting store then runs again and succeeds. */
    char *addr = si->si_addr;
    if (addr >= guarded && addr < guarded + 4096 && si->si_code == SEGV_ACCERR)
        mprotect(guarded, 4096, PROT_READ | PROT_WRITE);
    else
        _exit(99);
}

static void *tgkill_target(void *arg)
{
    (void)arg;
    sem_post(&ready);
    sem_wait(&go); /* the signal interrupts this wait; sem_wait restarts (SA_RESTART) */
    return NULL;
}

static void install(int sig, void (*fn)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) != 0) {
        perror("sigaction");
        exit(1);
    }
}

static void install_info(int sig, void (*fn)(int, siginfo_t *, void *))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) != 0) {
        perror("sigaction");
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "abort")) {
        printf("calling abort()\n");
        fflush(stdout);
        abort();
    }

    /* A plain handler. */
    install(SIGUSR1, on_usr1, 0);
    raise(SIGUSR1);
    printf("handler ran %d time(s) after raise\n", (int)usr1_count);

    /* Blocked: pending until unblocked, then delivered once. */
    sigset_t set, pending;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    raise(SIGUSR1);
    raise(SIGUSR1);
    sigpending(&pending);
    printf("blocked: pending=%d, handler count still %d\n", sigismember(&pending, SIGUSR1),
           (int)usr1_count);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    printf("unblocked: handler count %d (one delivery for two raises)\n", (int)usr1_count);

    /* SA_SIGINFO reports how the signal was sent. */
    install_info(SIGUSR2, on_usr2_info);
    raise(SIGUSR2);
    printf("SA_SIGINFO: si_code is SI_TKILL: %s\n", last_code == SI_TKILL ? "yes" : "no");

    /* An alternate signal stack. */
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack), .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        perror("sigaltstack");
        return 1;
    }
    install(SIGUSR1, on_alt, SA_ONSTACK);
    raise(SIGUSR1);
    printf("alternate stack: handler frame inside it: %s, SS_ONSTACK seen: %s\n",
           handler_sp_offset < sizeof(altstack) ? "yes" : "no", handler_saw_onstack ? "yes" : "no");

    /* A SIGSEGV the program recovers from. */
    guarded = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    install_info(SIGSEGV, on_segv);
    guarded[100] = 42;
    printf("recovered from SIGSEGV: wrote %d to a read-only page\n", guarded[100]);

    /* tgkill to another thread: its handler runs there, its wait goes on afterwards. */
    sem_init(&ready, 0, 0);
    sem_init(&go, 0, 0);
    handler_tid = 0;
    pthread_t th;
    pthread_create(&th, NULL, tgkill_target, NULL);
    sem_wait(&ready);
    pid_t target;
    /* The thread's tid is not public; ask the kernel for it through /proc-free means:
     * pthread_getattr_np is unavailable without /proc, so send and check the handler's tid. */
    target = (pid_t)syscall(SYS_gettid);
    pthread_kill(th, SIGUSR2);
    while (handler_tid == 0)
        sched_yield();
    printf("tgkill: handler ran in the other thread: %s\n", handler_tid != target ? "yes" : "no");
    sem_post(&go);
    pthread_join(th, NULL);
    printf("done\n");
    return 0;
}
