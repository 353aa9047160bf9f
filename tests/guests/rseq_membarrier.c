/* membarrier(2) and its rseq fence, by the vectors of spec 9.4 (49-58). Thread B (and, for
 * vector 56, a child process C) spin inside a critical section that has no way out but an
 * abort; the main thread A sends the fence. Uses glibc's own rseq area. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rseq_guest.h"

#ifndef MEMBARRIER_CMD_GET_REGISTRATIONS
#define MEMBARRIER_CMD_GET_REGISTRATIONS 512
#endif

/* int mb_spin_cs(struct rseq_area *area, volatile int *inside): sets *inside inside the
 * section and spins there; only an abort leaves it, and then it returns 1. */
#if defined(__x86_64__)
__asm__(".pushsection __rseq_cs, \"aw\"\n"
        ".balign 32\n"
        "mb_desc:\n"
        "  .long 0, 0\n"
        "  .quad mb_spin_start, mb_spin_post - mb_spin_start, mb_spin_abort\n"
        ".popsection\n"
        ".pushsection __rseq_cs_ptr_array, \"aw\"\n"
        "  .quad mb_desc\n"
        ".popsection\n"
        ".text\n"
        ".globl mb_spin_cs\n"
        "mb_spin_cs:\n"
        "  leaq mb_desc(%rip), %rax\n"
        "  movq %rax, 8(%rdi)\n"
        "mb_spin_start:\n"
        "  movl $1, (%rsi)\n"
        "mb_spin_loop:\n"
        "  jmp mb_spin_loop\n"
        "mb_spin_post:\n"
        "  xorl %eax, %eax\n"
        "  ret\n"
        "  .byte 0x0f, 0xb9, 0x3d\n"
        "  .long 0x53053053\n"
        "mb_spin_abort:\n"
        "  movl $1, %eax\n"
        "  ret\n");
#elif defined(__aarch64__)
__asm__(".pushsection __rseq_cs, \"aw\"\n"
        ".balign 32\n"
        "mb_desc:\n"
        "  .long 0, 0\n"
        "  .quad mb_spin_start, mb_spin_post - mb_spin_start, mb_spin_abort\n"
        ".popsection\n"
        ".pushsection __rseq_cs_ptr_array, \"aw\"\n"
        "  .quad mb_desc\n"
        ".popsection\n"
        ".text\n"
        ".globl mb_spin_cs\n"
        "mb_spin_cs:\n"
        "  adrp x9, mb_desc\n"
        "  add x9, x9, :lo12:mb_desc\n"
        "  str x9, [x0, #8]\n"
        "mb_spin_start:\n"
        "  mov w10, #1\n"
        "  str w10, [x1]\n"
        "mb_spin_loop:\n"
        "  b mb_spin_loop\n"
        "mb_spin_post:\n"
        "  mov w0, #0\n"
        "  ret\n"
        "  .inst 0xd428bc00\n"
        "mb_spin_abort:\n"
        "  mov w0, #1\n"
        "  ret\n");
#endif
int mb_spin_cs(struct rseq_area *area, volatile int *inside);

static long membarrier(int cmd, unsigned flags, int cpu)
{
    long r = syscall(__NR_membarrier, cmd, flags, cpu);
    return r < 0 ? -errno : r;
}

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof(set), &set);
}

/* What a spinner shares with A: it lives in shared memory, for the child process too. */
struct spinner {
    volatile int inside, stop, aborts;
};

static void spin(struct spinner *s, int cpu)
{
    pin(cpu);
    struct rseq_area *area = rseq_guest_glibc_area();
    while (!s->stop) {
        s->inside = 0;
        s->aborts += mb_spin_cs(area, &s->inside);
    }
}

static void *thread_b(void *arg)
{
    spin(arg, 1);
    return NULL;
}

static void wait_inside(struct spinner *s)
{
    while (!s->inside)
        sched_yield();
}

static void wait_aborts(struct spinner *s, int n)
{
    while (s->aborts < n)
        sched_yield();
}

static int after_exec(void)
{
    printf("58 after execve: PRIVATE_EXPEDITED_RSEQ = %ld\n",
           membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 0, 0));
    return 0;
}

int main(int argc, char **argv, char **envp)
{
    if (argc > 1 && !strcmp(argv[1], "after-exec"))
        return after_exec();
    if (!rseq_guest_glibc_area()) {
        printf("glibc did not register rseq\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    pin(0);
    printf("49 QUERY = 0x%lx\n", membarrier(MEMBARRIER_CMD_QUERY, 0, 0));
    printf("50 PRIVATE_EXPEDITED_RSEQ before registering = %ld\n",
           membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 0, 0));
    printf("51 RSEQ flags 2 = %ld, QUERY flags 1 = %ld\n",
           membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 2, 0),
           membarrier(MEMBARRIER_CMD_QUERY, 1, 0));
    long r1 = membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0);
    long r2 = membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0);
    printf("52 REGISTER_RSEQ = %ld, again = %ld\n", r1, r2);
    printf("53 PRIVATE_EXPEDITED = %ld, GET_REGISTRATIONS = %ld\n",
           membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0),
           membarrier(MEMBARRIER_CMD_GET_REGISTRATIONS, 0, 0));
    printf("54 RSEQ cpu 1000 = %ld, cpu -5 = %ld\n",
           membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, MEMBARRIER_CMD_FLAG_CPU, 1000),
           membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, MEMBARRIER_CMD_FLAG_CPU, -5));
    printf("57 single-threaded RSEQ = %ld\n",
           membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 0, 0));

    struct spinner *b = mmap(NULL, 2 * sizeof(struct spinner), PROT_READ | PROT_WRITE,
                             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    struct spinner *c = b + 1;
    pid_t child = fork();
    if (child == 0) {
        spin(c, 2); /* another process: A's fence never reaches it */
        _exit(0);
    }
    pthread_t tb;
    pthread_create(&tb, NULL, thread_b, b);

    /* 55: B is inside its section on CPU 1; the fence aimed at CPU 1 aborts it. */
    wait_inside(b);
    wait_inside(c);
    printf("55 RSEQ to cpu 1 = %ld\n",
           membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, MEMBARRIER_CMD_FLAG_CPU, 1));
    wait_aborts(b, 1);
    printf("55 B left its section through the abort handler: %s\n", b->aborts >= 1 ? "yes" : "no");

    /* 56: to every CPU but A's own: B aborts again; C, another process, does not. */
    wait_inside(b);
    int c_before = c->aborts;
    printf("56 RSEQ to all = %ld\n", membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 0, 0));
    wait_aborts(b, 2);
    printf("56 B aborted again: %s; C aborted by it: %s\n", b->aborts >= 2 ? "yes" : "no",
           c->aborts != c_before ? "yes" : "no");

    b->stop = 1;
    membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, MEMBARRIER_CMD_FLAG_CPU, 1);
    pthread_join(tb, NULL);
    kill(child, SIGKILL);
    int status;
    waitpid(child, &status, 0);
    /* On a real machine a preemption may abort B too: only the fences are counted on. */
    printf("spinners done: B aborted at least 3 times: %s, C killed by signal %d\n",
           b->aborts >= 3 ? "yes" : "no", WIFSIGNALED(status) ? WTERMSIG(status) : 0);

    char *args[] = {argv[0], "after-exec", NULL};
    execve("/proc/self/exe", args, envp);
    printf("58 execve failed\n");
    return 1;
}
