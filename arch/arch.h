/* One descriptor per guest architecture: register roles, the syscall ABI, TLS, RSEQ_SIG,
 * signal frames and the initial-process quirks. Data and pure functions only: nothing here
 * calls the engine, so generic code asks the descriptor instead of testing the architecture. */
#ifndef RSEQEMU_ARCH_ARCH_H
#define RSEQEMU_ARCH_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lx.h"

enum arch_id { ARCH_X86_64 = 0, ARCH_AARCH64 = 1, ARCH_COUNT };

/* The complete user-visible register state of one guest thread. x87 registers are kept in
 * physical order (FP0..FP7), not stack order, so that a save/restore never depends on TOP. */
struct regs_x86_64 {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rip, rflags, fs_base, gs_base;
    uint8_t xmm[16][16];
    uint8_t fpr[8][16];            /* 80-bit values in the low 10 bytes */
    uint64_t fcw, fsw, ftw, mxcsr; /* ftw: the full 16-bit tag word, 3 = empty */
};

struct regs_aarch64 {
    uint64_t x[31];
    uint64_t sp, pc, nzcv, tpidr, tpidrro;
    uint8_t v[32][16];
    uint64_t fpcr, fpsr;
};

struct arch_regs {
    union {
        struct regs_x86_64 x86;
        struct regs_aarch64 a64;
    };
};

/* Semantic register names, rr's Registers in table form. */
enum reg_role {
    REG_IP,
    REG_SP,
    REG_SYSNO,
    REG_ARG0,
    REG_ARG1,
    REG_ARG2,
    REG_ARG3,
    REG_ARG4,
    REG_ARG5,
    REG_RET,
    REG_TLS,
    REG_TLS2,  /* gs_base / tpidrro_el0 */
    REG_FRAME, /* rbp / x29 */
    REG_ROLE_COUNT
};

/* How the engine backend moves one register between the engine and struct arch_regs. */
struct arch_reg_xfer {
    int uc_reg;      /* Unicorn register id */
    uint16_t offset; /* offset in struct arch_regs */
};

/* Guest memory as the frame code sees it: a pair of callbacks, so tests can give fake memory.
 * Both return 0 or -LX_EFAULT. */
struct guest_mem {
    void *ctx;
    int (*read)(void *ctx, guest_addr_t addr, void *dst, size_t len);
    int (*write)(void *ctx, guest_addr_t addr, const void *src, size_t len);
};

/* What the generic signal code decided; the arch code lays out the frame. */
struct sigframe_req {
    int sig;
    uint64_t sa_flags;
    guest_addr_t handler;
    guest_addr_t restorer;    /* sa_restorer, meaningful with SA_RESTORER */
    guest_addr_t trampoline;  /* return path when SA_RESTORER is absent (aarch64), else 0 */
    uint64_t saved_mask;      /* blocked set before delivery; the frame's uc_sigmask */
    struct lx_stack uc_stack; /* altstack settings saved in the frame */
    bool use_altstack;        /* build the frame from altstack_top instead of the user SP */
    guest_addr_t altstack_top;
    const uint8_t *info;     /* LX_SIGINFO_SIZE bytes */
    guest_addr_t fault_addr; /* sigcontext fault address (cr2 / fault_address) */
    uint64_t fault_code;     /* x86: trapno << 32 | err; aarch64: ESR, 0 = no esr record */
};

/* What rt_sigreturn read back from a frame, besides the registers. */
struct sigframe_restored {
    uint64_t mask;
    struct lx_stack uc_stack;
};

/* Exception number reported by the engine -> signal, in the arch's terms. */
struct arch_trap {
    int intno;
    int sig;
    int si_code;
};

struct arch_desc {
    enum arch_id id;
    const char *name;     /* "x86_64", "aarch64" */
    uint16_t elf_machine; /* EM_X86_64, EM_AARCH64 */
    int uc_arch, uc_mode, uc_cpu_model;

    guest_addr_t task_size; /* largest user address + 1 */
    guest_addr_t stack_top; /* initial stack top without randomization */
    guest_addr_t mmap_base; /* top-down mmap placement starts below this */
    guest_addr_t pie_base;  /* load bias of a static-PIE program */
    uint64_t hwcap, hwcap2;
    const char *platform;
    uint64_t minsigstksz;        /* AT_MINSIGSTKSZ and sigaltstack's lower bound */
    uint64_t kernel_minsigstksz; /* MINSIGSTKSZ enforced by sigaltstack */
    uint32_t rseq_sig;           /* the signature glibc and the selftests register */

    uint8_t syscall_insn_len; /* the rewind for a restarted syscall */
    /* clone(2) argument positions of child_tid and tls (aarch64 has CLONE_BACKWARDS). */
    uint8_t clone_ctid_arg, clone_tls_arg;
    int syscall_column; /* which number column of the syscall table applies */
    uint16_t role_off[REG_ROLE_COUNT];

    const struct arch_reg_xfer *gpr_xfer; /* what every exit reads back */
    size_t gpr_xfer_count;
    const struct arch_reg_xfer *fp_xfer; /* the rest, moved on context switches */
    size_t fp_xfer_count;

    const struct arch_trap *traps;
    size_t trap_count;

    /* Executable words of the sigreturn trampoline page (aarch64), or NULL. */
    const uint32_t *sigreturn_tramp;
    size_t sigreturn_tramp_words;

    /* Registers of a new process at its entry point. */
    void (*init_regs)(struct arch_regs *regs, guest_addr_t entry, guest_addr_t sp);
    /* What the syscall instruction's return leaves behind besides the result (x86: rcx, r11). */
    void (*syscall_exit)(struct arch_regs *regs);
    /* Builds the frame below the chosen stack and points the registers at the handler. */
    int (*sigframe_setup)(const struct sigframe_req *req, struct arch_regs *regs,
                          const struct guest_mem *mem);
    /* rt_sigreturn: reads the frame at the current SP back into the registers. */
    int (*sigframe_restore)(struct arch_regs *regs, const struct guest_mem *mem,
                            struct sigframe_restored *out);
    /* The data address of an exception that has one (si_addr), from the faulting instruction's
     * word and the registers; NULL or false when the engine reports none. */
    bool (*trap_data_addr)(int intno, uint32_t insn, const struct arch_regs *regs,
                           guest_addr_t *addr);
    /* struct stat, whose layout differs between the two (x86-64: 144 bytes, generic: 128). */
    size_t stat_size;
    void (*stat_encode)(const struct lx_kstat *st, uint8_t *out);
    /* The fault syndrome a signal frame records for a memory fault (struct
     * sigframe_req.fault_code): access is LX_PROT_READ/WRITE/EXEC. */
    uint64_t (*fault_code)(int access, bool unmapped);
};

/* For the stat encoders: the three timestamps, which both layouts put at offsets 72..119. */
void arch_stat_put_times(const struct lx_kstat *st, uint8_t *out);

const struct arch_desc *arch_get(enum arch_id id);
/* NULL when the ELF machine is not a supported guest. */
const struct arch_desc *arch_for_elf_machine(uint16_t machine);

static inline uint64_t *arch_reg_slot(const struct arch_desc *a, struct arch_regs *r,
                                      enum reg_role role)
{
    return (uint64_t *)((char *)r + a->role_off[role]);
}

static inline uint64_t arch_reg(const struct arch_desc *a, const struct arch_regs *r,
                                enum reg_role role)
{
    return *(const uint64_t *)((const char *)r + a->role_off[role]);
}

static inline void arch_set_reg(const struct arch_desc *a, struct arch_regs *r, enum reg_role role,
                                uint64_t v)
{
    *arch_reg_slot(a, r, role) = v;
}

/* The signal an engine exception number stands for; false if the number is unknown. */
bool arch_trap_signal(const struct arch_desc *a, int intno, int *sig, int *si_code);

#endif
