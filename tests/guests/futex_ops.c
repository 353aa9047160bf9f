/* futex(2) as glibc uses it, checked from the guest's side (spec 7.6, vectors 83 and 84).
 * Prints one line per check; the test compares them. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long futex(uint32_t *uaddr, int op, uint32_t val, const struct timespec *ts,
                  uint32_t *uaddr2, uint32_t val3)
{
    return syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}

static const char *err(long rc)
{
    return rc == 0 ? "0" : rc > 0 ? "positive" : strerrorname_np(errno);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint32_t word;
static volatile int waiters_ready;

static void *waiter(void *arg)
{
    uint32_t bitset = (uint32_t)(uintptr_t)arg;
    __atomic_add_fetch(&waiters_ready, 1, __ATOMIC_SEQ_CST);
    futex(&word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, 0, NULL, NULL, bitset);
    return NULL;
}

static void wait_until_blocked(int n)
{
    while (__atomic_load_n(&waiters_ready, __ATOMIC_SEQ_CST) < n)
        sched_yield();
    /* Give the waiters time to enter the kernel. */
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
}

static volatile int got_signal;
static void on_usr1(int sig)
{
    (void)sig;
    got_signal = 1;
}

struct interrupt_args {
    pthread_t target;
};

static void *interrupter(void *arg)
{
    struct interrupt_args *a = arg;
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
    pthread_kill(a->target, SIGUSR1);
    nanosleep(&ts, NULL);
    word = 1; /* let a restarted wait see the change */
    futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    return NULL;
}

static void interrupted_wait(int sa_flags, const char *label)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1;
    sa.sa_flags = sa_flags;
    sigaction(SIGUSR1, &sa, NULL);
    word = 0;
    got_signal = 0;
    struct interrupt_args a = {pthread_self()};
    pthread_t t;
    pthread_create(&t, NULL, interrupter, &a);
    long rc = futex(&word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    printf("%s: wait returned %s, handler ran %d, word %u\n", label, err(rc), got_signal, word);
    pthread_join(t, NULL);
}

static void *short_lived(void *arg)
{
    (void)arg;
    return (void *)42;
}

int main(void)
{
    /* Argument checks. */
    word = 5;
    printf("wait on a different value: %s\n", err(futex(&word, FUTEX_WAIT, 4, NULL, NULL, 0)));
    printf("wait misaligned: %s\n",
           err(futex((uint32_t *)((char *)&word + 1), FUTEX_WAIT, 5, NULL, NULL, 0)));
    printf("wait_bitset with bitset 0: %s\n",
           err(futex(&word, FUTEX_WAIT_BITSET, 5, NULL, NULL, 0)));
    printf("wait on unmapped memory: %s\n",
           err(futex((uint32_t *)16, FUTEX_WAIT, 0, NULL, NULL, 0)));
    struct timespec bad = {0, 1000000000};
    printf("wait with tv_nsec out of range: %s\n", err(futex(&word, FUTEX_WAIT, 5, &bad, NULL, 0)));
    printf("wake with nobody waiting: %ld\n", futex(&word, FUTEX_WAKE, 1, NULL, NULL, 0));
    printf("unknown operation: %s\n", err(futex(&word, 99, 0, NULL, NULL, 0)));

    /* Relative timeout on virtual time: the wait lasts at least the timeout. */
    struct timespec rel = {0, 10000000};
    uint64_t t0 = now_ns();
    long rc = futex(&word, FUTEX_WAIT_PRIVATE, 5, &rel, NULL, 0);
    uint64_t waited = now_ns() - t0;
    printf("relative timeout: %s, waited at least 10ms: %s\n", err(rc),
           waited >= 10000000 ? "yes" : "no");

    /* Absolute timeout with WAIT_BITSET on CLOCK_MONOTONIC. */
    struct timespec abs;
    clock_gettime(CLOCK_MONOTONIC, &abs);
    abs.tv_nsec += 5000000;
    if (abs.tv_nsec >= 1000000000) {
        abs.tv_sec++;
        abs.tv_nsec -= 1000000000;
    }
    rc =
        futex(&word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, 5, &abs, NULL, FUTEX_BITSET_MATCH_ANY);
    printf("absolute timeout: %s\n", err(rc));

    /* Wake counts, and bitsets: a wake reaches only waiters whose bitset meets its own. */
    word = 0;
    pthread_t t[4];
    waiters_ready = 0;
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, waiter, (void *)(uintptr_t)(i < 2 ? 1 : 2));
    wait_until_blocked(4);
    printf("wake bitset 1 (2 of 4 match): %ld\n",
           futex(&word, FUTEX_WAKE_BITSET | FUTEX_PRIVATE_FLAG, 10, NULL, NULL, 1));
    printf("wake 1 of the rest: %ld\n", futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
    printf("wake the rest: %ld\n", futex(&word, FUTEX_WAKE_PRIVATE, 10, NULL, NULL, 0));
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);

    /* Requeue: one woken, the others moved to another word. */
    static uint32_t other;
    word = 0;
    waiters_ready = 0;
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, waiter, (void *)(uintptr_t)FUTEX_BITSET_MATCH_ANY);
    wait_until_blocked(3);
    printf("cmp_requeue with a stale value: %s\n",
           err(futex(&word, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)(uintptr_t)10, &other, 7)));
    printf("cmp_requeue: %ld\n",
           futex(&word, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)(uintptr_t)10, &other, 0));
    printf("wake on the old word: %ld\n", futex(&word, FUTEX_WAKE_PRIVATE, 10, NULL, NULL, 0));
    printf("wake on the new word: %ld\n", futex(&other, FUTEX_WAKE_PRIVATE, 10, NULL, NULL, 0));
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);

    /* WAKE_OP: add 1 to the second word and wake its waiters if it was 0. */
    other = 0;
    long woken = futex(&word, FUTEX_WAKE_OP_PRIVATE, 1, (void *)(uintptr_t)1, &other,
                       FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 0));
    printf("wake_op: woke %ld, second word now %u\n", woken, other);

    /* Vector 84: a joiner blocked on the thread's tid word wakes when the thread exits. */
    pthread_t j;
    pthread_create(&j, NULL, short_lived, NULL);
    void *ret;
    pthread_join(j, &ret);
    printf("join through CLONE_CHILD_CLEARTID: returned %ld\n", (long)(intptr_t)ret);

    /* Vector 83: SA_RESTART restarts an untimed wait transparently; without it, EINTR. */
    interrupted_wait(SA_RESTART, "interrupted with SA_RESTART");
    interrupted_wait(0, "interrupted without SA_RESTART");
    return 0;
}
