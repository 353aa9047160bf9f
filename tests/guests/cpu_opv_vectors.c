/* cpu_opv by the vectors of spec 9.5 (59-75), through guest/include/cpu_opv.h. Each line names
 * its vector and prints results (-errno on failure) and relations, never addresses or CPU
 * counts. Uses glibc's own rseq area.
 *   cpu_opv_vectors          59-73 and 75 on the main thread (A, pinned to CPU 0), then 62b and
 *                            74 with a second thread B inside a critical section on CPU 2
 *   cpu_opv_vectors 74       only 62b and 74
 *   cpu_opv_vectors nr N     the NR query under syscall number N (the configured one gives 6)
 * On Linux every call gets ENOSYS (-38): no kernel has cpu_opv at 1000. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "cpu_opv.h"
#include "rseq_guest.h"

#define PAGE 4096

#if defined(__x86_64__)
#define TASK_SIZE 0x7ffffffff000ULL /* spec 0.3 */
#else
#define TASK_SIZE 0x1000000000000ULL
#endif

/* int opv_cs(struct rseq_area *area, volatile int *inside, int64_t *counter, volatile int *go):
 * a critical section that reads *counter, sets *inside, spins until *go, then commits
 * *counter = the value read + 1. 0 after the commit, 1 from the abort handler. An abort is the
 * only way out while *go is 0, and a commit after an update it missed would lose that update. */
#if defined(__x86_64__)
__asm__(".pushsection __rseq_cs, \"aw\"\n"
        ".balign 32\n"
        "opv_desc:\n"
        "  .long 0, 0\n"
        "  .quad opv_cs_start, opv_cs_post - opv_cs_start, opv_cs_abort\n"
        ".popsection\n"
        ".pushsection __rseq_cs_ptr_array, \"aw\"\n"
        "  .quad opv_desc\n"
        ".popsection\n"
        ".text\n"
        ".globl opv_cs\n"
        "opv_cs:\n"
        "  leaq opv_desc(%rip), %rax\n"
        "  movq %rax, 8(%rdi)\n"
        "opv_cs_start:\n"
        "  movq (%rdx), %r8\n"
        "  movl $1, (%rsi)\n"
        "opv_cs_wait:\n"
        "  cmpl $0, (%rcx)\n"
        "  je opv_cs_wait\n"
        "  addq $1, %r8\n"
        "  movq %r8, (%rdx)\n"
        "opv_cs_post:\n"
        "  xorl %eax, %eax\n"
        "  ret\n"
        "  .byte 0x0f, 0xb9, 0x3d\n"
        "  .long 0x53053053\n"
        "opv_cs_abort:\n"
        "  movl $1, %eax\n"
        "  ret\n");
#elif defined(__aarch64__)
__asm__(".pushsection __rseq_cs, \"aw\"\n"
        ".balign 32\n"
        "opv_desc:\n"
        "  .long 0, 0\n"
        "  .quad opv_cs_start, opv_cs_post - opv_cs_start, opv_cs_abort\n"
        ".popsection\n"
        ".pushsection __rseq_cs_ptr_array, \"aw\"\n"
        "  .quad opv_desc\n"
        ".popsection\n"
        ".text\n"
        ".globl opv_cs\n"
        "opv_cs:\n"
        "  adrp x9, opv_desc\n"
        "  add x9, x9, :lo12:opv_desc\n"
        "  str x9, [x0, #8]\n"
        "opv_cs_start:\n"
        "  ldr x10, [x2]\n"
        "  mov w11, #1\n"
        "  str w11, [x1]\n"
        "opv_cs_wait:\n"
        "  ldr w11, [x3]\n"
        "  cbz w11, opv_cs_wait\n"
        "  add x10, x10, #1\n"
        "  str x10, [x2]\n"
        "opv_cs_post:\n"
        "  mov w0, #0\n"
        "  ret\n"
        "  .inst 0xd428bc00\n"
        "opv_cs_abort:\n"
        "  mov w0, #1\n"
        "  ret\n");
#endif
int opv_cs(struct rseq_area *area, volatile int *inside, int64_t *counter, volatile int *go);

static void pin_to(int a, int b)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(a, &set);
    CPU_SET(b, &set);
    sched_setaffinity(0, sizeof(set), &set);
}

static void pin(int cpu) { pin_to(cpu, cpu); }

/* Pages: one read-write, one read-only, and the address of one that is unmapped. */
static char *rw, *ro, *unmapped;

static void map_pages(void)
{
    char *p = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    rw = p;
    ro = p + PAGE;
    unmapped = p + 2 * PAGE;
    mprotect(ro, PAGE, PROT_READ);
    munmap(unmapped, PAGE);
}

static const char *yes(int cond) { return cond ? "yes" : "no"; }

static void queries(void)
{
    printf("59 NR_FLAG cpu 0 = %d, cpu -1 = %d\n", cpu_opv(NULL, 0, 0, CPU_OP_NR_FLAG),
           cpu_opv(NULL, 0, -1, CPU_OP_NR_FLAG));
    printf("60 VEC_LEN_MAX_FLAG = %d, flags 3 = %d, flags 4 = %d\n",
           cpu_opv(NULL, 0, 0, CPU_OP_VEC_LEN_MAX_FLAG), cpu_opv(NULL, 0, 0, 3),
           cpu_opv(NULL, 0, 0, 4));
}

static void argument_checks(void)
{
    int64_t x = 0, y = 0;
    struct cpu_op eq = cpu_op_compare(CPU_COMPARE_EQ_OP, &x, &y, 8);
    struct cpu_op five[5] = {eq, eq, eq, eq, eq};
    printf("61 cpu -1 = %d, cpuopcnt 5 = %d, cpuopcnt -1 = %d\n", cpu_opv(&eq, 1, -1, 0),
           cpu_opv(five, 5, 0, 0), cpu_opv(&eq, -1, 0, 0));
    printf("62 vector unmapped = %d, empty NULL vector = %d\n",
           cpu_opv((struct cpu_op *)unmapped, 1, 0, 0), cpu_opv(NULL, 0, 0, 0));

    struct cpu_op bad_op = eq;
    bad_op.op = NR_CPU_OPS;
    struct cpu_op add3 = cpu_op_add(CPU_ADD_OP, &x, 1, 3);
    struct cpu_op copy4097 = cpu_op_memcpy(CPU_MEMCPY_OP, rw, rw + 8, 4097);
    printf("63 op 6 = %d, ADD len 3 = %d, MEMCPY len 4097 = %d\n", cpu_opv(&bad_op, 1, 0, 0),
           cpu_opv(&add3, 1, 0, 0), cpu_opv(&copy4097, 1, 0, 0));
}

static void limits(void)
{
    static char src[PAGE], dst[PAGE];
    static int64_t adds[3];
    memset(src, 0x5a, sizeof(src));
    struct cpu_op two_pages[2] = {cpu_op_memcpy(CPU_MEMCPY_OP, dst, src, PAGE),
                                  cpu_op_memcpy(CPU_MEMCPY_OP, dst, src, PAGE)};
    struct cpu_op most[4] = {
        cpu_op_memcpy(CPU_MEMCPY_OP, dst, src, PAGE), cpu_op_add(CPU_ADD_OP, &adds[0], 1, 8),
        cpu_op_add(CPU_ADD_OP, &adds[1], 2, 8), cpu_op_add(CPU_ADD_OP, &adds[2], 3, 8)};
    int r1 = cpu_opv(two_pages, 2, 0, 0);
    int r2 = cpu_opv(most, 4, 0, 0);
    printf("64 two 4096-byte MEMCPYs = %d; MEMCPY 4096 + three 8-byte ADDs = %d, copied %s, "
           "added %s\n",
           r1, r2, yes(!memcmp(dst, src, PAGE)), yes(adds[0] == 1 && adds[1] == 2 && adds[2] == 3));

    int64_t b = 0;
    struct cpu_op at_top = cpu_op_compare(CPU_COMPARE_EQ_OP, (void *)TASK_SIZE, &b, 0);
    struct cpu_op across = cpu_op_compare(CPU_COMPARE_EQ_OP, (void *)(TASK_SIZE - 4), &b, 8);
    printf("65 COMPARE_EQ a=TASK_SIZE len 0 = %d, a=TASK_SIZE-4 len 8 = %d\n",
           cpu_opv(&at_top, 1, 0, 0), cpu_opv(&across, 1, 0, 0));
}

static void faults(void)
{
    struct cpu_op c = cpu_op_memcpy(CPU_MEMCPY_OP, rw, unmapped, 8);
    int plain = cpu_opv(&c, 1, 0, 0);
    c.u.memcpy_op.expect_fault_src = 1;
    int expected = cpu_opv(&c, 1, 0, 0);
    c.u.memcpy_op.expect_fault_src = 0;
    c.u.memcpy_op.expect_fault_dst = 1;
    int other_flag = cpu_opv(&c, 1, 0, 0);
    printf("66 MEMCPY src unmapped = %d, expect_fault_src = %d, expect_fault_dst only = %d\n",
           plain, expected, other_flag);

    struct cpu_op to_ro = cpu_op_memcpy(CPU_MEMCPY_OP, ro, rw, 8);
    struct cpu_op add_ro = cpu_op_add(CPU_ADD_OP, ro, 1, 8);
    int m = cpu_opv(&to_ro, 1, 0, 0), a = cpu_opv(&add_ro, 1, 0, 0);
    to_ro.u.memcpy_op.expect_fault_dst = 1;
    add_ro.u.arithmetic_op.expect_fault_p = 1;
    printf("67 read-only destination: MEMCPY = %d (expected %d), ADD = %d (expected %d)\n", m,
           cpu_opv(&to_ro, 1, 0, 0), a, cpu_opv(&add_ro, 1, 0, 0));

    int64_t x = 0;
    struct cpu_op add = cpu_op_add(CPU_ADD_OP, &x, 1, 8);
    printf("68 cpu not allowed = %d, cpu = number of CPUs = %d, nothing done %s\n",
           cpu_opv(&add, 1, 1, 0), cpu_opv(&add, 1, get_nprocs_conf(), 0), yes(x == 0));
    struct cpu_op bad = cpu_op_memcpy(CPU_MEMCPY_OP, rw, unmapped, 8);
    printf("69 bad pointer and cpu not allowed = %d\n", cpu_opv(&bad, 1, 1, 0));
}

static void execution(void)
{
    int64_t one = 1, also_one = 1, two = 2, x = 0;
    struct cpu_op v70[3] = {cpu_op_compare(CPU_COMPARE_EQ_OP, &one, &also_one, 8),
                            cpu_op_compare(CPU_COMPARE_EQ_OP, &one, &two, 8),
                            cpu_op_add(CPU_ADD_OP, &x, 1, 8)};
    int r70 = cpu_opv(v70, 3, 0, 0);
    printf("70 [EQ equal, EQ different, ADD] = %d, ADD done %s\n", r70, yes(x != 0));

    int64_t dst = 0, src = 42;
    struct cpu_op ne_equal = cpu_op_compare(CPU_COMPARE_NE_OP, &one, &also_one, 8);
    struct cpu_op v71[2] = {cpu_op_compare(CPU_COMPARE_NE_OP, &one, &two, 8),
                            cpu_op_memcpy(CPU_MEMCPY_RELEASE_OP, &dst, &src, 8)};
    int r71a = cpu_opv(&ne_equal, 1, 0, 0);
    int r71b = cpu_opv(v71, 2, 0, 0);
    printf("71 [NE equal] = %d; [NE different, MEMCPY_RELEASE] = %d, copied %s\n", r71a, r71b,
           yes(dst == 42));

    uint8_t bytes[16] = {0};
    bytes[4] = 0xff;
    bytes[5] = 0x11;
    uint32_t word = 7;
    struct cpu_op v72[3] = {cpu_op_add(CPU_ADD_OP, &bytes[4], 1, 1),
                            cpu_op_add(CPU_ADD_RELEASE_OP, &word, -1, 4),
                            cpu_op_add(CPU_ADD_OP, &bytes[7], 0x0102, 8)};
    int r72 = cpu_opv(v72, 3, 0, 0);
    printf("72 = %d: byte 0xff + 1 = 0x%02x, neighbour 0x%02x; 7 - 1 = %u; unaligned 8-byte add "
           "%s\n",
           r72, bytes[4], bytes[5], word, yes(bytes[7] == 0x02 && bytes[8] == 0x01));

    int64_t y = 0;
    struct cpu_op eq0 = cpu_op_compare(CPU_COMPARE_EQ_OP, &one, &two, 0);
    struct cpu_op v73[2] = {cpu_op_add(CPU_ADD_OP, &y, 5, 8),
                            cpu_op_compare(CPU_COMPARE_NE_OP, &one, &two, 0)};
    int r73a = cpu_opv(&eq0, 1, 0, 0);
    int r73b = cpu_opv(v73, 2, 0, 0);
    printf("73 EQ len 0 = %d; [ADD, NE len 0] = %d, ADD kept %s\n", r73a, r73b, yes(y == 5));
}

/* B's side of 62b and 74: what A sees of it. */
struct spinner {
    volatile int inside, go, aborts, done;
    int64_t counter;
};

static void *thread_b(void *arg)
{
    struct spinner *s = arg;
    pin(2);
    struct rseq_area *area = rseq_guest_glibc_area();
    /* inside is cleared before aborts counts the abort: once A sees the count, inside == 1
     * means B is in its next attempt. */
    while (opv_cs(area, &s->inside, &s->counter, &s->go)) {
        s->inside = 0;
        s->aborts++;
    }
    s->done = 1;
    return NULL;
}

static void wait_for(volatile int *flag, int value)
{
    while (*flag < value)
        sched_yield();
}

/* 75 while B spins on CPU 2: A's vector on its own CPU interrupts nothing there. Then 62b: an
 * empty vector to CPU 2 still runs the IPI, which aborts B's section (spec 5.4). Then 74: B is
 * inside again; A's vector checks the counter B read, adds 10 to it and lets B commit. B aborts,
 * restarts on the new value and commits 11; had it gone on, its commit would have been 1. */
static void with_thread_b(int own_vectors)
{
    if (get_nprocs() < 3) {
        printf("62b 74 75: need 3 CPUs\n");
        return;
    }
    /* Without cpu_opv (Linux), nothing would ever let B out of its section. */
    int nr = cpu_opv(NULL, 0, 0, CPU_OP_NR_FLAG);
    if (nr < 0) {
        printf("62b 74 75: no cpu_opv (%d)\n", nr);
        return;
    }
    static struct spinner b;
    pthread_t tb;
    pthread_create(&tb, NULL, thread_b, &b);
    wait_for(&b.inside, 1);
    if (own_vectors) {
        int64_t mine = 0;
        struct cpu_op add = cpu_op_add(CPU_ADD_OP, &mine, 5, 8);
        int r = cpu_opv(&add, 1, 0, 0);
        printf("75 own CPU = %d, applied %s\n", r, yes(mine == 5));
    }
    pin_to(0, 2);
    printf("62b empty vector to CPU 2 = %d\n", cpu_opv(NULL, 0, 2, 0));
    wait_for(&b.aborts, 1);
    wait_for(&b.inside, 1);
    printf("62b B left its section through the abort handler: %s\n", yes(b.aborts == 1));

    static const int64_t zero = 0;
    static const int go = 1;
    struct cpu_op v74[3] = {cpu_op_compare(CPU_COMPARE_EQ_OP, &b.counter, &zero, 8),
                            cpu_op_add(CPU_ADD_OP, &b.counter, 10, 8),
                            cpu_op_memcpy(CPU_MEMCPY_OP, (void *)&b.go, &go, sizeof(go))};
    int r = cpu_opv(v74, 3, 2, 0);
    pthread_join(tb, NULL);
    /* Two aborts in all: 75 interrupted nothing on CPU 2. */
    printf("74 vector to CPU 2 = %d; B aborted twice in all %s, then committed %lld (none lost: "
           "%s)\n",
           r, yes(b.aborts == 2), (long long)b.counter, yes(b.counter == 11));
    pin(0);
}

static int nr_query(long nr)
{
    printf("nr %ld: NR_FLAG = %d\n", nr, cpu_opv_nr(nr, NULL, 0, 0, CPU_OP_NR_FLAG));
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 2 && !strcmp(argv[1], "nr"))
        return nr_query(atol(argv[2]));
    if (!rseq_guest_glibc_area()) {
        printf("glibc did not register rseq\n");
        return 2;
    }
    pin(0);
    if (argc > 1 && !strcmp(argv[1], "74")) {
        with_thread_b(0);
        return 0;
    }
    map_pages();
    queries();
    argument_checks();
    limits();
    faults();
    execution();
    with_thread_b(1);
    return 0;
}
