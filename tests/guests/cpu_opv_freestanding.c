/* guest/include/cpu_opv.h without libc: the queries of spec 9.5 (59, 60) and a vector on the
 * caller's own CPU (75), made with the wrapper's raw syscall instruction. */
#include "cpu_opv.h"
#include "freestanding.h"

int main(int argc, char **argv, char **envp)
{
    (void)argc, (void)argv, (void)envp;
    uint64_t cpu0 = 1;
    gsyscall3(GSYS_sched_setaffinity, 0, sizeof(cpu0), &cpu0);
    gprintf("59 NR_FLAG = %d\n", cpu_opv(0, 0, 0, CPU_OP_NR_FLAG));
    gprintf("60 VEC_LEN_MAX_FLAG = %d\n", cpu_opv(0, 0, 0, CPU_OP_VEC_LEN_MAX_FLAG));
    static int64_t counter = 41, expect = 41;
    struct cpu_op ops[2] = {cpu_op_compare(CPU_COMPARE_EQ_OP, &counter, &expect, 8),
                            cpu_op_add(CPU_ADD_OP, &counter, 1, 8)};
    int r = cpu_opv(ops, 2, 0, 0);
    gprintf("75 [EQ, ADD] on own CPU = %d, counter = %ld\n", r, (long)counter);
    return 0;
}
