/* Four deliberately wrong uses of rseq, one per argument, each caught by the emulator's model
 * of the kernel with its own diagnostic:
 *
 *   syscall       a system call inside a critical section. Linux's DEBUG_RSEQ kills the
 *                 thread with SIGSEGV; so does rseqemu (--rseq-debug report only reports).
 *                 Debian's kernel, built without DEBUG_RSEQ, lets it pass.
 *   signature     the word before abort_ip is not the registered signature: the first abort
 *                 of the section kills the process with SIGSEGV, on Linux as here.
 *   abort-inside  abort_ip lies inside the section: Linux 6.1 to 6.18 refuse the descriptor
 *                 at the next return to user space while it is armed, with SIGSEGV.
 *   field-write   user space writes cpu_id, which only the kernel may write. Linux says
 *                 nothing and overwrites it at its next update; rseqemu reports the write,
 *                 and --rseq-watch names the instruction that made it.
 *
 * Each runs a loop of per-CPU increments on the area glibc registered. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rseq_guest.h"

#define ITERATIONS 100000

static intptr_t slot[64];

#if defined(__x86_64__)
/* The addv section with a getpid call between its check and its commit. */
static int add_with_syscall(struct rseq_area *area, intptr_t *v, int cpu)
{
    __asm__ __volatile__ goto(RSEQ_GUEST_DESCRIPTOR(3, 1f, 2f, 4f) /* */
                              "leaq 3b(%%rip), %%rax\n\t"
                              "movq %%rax, 8(%[area])\n\t"
                              "1:\n\t"
                              "cmpl %[cpu], 4(%[area])\n\t"
                              "jnz 4f\n\t"
                              "movl $39, %%eax\n\t" /* getpid */
                              "syscall\n\t"
                              "addq $1, %[v]\n\t"
                              "2:\n\t"
                              ".pushsection __rseq_failure, \"ax\"\n\t" RSEQ_GUEST_SIG_ASM "4:\n\t"
                              "jmp %l[aborted]\n\t"
                              ".popsection\n\t"
                              :
                              : [area] "r"(area), [cpu] "r"(cpu), [v] "m"(*v)
                              : "memory", "cc", "rax", "rcx", "r11"
                              : aborted);
    return 0;
aborted:
    return 1;
}

/* The addv section whose abort handler follows 0xbadc0de, not RSEQ_GUEST_SIG. */
static int add_bad_signature(struct rseq_area *area, intptr_t *v, int cpu)
{
    __asm__ __volatile__ goto(RSEQ_GUEST_DESCRIPTOR(3, 1f, 2f, 4f) /* */
                              "leaq 3b(%%rip), %%rax\n\t"
                              "movq %%rax, 8(%[area])\n\t"
                              "1:\n\t"
                              "cmpl %[cpu], 4(%[area])\n\t"
                              "jnz 4f\n\t"
                              "movq %[v], %%rax\n\t"
                              "addq $1, %%rax\n\t"
                              "movq %%rax, %[v]\n\t"
                              "2:\n\t"
                              ".pushsection __rseq_failure, \"ax\"\n\t"
                              ".byte 0x0f, 0xb9, 0x3d\n\t"
                              ".long 0xbadc0de\n\t"
                              "4:\n\t"
                              "jmp %l[aborted]\n\t"
                              ".popsection\n\t"
                              :
                              : [area] "r"(area), [cpu] "r"(cpu), [v] "m"(*v)
                              : "memory", "cc", "rax"
                              : aborted);
    return 0;
aborted:
    return 1;
}

/* The addv section whose descriptor names its own commit instruction as abort_ip. */
static int add_abort_inside(struct rseq_area *area, intptr_t *v, int cpu)
{
    __asm__ __volatile__ goto(RSEQ_GUEST_DESCRIPTOR(3, 1f, 2f, 4f) /* */
                              "leaq 3b(%%rip), %%rax\n\t"
                              "movq %%rax, 8(%[area])\n\t"
                              "1:\n\t"
                              "cmpl %[cpu], 4(%[area])\n\t"
                              "jnz %l[aborted]\n\t"
                              "jmp 4f\n\t" RSEQ_GUEST_SIG_ASM "4:\n\t"
                              "addq $1, %[v]\n\t"
                              "2:\n\t"
                              :
                              : [area] "r"(area), [cpu] "r"(cpu), [v] "m"(*v)
                              : "memory", "cc", "rax"
                              : aborted);
    return 0;
aborted:
    return 1;
}
#elif defined(__aarch64__)
static int add_with_syscall(struct rseq_area *area, intptr_t *v, int cpu)
{
    __asm__ __volatile__ goto(RSEQ_GUEST_DESCRIPTOR(3, 1f, 2f, 4f) /* */
                              RSEQ_GUEST_ARM(3b) "1:\n\t"
                                                 "ldr w16, [%[area], #4]\n\t"
                                                 "cmp w16, %w[cpu]\n\t"
                                                 "bne 4f\n\t"
                                                 "mov x8, #172\n\t" /* getpid */
                                                 "svc #0\n\t"
                                                 "ldr x16, %[v]\n\t"
                                                 "add x16, x16, #1\n\t"
                                                 "str x16, %[v]\n\t"
                                                 "2:\n\t"
                                                 "b 5f\n\t" RSEQ_GUEST_SIG_ASM "4:\n\t"
                                                 "b %l[aborted]\n\t"
                                                 "5:\n\t"
                              :
                              : [area] "r"(area), [cpu] "r"(cpu), [v] "Q"(*v)
                              : "memory", "cc", "x0", "x8", "x16", "x17"
                              : aborted);
    return 0;
aborted:
    return 1;
}

static int add_bad_signature(struct rseq_area *area, intptr_t *v, int cpu)
{
    __asm__ __volatile__ goto(RSEQ_GUEST_DESCRIPTOR(3, 1f, 2f, 4f) /* */
                              RSEQ_GUEST_ARM(3b) "1:\n\t"
                                                 "ldr w16, [%[area], #4]\n\t"
                                                 "cmp w16, %w[cpu]\n\t"
                                                 "bne 4f\n\t"
                                                 "ldr x16, %[v]\n\t"
                                                 "add x16, x16, #1\n\t"
                                                 "str x16, %[v]\n\t"
                                                 "2:\n\t"
                                                 "b 5f\n\t"
                                                 ".inst 0x0badc0de\n\t"
                                                 "4:\n\t"
                                                 "b %l[aborted]\n\t"
                                                 "5:\n\t"
                              :
                              : [area] "r"(area), [cpu] "r"(cpu), [v] "Q"(*v)
                              : "memory", "cc", "x16", "x17"
                              : aborted);
    return 0;
aborted:
    return 1;
}

static int add_abort_inside(struct rseq_area *area, intptr_t *v, int cpu)
{
    __asm__ __volatile__ goto(RSEQ_GUEST_DESCRIPTOR(3, 1f, 2f, 4f) /* */
                              RSEQ_GUEST_ARM(3b) "1:\n\t"
                                                 "ldr w16, [%[area], #4]\n\t"
                                                 "cmp w16, %w[cpu]\n\t"
                                                 "bne %l[aborted]\n\t"
                                                 "b 4f\n\t" RSEQ_GUEST_SIG_ASM "4:\n\t"
                                                 "ldr x16, %[v]\n\t"
                                                 "add x16, x16, #1\n\t"
                                                 "str x16, %[v]\n\t"
                                                 "2:\n\t"
                              :
                              : [area] "r"(area), [cpu] "r"(cpu), [v] "Q"(*v)
                              : "memory", "cc", "x16", "x17"
                              : aborted);
    return 0;
aborted:
    return 1;
}
#endif

static int add_correctly(struct rseq_area *area, intptr_t *v, int cpu)
{
    return rseq_guest_addv(area, v, 1, cpu);
}

/* A correct section, but the thread pretends to have moved to CPU 42. */
static int add_after_field_write(struct rseq_area *area, intptr_t *v, int cpu)
{
    static int wrote;
    if (!wrote++)
        area->cpu_id = 42;
    return rseq_guest_addv(area, v, 1, cpu);
}

static const struct bug {
    const char *name;
    int (*add)(struct rseq_area *area, intptr_t *v, int cpu);
} bugs[] = {
    {"syscall", add_with_syscall},
    {"signature", add_bad_signature},
    {"abort-inside", add_abort_inside},
    {"field-write", add_after_field_write},
    {"none", add_correctly},
};

int main(int argc, char **argv)
{
    const struct bug *bug = NULL;
    for (size_t i = 0; i < sizeof(bugs) / sizeof(bugs[0]); i++)
        if (argc == 2 && strcmp(argv[1], bugs[i].name) == 0)
            bug = &bugs[i];
    if (!bug) {
        fprintf(stderr, "usage: rseq_bugs syscall|signature|abort-inside|field-write|none\n");
        return 2;
    }
    struct rseq_area *area = rseq_guest_glibc_area();
    if (!area) {
        printf("glibc did not register rseq\n");
        return 1;
    }
    for (int i = 0; i < ITERATIONS; i++) {
        for (;;) {
            int cpu = (int)RSEQ_GUEST_READ(area->cpu_id_start);
            if (bug->add(area, &slot[cpu < 64 ? cpu : 0], cpu) == 0)
                break;
        }
    }
    intptr_t total = 0;
    for (int c = 0; c < 64; c++)
        total += slot[c];
    printf("%s: total = %ld of %d\n", bug->name, (long)total, ITERATIONS);
    return 0;
}
