/* Synchronous faults become the signals Linux sends (spec 6.3), with Linux's si_code and
 * si_addr; a handler can leave them with siglongjmp; without one the process ends with the
 * status a shell shows. The expected lines are what native Linux prints on x86-64 and what
 * arch/arm64/kernel/traps.c sends on aarch64. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "guest_run.h"

struct expectation {
    const char *fault;
    const char *x86_64; /* handler's line, or NULL when the fault does not exist there */
    const char *aarch64;
    int x86_64_status, aarch64_status; /* without a handler */
};

static const struct expectation expectations[] = {
    {"segv_maperr", "segv_maperr: signal Segmentation fault, si_code 1, si_addr as expected\n",
     "segv_maperr: signal Segmentation fault, si_code 1, si_addr as expected\n", 139, 139},
    {"segv_accerr", "segv_accerr: signal Segmentation fault, si_code 2, si_addr as expected\n",
     "segv_accerr: signal Segmentation fault, si_code 2, si_addr as expected\n", 139, 139},
    /* ud2: ILL_ILLOPN (2); udf: ILL_ILLOPC (1) */
    {"ill", "ill: signal Illegal instruction, si_code 2, si_addr as expected\n",
     "ill: signal Illegal instruction, si_code 1, si_addr as expected\n", 132, 132},
    /* int3: SI_KERNEL (128) without an address; brk: TRAP_BRKPT (1) at the brk */
    {"trap", "trap: signal Trace/breakpoint trap, si_code 128, si_addr as expected\n",
     "trap: signal Trace/breakpoint trap, si_code 1, si_addr as expected\n", 133, 133},
    {"fpe", "fpe: signal Floating point exception, si_code 1, si_addr as expected\n",
     "aarch64 integer division by zero gives 0, no signal\nfpe: no fault\n", 136, 0},
    /* an unaligned exclusive load: BUS_ADRALN at the data address */
    {"bus", "x86-64 has no alignment fault here\nbus: no fault\n",
     "bus: signal Bus error, si_code 1, si_addr as expected\n", 0, 135},
    /* the fetch at address 0: SEGV_MAPERR at 0 (on aarch64 the engine once looped there) */
    {"null_call", "null_call: signal Segmentation fault, si_code 1, si_addr as expected\n",
     "null_call: signal Segmentation fault, si_code 1, si_addr as expected\n", 139, 139},
    /* lcall with a register operand: ILL_ILLOPN at it (the engine once aborted on it) */
    {"far_call", "far_call: signal Illegal instruction, si_code 2, si_addr as expected\n",
     "aarch64 has no far call\nfar_call: no fault\n", 132, 0},
    /* an unallocated FP16 encoding: ILL_ILLOPC at it (the engine once aborted on it) */
    {"fp16_unallocated", "x86-64 has no such encoding\nfp16_unallocated: no fault\n",
     "fp16_unallocated: signal Illegal instruction, si_code 1, si_addr as expected\n", 0, 132},
    /* lock cmpsd: ILL_ILLOPN at it (the engine once aborted on it) */
    {"bad_lock", "bad_lock: signal Illegal instruction, si_code 2, si_addr as expected\n",
     "aarch64 has no lock prefix\nbad_lock: no fault\n", 132, 0},
};

static struct guest_result r;

Test(faults, handler_sees_linux_signal_code_and_address)
{
    for (size_t i = 0; i < sizeof(expectations) / sizeof(expectations[0]); i++) {
        const struct expectation *e = &expectations[i];
        for (int a = 0; a < 2; a++) {
            const char *args[] = {e->fault, NULL};
            cr_assert_eq(guest_run(guest_arches[a], "faults", args, NULL, &r), 0, "%s", r.err);
            cr_expect_eq(r.outcome, KERNEL_EXITED, "%s %s: %s", guest_arches[a], e->fault, r.err);
            cr_expect_str_eq(r.out, a == 0 ? e->x86_64 : e->aarch64, "%s %s", guest_arches[a],
                             e->fault);
        }
    }
}

Test(faults, without_a_handler_the_process_dies_with_the_signal)
{
    for (size_t i = 0; i < sizeof(expectations) / sizeof(expectations[0]); i++) {
        const struct expectation *e = &expectations[i];
        for (int a = 0; a < 2; a++) {
            const char *args[] = {e->fault, "nohandler", NULL};
            int want = a == 0 ? e->x86_64_status : e->aarch64_status;
            cr_assert_eq(guest_run(guest_arches[a], "faults", args, NULL, &r), 0, "%s", r.err);
            if (want == 0) {
                cr_expect_eq(r.outcome, KERNEL_EXITED);
                continue;
            }
            cr_expect_eq(r.outcome, KERNEL_SIGNALED, "%s %s", guest_arches[a], e->fault);
            cr_expect_eq(128 + r.status, want, "%s %s", guest_arches[a], e->fault);
        }
    }
}
