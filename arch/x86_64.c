/* The x86-64 guest: System V syscall ABI through `syscall`, TLS in FS base. */
#include <elf.h>
#include <string.h>
#include <unicorn/unicorn.h> /* register and mode constants only */

#include "arch.h"
#include "le.h"
#include "sigframe.h"

#define X86(field) ((uint16_t)offsetof(struct arch_regs, x86.field))

/* The register tables keep their columns. */
/* clang-format off */
static const struct arch_reg_xfer x86_64_gpr[] = {
    {UC_X86_REG_RAX, X86(rax)},       {UC_X86_REG_RBX, X86(rbx)},
    {UC_X86_REG_RCX, X86(rcx)},       {UC_X86_REG_RDX, X86(rdx)},
    {UC_X86_REG_RSI, X86(rsi)},       {UC_X86_REG_RDI, X86(rdi)},
    {UC_X86_REG_RBP, X86(rbp)},       {UC_X86_REG_RSP, X86(rsp)},
    {UC_X86_REG_R8, X86(r8)},         {UC_X86_REG_R9, X86(r9)},
    {UC_X86_REG_R10, X86(r10)},       {UC_X86_REG_R11, X86(r11)},
    {UC_X86_REG_R12, X86(r12)},       {UC_X86_REG_R13, X86(r13)},
    {UC_X86_REG_R14, X86(r14)},       {UC_X86_REG_R15, X86(r15)},
    {UC_X86_REG_RIP, X86(rip)},       {UC_X86_REG_RFLAGS, X86(rflags)},
    {UC_X86_REG_FS_BASE, X86(fs_base)}, {UC_X86_REG_GS_BASE, X86(gs_base)},
};

#define XMM(n) {UC_X86_REG_XMM0 + (n), X86(xmm[n])}
#define FPR(n) {UC_X86_REG_FP0 + (n), X86(fpr[n])}
static const struct arch_reg_xfer x86_64_fp[] = {
    XMM(0),  XMM(1),  XMM(2),  XMM(3),  XMM(4),  XMM(5),  XMM(6),  XMM(7),
    XMM(8),  XMM(9),  XMM(10), XMM(11), XMM(12), XMM(13), XMM(14), XMM(15),
    FPR(0),  FPR(1),  FPR(2),  FPR(3),  FPR(4),  FPR(5),  FPR(6),  FPR(7),
    {UC_X86_REG_FPCW, X86(fcw)}, {UC_X86_REG_FPSW, X86(fsw)},
    {UC_X86_REG_FPTAG, X86(ftw)}, {UC_X86_REG_MXCSR, X86(mxcsr)},
};
/* clang-format on */

/* Exception vectors as Unicorn reports them, and what Linux sends for each from user mode
 * (arch/x86/kernel/traps.c). */
static const struct arch_trap x86_64_traps[] = {
    {0, LX_SIGFPE, LX_FPE_INTDIV},    /* #DE */
    {1, LX_SIGTRAP, LX_SI_KERNEL},    /* #DB */
    {3, LX_SIGTRAP, LX_SI_KERNEL},    /* int3 */
    {4, LX_SIGSEGV, LX_SI_KERNEL},    /* #OF */
    {5, LX_SIGSEGV, LX_SI_KERNEL},    /* #BR */
    {6, LX_SIGILL, LX_ILL_ILLOPN},    /* #UD */
    {10, LX_SIGSEGV, LX_SI_KERNEL},   /* #TS */
    {11, LX_SIGBUS, LX_SI_KERNEL},    /* #NP */
    {12, LX_SIGBUS, LX_SI_KERNEL},    /* #SS */
    {13, LX_SIGSEGV, LX_SI_KERNEL},   /* #GP */
    {16, LX_SIGFPE, LX_SI_KERNEL},    /* #MF */
    {17, LX_SIGBUS, LX_BUS_ADRALN},   /* #AC */
    {19, LX_SIGFPE, LX_SI_KERNEL},    /* #XM */
    {0x80, LX_SIGSEGV, LX_SI_KERNEL}, /* int $0x80: no 32-bit syscalls here */
};

static void x86_64_init_regs(struct arch_regs *regs, guest_addr_t entry, guest_addr_t sp)
{
    memset(regs, 0, sizeof(*regs));
    regs->x86.rip = entry;
    regs->x86.rsp = sp;
    regs->x86.rflags = 0x202; /* IF, and the always-one bit */
    regs->x86.fcw = 0x037f;
    regs->x86.ftw = 0xffff;
    regs->x86.mxcsr = 0x1f80;
}

/* `syscall` leaves the return address in rcx and the flags in r11 (sysret's contract). */
static void x86_64_syscall_exit(struct arch_regs *regs)
{
    regs->x86.rcx = regs->x86.rip;
    regs->x86.r11 = regs->x86.rflags & ~0x10000ULL; /* RF is never visible */
}

/* Page fault: trapno 14, error code bits P (protection), W (write), U (user), I (fetch). */
static uint64_t x86_64_fault_code(int access, bool unmapped)
{
    uint64_t err = 0x4 | (unmapped ? 0 : 0x1);
    if (access == LX_PROT_WRITE)
        err |= 0x2;
    else if (access == LX_PROT_EXEC)
        err |= 0x10;
    return 14ULL << 32 | err;
}

/* arch/x86/include/uapi/asm/stat.h */
static void x86_64_stat_encode(const struct lx_kstat *st, uint8_t *out)
{
    memset(out, 0, 144);
    le_put64(out + 0, st->dev);
    le_put64(out + 8, st->ino);
    le_put64(out + 16, st->nlink);
    le_put32(out + 24, st->mode);
    le_put32(out + 28, st->uid);
    le_put32(out + 32, st->gid);
    le_put64(out + 40, st->rdev);
    le_put64(out + 48, st->size);
    le_put64(out + 56, st->blksize);
    le_put64(out + 64, st->blocks);
    arch_stat_put_times(st, out);
}

const struct arch_desc arch_x86_64 = {
    .id = ARCH_X86_64,
    .name = "x86_64",
    .elf_machine = EM_X86_64,
    .uc_arch = UC_ARCH_X86,
    .uc_mode = UC_MODE_64,
    .uc_cpu_model = UC_CPU_X86_QEMU64,
    .task_size = 0x7ffffffff000ULL,
    .stack_top = 0x7ffffffff000ULL,
    .mmap_base = 0x7ffff7fff000ULL,
    .pie_base = 0x555555554000ULL,
    /* CPUID.1:EDX of the modelled qemu64 CPU; x86 glibc reads CPUID itself. */
    .hwcap = 0x078bfbfdULL,
    .hwcap2 = 0,
    .platform = "x86_64",
    .minsigstksz = 1040, /* 440-byte frame + 512-byte FXSAVE area + alignment */
    .kernel_minsigstksz = 2048,
    .rseq_sig = 0x53053053, /* the immediate of `ud1 0x53053053(%rip),%edi` before abort_ip */
    .syscall_insn_len = 2,
    .clone_ctid_arg = 3,
    .clone_tls_arg = 4,
    .syscall_column = 0,
    .role_off =
        {
            [REG_IP] = X86(rip),
            [REG_SP] = X86(rsp),
            [REG_SYSNO] = X86(rax),
            [REG_ARG0] = X86(rdi),
            [REG_ARG1] = X86(rsi),
            [REG_ARG2] = X86(rdx),
            [REG_ARG3] = X86(r10),
            [REG_ARG4] = X86(r8),
            [REG_ARG5] = X86(r9),
            [REG_RET] = X86(rax),
            [REG_TLS] = X86(fs_base),
            [REG_TLS2] = X86(gs_base),
            [REG_FRAME] = X86(rbp),
        },
    .gpr_xfer = x86_64_gpr,
    .gpr_xfer_count = sizeof(x86_64_gpr) / sizeof(x86_64_gpr[0]),
    .fp_xfer = x86_64_fp,
    .fp_xfer_count = sizeof(x86_64_fp) / sizeof(x86_64_fp[0]),
    .traps = x86_64_traps,
    .trap_count = sizeof(x86_64_traps) / sizeof(x86_64_traps[0]),
    .sigreturn_tramp = NULL,
    .sigreturn_tramp_words = 0,
    .init_regs = x86_64_init_regs,
    .syscall_exit = x86_64_syscall_exit,
    .sigframe_setup = sigframe_setup_x86_64,
    .sigframe_restore = sigframe_restore_x86_64,
    .stat_size = 144,
    .stat_encode = x86_64_stat_encode,
    .fault_code = x86_64_fault_code,
};
