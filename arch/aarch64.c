/* The aarch64 guest: `svc #0` with the number in x8, TLS in tpidr_el0 (written by user space). */
#include <elf.h>
#include <string.h>
#include <unicorn/unicorn.h> /* register and mode constants only */

#include "arch.h"
#include "le.h"
#include "sigframe.h"

#define A64(field) ((uint16_t)offsetof(struct arch_regs, a64.field))
/* The register tables keep their columns. */
/* clang-format off */
#define XREG(n) {UC_ARM64_REG_X0 + (n), A64(x[n])}

/* UC_ARM64_REG_X29 and X30 are not contiguous with X0..X28 in Unicorn's enumeration. */
static const struct arch_reg_xfer aarch64_gpr[] = {
    XREG(0),  XREG(1),  XREG(2),  XREG(3),  XREG(4),  XREG(5),  XREG(6),  XREG(7),
    XREG(8),  XREG(9),  XREG(10), XREG(11), XREG(12), XREG(13), XREG(14), XREG(15),
    XREG(16), XREG(17), XREG(18), XREG(19), XREG(20), XREG(21), XREG(22), XREG(23),
    XREG(24), XREG(25), XREG(26), XREG(27), XREG(28),
    {UC_ARM64_REG_X29, A64(x[29])},
    {UC_ARM64_REG_X30, A64(x[30])},
    {UC_ARM64_REG_SP, A64(sp)},
    {UC_ARM64_REG_PC, A64(pc)},
    {UC_ARM64_REG_NZCV, A64(nzcv)},
    {UC_ARM64_REG_TPIDR_EL0, A64(tpidr)},
    {UC_ARM64_REG_TPIDRRO_EL0, A64(tpidrro)},
};

#define VREG(n) {UC_ARM64_REG_V0 + (n), A64(v[n])}
static const struct arch_reg_xfer aarch64_fp[] = {
    VREG(0),  VREG(1),  VREG(2),  VREG(3),  VREG(4),  VREG(5),  VREG(6),  VREG(7),
    VREG(8),  VREG(9),  VREG(10), VREG(11), VREG(12), VREG(13), VREG(14), VREG(15),
    VREG(16), VREG(17), VREG(18), VREG(19), VREG(20), VREG(21), VREG(22), VREG(23),
    VREG(24), VREG(25), VREG(26), VREG(27), VREG(28), VREG(29), VREG(30), VREG(31),
    {UC_ARM64_REG_FPCR, A64(fpcr)},
    {UC_ARM64_REG_FPSR, A64(fpsr)},
};
/* clang-format on */

/* QEMU's EXCP_* numbers for Arm, and what Linux sends from EL0 (arch/arm64/kernel/traps.c). */
static const struct arch_trap aarch64_traps[] = {
    {1, LX_SIGILL, LX_ILL_ILLOPC},  /* EXCP_UDEF */
    {7, LX_SIGTRAP, LX_TRAP_BRKPT}, /* EXCP_BKPT: brk #imm */
    {11, LX_SIGILL, LX_ILL_ILLOPC}, /* EXCP_HVC */
    {13, LX_SIGILL, LX_ILL_ILLOPC}, /* EXCP_SMC */
    /* EXCP_DATA_ABORT: the engine raises it only for alignment faults (exclusive and atomic
     * accesses); unmapped and protected memory arrive as memory faults instead. */
    {4, LX_SIGBUS, LX_BUS_ADRALN},
    {22, LX_SIGBUS, LX_BUS_ADRALN}, /* EXCP_UNALIGNED */
};

/* Exclusive and atomic instructions, the only ones with alignment faults here, address memory
 * through a base register alone: [Xn|SP], with Rn in bits 5..9. The engine does not report
 * the fault address (FAR_EL1 reads 0). */
static bool aarch64_trap_data_addr(int intno, uint32_t insn, const struct arch_regs *regs,
                                   guest_addr_t *addr)
{
    if (intno != 4)
        return false;
    unsigned rn = (insn >> 5) & 31;
    *addr = rn == 31 ? regs->a64.sp : regs->a64.x[rn];
    return true;
}

/* The vDSO's __kernel_rt_sigreturn: mov x8, #139; svc #0. */
static const uint32_t aarch64_sigreturn_tramp[] = {0xd2801168, 0xd4000001};

static void aarch64_init_regs(struct arch_regs *regs, guest_addr_t entry, guest_addr_t sp)
{
    memset(regs, 0, sizeof(*regs));
    regs->a64.pc = entry;
    regs->a64.sp = sp;
}

static void aarch64_syscall_exit(struct arch_regs *regs)
{
    (void)regs; /* svc preserves every register but x0 */
}

/* ESR_EL1 of an abort from EL0: EC 0x24 (data) or 0x20 (instruction), IL, WnR, and a level-3
 * translation (0x07) or permission (0x0f) fault status code. */
static uint64_t aarch64_fault_code(int access, bool unmapped)
{
    uint64_t ec = access == LX_PROT_EXEC ? 0x20 : 0x24;
    uint64_t esr = ec << 26 | 1ULL << 25 | (unmapped ? 0x07 : 0x0f);
    if (access == LX_PROT_WRITE)
        esr |= 1ULL << 6;
    return esr;
}

/* include/uapi/asm-generic/stat.h */
static void aarch64_stat_encode(const struct lx_kstat *st, uint8_t *out)
{
    memset(out, 0, 128);
    le_put64(out + 0, st->dev);
    le_put64(out + 8, st->ino);
    le_put32(out + 16, st->mode);
    le_put32(out + 20, (uint32_t)st->nlink);
    le_put32(out + 24, st->uid);
    le_put32(out + 28, st->gid);
    le_put64(out + 32, st->rdev);
    le_put64(out + 48, st->size);
    le_put32(out + 56, st->blksize);
    le_put64(out + 64, st->blocks);
    arch_stat_put_times(st, out);
}

const struct arch_desc arch_aarch64 = {
    .id = ARCH_AARCH64,
    .name = "aarch64",
    .elf_machine = EM_AARCH64,
    .uc_arch = UC_ARCH_ARM64,
    .uc_mode = UC_MODE_ARM,
    /* The "max" model has LSE atomics, which Debian's cross gcc reaches through
     * -moutline-atomics whenever AT_HWCAP says ATOMICS. */
    .uc_cpu_model = UC_CPU_ARM64_MAX,
    .task_size = 0x1000000000000ULL,
    .stack_top = 0x1000000000000ULL,
    .mmap_base = 0xfffff7fff000ULL,
    .pie_base = 0xaaaaaaaa0000ULL,
    /* FP | ASIMD | CRC32 | ATOMICS. Never HWCAP_CPUID: glibc would read MIDR_EL1. */
    .hwcap = 0x1 | 0x2 | 0x80 | 0x100,
    .hwcap2 = 0,
    .platform = "aarch64",
    .minsigstksz = 4720, /* frame + record + alignment without SVE/SME */
    .kernel_minsigstksz = 5120,
    .rseq_sig = 0xd428bc00, /* `brk #0x45e0`, little-endian */
    .syscall_insn_len = 4,
    .clone_ctid_arg = 4,
    .clone_tls_arg = 3,
    .syscall_column = 1,
    .role_off =
        {
            [REG_IP] = A64(pc),
            [REG_SP] = A64(sp),
            [REG_SYSNO] = A64(x[8]),
            [REG_ARG0] = A64(x[0]),
            [REG_ARG1] = A64(x[1]),
            [REG_ARG2] = A64(x[2]),
            [REG_ARG3] = A64(x[3]),
            [REG_ARG4] = A64(x[4]),
            [REG_ARG5] = A64(x[5]),
            [REG_RET] = A64(x[0]),
            [REG_TLS] = A64(tpidr),
            [REG_TLS2] = A64(tpidrro),
            [REG_FRAME] = A64(x[29]),
        },
    .gpr_xfer = aarch64_gpr,
    .gpr_xfer_count = sizeof(aarch64_gpr) / sizeof(aarch64_gpr[0]),
    .fp_xfer = aarch64_fp,
    .fp_xfer_count = sizeof(aarch64_fp) / sizeof(aarch64_fp[0]),
    .traps = aarch64_traps,
    .trap_count = sizeof(aarch64_traps) / sizeof(aarch64_traps[0]),
    .sigreturn_tramp = aarch64_sigreturn_tramp,
    .sigreturn_tramp_words = 2,
    .init_regs = aarch64_init_regs,
    .syscall_exit = aarch64_syscall_exit,
    .sigframe_setup = sigframe_setup_aarch64,
    .sigframe_restore = sigframe_restore_aarch64,
    .trap_data_addr = aarch64_trap_data_addr,
    .stat_size = 128,
    .stat_encode = aarch64_stat_encode,
    .fault_code = aarch64_fault_code,
};
