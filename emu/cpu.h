/* Register contexts and running them: the machine's run loop turned into exits.
 *
 * A context is the register file of one guest thread. It runs in the engine of an address space
 * until something the kernel model must handle happens (a syscall, a fault, an exception) or its
 * instruction budget is spent. Instruction counts are exact: they count retired instructions,
 * which is what schedules and replays are positioned by. */
#ifndef RSEQEMU_EMU_CPU_H
#define RSEQEMU_EMU_CPU_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/arch.h"

struct aspace;

/* Lives inside the kernel's task table (arena memory). The general registers are current after
 * every exit; the FP/SIMD registers may still live in the engine (fp_in_engine) until
 * cpu_ctx_sync() or a context switch in that engine brings them back. */
struct cpu_ctx {
    struct arch_regs regs;
    bool fp_in_engine;
};

enum emu_exit_kind {
    EMU_EXIT_SYSCALL, /* IP is past the syscall instruction */
    EMU_EXIT_BUDGET,  /* the instruction budget ran out at a block boundary */
    EMU_EXIT_FAULT,   /* memory fault; IP is the faulting instruction */
    EMU_EXIT_TRAP,    /* an exception the arch maps to a signal */
    EMU_EXIT_WATCH,   /* about to run watched code (aspace_watch_add); IP is watch_addr */
    EMU_EXIT_ERROR,   /* the engine failed; the run cannot continue */
};

#define EMU_TRAP_INVALID_INSN (-1)
#define EMU_TRAP_HALT         (-2)
#define EMU_TRAP_UNALIGNED    (-3)

struct emu_exit {
    enum emu_exit_kind kind;
    uint64_t insns; /* retired during this run */
    guest_addr_t fault_addr;
    int fault_access; /* LX_PROT_READ, LX_PROT_WRITE or LX_PROT_EXEC */
    bool fault_unmapped;
    int trap_intno; /* engine exception number, or EMU_TRAP_* */
    /* EMU_EXIT_WATCH: the code about to run, a whole translation block or, when the run was
     * inside one, a single instruction; watch_cs when it enters a critical section and the
     * countdown reached 0 there (else a watched point is in it); watch_resumed when the
     * block is the one the run resumed in front of (emu_run_params.watch_resume_addr), whose
     * first instruction and points were not looked at again. */
    guest_addr_t watch_addr;
    uint32_t watch_size;
    bool watch_cs;
    bool watch_resumed;
    uint32_t watch_countdown; /* what is left of emu_run_params.watch_countdown */
    char error[128];
};

struct emu_run_params {
    uint64_t budget_insns; /* a run of more than 2^30 ends there, as if that were the budget */
    /* End exactly after budget_insns instructions (else at the last block boundary within the
     * budget, which is cheaper). */
    bool exact;
    /* Virtual time when the run starts and its rate: what rdtsc/cntvct_el0 read. */
    uint64_t time_ns;
    uint64_t ns_per_insn;
    /* Stop in front of the n-th translation block that enters a watched critical section
     * (0: never). Watched points stop the run every time. */
    uint32_t watch_countdown;
    /* The run resumes at code it was stopped in front of: do not stop there again before
     * running it (0: none). Watched points of that block below watch_resume_points_end were
     * counted by the caller when it stopped there: they do not stop it either. */
    guest_addr_t watch_resume_addr;
    guest_addr_t watch_resume_points_end;
};

void cpu_ctx_init(struct cpu_ctx *ctx, const struct arch_desc *arch, guest_addr_t entry,
                  guest_addr_t sp);
/* Brings the FP/SIMD state home from the engine, so ctx->regs is complete and may be edited. */
void cpu_ctx_sync(struct aspace *as, struct cpu_ctx *ctx);
/* The context is going away or moving to another address space: nothing of it stays loaded. */
void cpu_ctx_detach(struct aspace *as, struct cpu_ctx *ctx);

void emu_run(struct aspace *as, struct cpu_ctx *ctx, const struct emu_run_params *params,
             struct emu_exit *out);

#endif
