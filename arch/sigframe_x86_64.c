/* x86-64 rt_sigframe (spec 6.4): Linux's layout with a legacy 512-byte FXSAVE area, built and
 * parsed byte by byte so the guest sees the same bytes whatever the host's struct layout. */
#include <string.h>

#include "le.h"
#include "sigframe.h"

#define RED_ZONE    128
#define FP_ALIGN    64
#define FRAME_ALIGN 16

/* Frame offsets. */
#define UC_OFF       8   /* struct ucontext */
#define UC_STACK_OFF 24  /* uc_stack */
#define MCTX_OFF     48  /* uc_mcontext = struct sigcontext */
#define SIGMASK_OFF  304 /* uc_sigmask */
#define INFO_OFF     312 /* siginfo */
#define UC_SIZE      (INFO_OFF - UC_OFF)

/* struct sigcontext offsets. */
#define SC_EFLAGS  136
#define SC_CS      144
#define SC_SS      150
#define SC_ERR     152
#define SC_TRAPNO  160
#define SC_OLDMASK 168
#define SC_CR2     176
#define SC_FPSTATE 184

/* FXSAVE image offsets. */
#define FX_FCW        0
#define FX_FSW        2
#define FX_FTW        4
#define FX_MXCSR      24
#define FX_MXCSR_MASK 28
#define FX_ST         32
#define FX_XMM        160
#define FX_REG_STRIDE 16
#define FX_ST_BYTES   10 /* an 80-bit x87 register */

#define UC_SIGCONTEXT_SS     0x2ULL
#define UC_STRICT_RESTORE_SS 0x4ULL
#define USER_CS              0x33
#define USER_DS              0x2b

#define RFLAGS_TF 0x100ULL
#define RFLAGS_DF 0x400ULL
#define RFLAGS_RF 0x10000ULL
/* FIX_EFLAGS: the bits rt_sigreturn lets user space choose (AC OF DF TF SF ZF AF PF CF RF). */
#define RFLAGS_USER 0x50dd5ULL

/* What FXSAVE reports as writable MXCSR bits on any CPU with DAZ; the restore rejects the rest,
 * because FXRSTOR would #GP on them and Linux turns that into SIGSEGV. */
#define MXCSR_MASK 0x0000ffffU

_Static_assert(INFO_OFF + LX_SIGINFO_SIZE == SIGFRAME_X86_64_SIZE, "rt_sigframe size");
_Static_assert(MCTX_OFF + 256 == SIGMASK_OFF, "sigcontext is 256 bytes");

/* clang-format off */
#define SC_GPR(field, off) {off, offsetof(struct regs_x86_64, field)}
/* clang-format on */
/* The general registers in struct sigcontext order, shared by the writer and the reader so
 * the two can never disagree. */
static const struct {
    uint16_t sc_off;
    uint16_t reg_off;
} sc_gprs[] = {
    SC_GPR(r8, 0),    SC_GPR(r9, 8),    SC_GPR(r10, 16), SC_GPR(r11, 24),  SC_GPR(r12, 32),
    SC_GPR(r13, 40),  SC_GPR(r14, 48),  SC_GPR(r15, 56), SC_GPR(rdi, 64),  SC_GPR(rsi, 72),
    SC_GPR(rbp, 80),  SC_GPR(rbx, 88),  SC_GPR(rdx, 96), SC_GPR(rax, 104), SC_GPR(rcx, 112),
    SC_GPR(rsp, 120), SC_GPR(rip, 128),
};

static uint64_t *gpr_slot(struct regs_x86_64 *r, size_t i)
{
    return (uint64_t *)((char *)r + sc_gprs[i].reg_off);
}

static uint64_t gpr_value(const struct regs_x86_64 *r, size_t i)
{
    return *(const uint64_t *)((const char *)r + sc_gprs[i].reg_off);
}

static guest_addr_t round_down(guest_addr_t v, guest_addr_t align) { return v & ~(align - 1); }

/* The x87 registers are kept in physical order; FXSAVE stores them in stack order, ST(i) being
 * physical register (TOP + i) mod 8. */
static unsigned x87_top(uint64_t fsw) { return (unsigned)(fsw >> 11) & 7; }

/* The FINIT/FNINIT state plus the power-on MXCSR: what Linux gives a signal handler and what a
 * NULL fpstate pointer restores. */
static void fpu_reset(struct regs_x86_64 *r)
{
    r->fcw = 0x037f;
    r->fsw = 0;
    r->ftw = 0xffff;
    r->mxcsr = 0x1f80;
    memset(r->xmm, 0, sizeof(r->xmm));
    memset(r->fpr, 0, sizeof(r->fpr));
}

static void fxsave_build(const struct regs_x86_64 *r, uint8_t fx[SIGFRAME_X86_64_FPSTATE_SIZE])
{
    /* FOP, FIP, FDP, the reserved bytes and sw_reserved stay zero: the model does not track
     * the last x87 instruction, and magic1 = 0 marks a legacy frame without XSAVE data. */
    memset(fx, 0, SIGFRAME_X86_64_FPSTATE_SIZE);
    le_put16(fx + FX_FCW, (uint16_t)r->fcw);
    le_put16(fx + FX_FSW, (uint16_t)r->fsw);

    uint8_t abridged = 0;
    for (unsigned i = 0; i < 8; i++)
        if (((r->ftw >> (2 * i)) & 3) != 3)
            abridged |= (uint8_t)(1u << i);
    fx[FX_FTW] = abridged;

    le_put32(fx + FX_MXCSR, (uint32_t)r->mxcsr);
    le_put32(fx + FX_MXCSR_MASK, MXCSR_MASK);

    unsigned top = x87_top(r->fsw);
    for (unsigned i = 0; i < 8; i++)
        memcpy(fx + FX_ST + FX_REG_STRIDE * i, r->fpr[(top + i) & 7], FX_ST_BYTES);
    for (unsigned i = 0; i < 16; i++)
        memcpy(fx + FX_XMM + FX_REG_STRIDE * i, r->xmm[i], sizeof(r->xmm[i]));
}

static void fxsave_load(struct regs_x86_64 *r, const uint8_t fx[SIGFRAME_X86_64_FPSTATE_SIZE])
{
    r->fcw = le_get16(fx + FX_FCW);
    r->fsw = le_get16(fx + FX_FSW);

    /* FXRSTOR only knows empty or not; the precise class (valid, zero, special) of a non-empty
     * register is recomputed by the CPU from its contents, which no guest can observe apart
     * from FSTENV, so "valid" is good enough. */
    uint64_t ftw = 0;
    for (unsigned i = 0; i < 8; i++)
        if (!(fx[FX_FTW] & (1u << i)))
            ftw |= 3ULL << (2 * i);
    r->ftw = ftw;

    r->mxcsr = le_get32(fx + FX_MXCSR);

    unsigned top = x87_top(r->fsw);
    memset(r->fpr, 0, sizeof(r->fpr));
    for (unsigned i = 0; i < 8; i++)
        memcpy(r->fpr[(top + i) & 7], fx + FX_ST + FX_REG_STRIDE * i, FX_ST_BYTES);
    for (unsigned i = 0; i < 16; i++)
        memcpy(r->xmm[i], fx + FX_XMM + FX_REG_STRIDE * i, sizeof(r->xmm[i]));
}

static void frame_build(const struct sigframe_req *req, const struct regs_x86_64 *r,
                        guest_addr_t fp, uint8_t buf[SIGFRAME_X86_64_SIZE])
{
    memset(buf, 0, SIGFRAME_X86_64_SIZE);
    le_put64(buf, req->restorer);

    /* No UC_FP_XSTATE: the FP area is a bare FXSAVE image. */
    le_put64(buf + UC_OFF, UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS);
    lx_stack_put(buf + UC_STACK_OFF, &req->uc_stack);

    uint8_t *sc = buf + MCTX_OFF;
    for (size_t i = 0; i < sizeof(sc_gprs) / sizeof(sc_gprs[0]); i++)
        le_put64(sc + sc_gprs[i].sc_off, gpr_value(r, i));
    le_put64(sc + SC_EFLAGS, r->rflags);
    le_put16(sc + SC_CS, USER_CS);
    le_put16(sc + SC_SS, USER_DS); /* gs and fs selectors in between stay 0 */
    le_put64(sc + SC_ERR, req->fault_code & 0xffffffffULL);
    le_put64(sc + SC_TRAPNO, req->fault_code >> 32);
    le_put64(sc + SC_OLDMASK, req->saved_mask);
    le_put64(sc + SC_CR2, req->fault_addr);
    le_put64(sc + SC_FPSTATE, fp);

    le_put64(buf + SIGMASK_OFF, req->saved_mask);
    if (req->sa_flags & LX_SA_SIGINFO)
        memcpy(buf + INFO_OFF, req->info, LX_SIGINFO_SIZE);
}

/* __on_sig_stack(): the stack grows down, so its top byte is ss_sp + ss_size - 1 and an SP
 * equal to ss_sp + ss_size (nothing pushed yet) is on it while ss_sp itself is not. */
static bool within_altstack(const struct lx_stack *ss, guest_addr_t sp)
{
    return sp > ss->ss_sp && sp - ss->ss_sp <= ss->ss_size;
}

/* Linux's get_sigframe refuses a frame that would spill off the alternate stack, both when
 * entering it and when the interrupted code already runs on it, so that the thread dies with
 * SIGSEGV instead of overwriting whatever lies below. With SS_AUTODISARM the kernel never
 * considers a thread to be on the alternate stack, hence no nesting check then. */
static bool altstack_overflows(const struct sigframe_req *req, guest_addr_t rsp, guest_addr_t frame)
{
    const struct lx_stack *ss = &req->uc_stack;
    uint32_t flags = (uint32_t)ss->ss_flags;
    bool nested = ss->ss_size != 0 && !(flags & (LX_SS_DISABLE | LX_SS_AUTODISARM)) &&
                  within_altstack(ss, rsp);
    return (req->use_altstack || nested) && !within_altstack(ss, frame);
}

int sigframe_setup_x86_64(const struct sigframe_req *req, struct arch_regs *regs,
                          const struct guest_mem *mem)
{
    struct regs_x86_64 *r = &regs->x86;

    /* There is no kernel-provided return path on x86-64: without a restorer the handler would
     * return into garbage, so Linux refuses the frame and forces SIGSEGV. */
    if (!(req->sa_flags & LX_SA_RESTORER))
        return -LX_EFAULT;

    /* The red zone belongs to the interrupted function, but only on the stack it runs on. */
    guest_addr_t sp = req->use_altstack ? req->altstack_top : r->rsp - RED_ZONE;
    guest_addr_t fp = round_down(sp - SIGFRAME_X86_64_FPSTATE_SIZE, FP_ALIGN);
    /* rsp = frame then looks like a call just pushed its return address: (rsp + 8) % 16 == 0. */
    guest_addr_t frame = round_down(fp - SIGFRAME_X86_64_SIZE, FRAME_ALIGN) - 8;
    if (altstack_overflows(req, r->rsp, frame))
        return -LX_EFAULT;

    uint8_t fx[SIGFRAME_X86_64_FPSTATE_SIZE];
    uint8_t buf[SIGFRAME_X86_64_SIZE];
    fxsave_build(r, fx);
    frame_build(req, r, fp, buf);
    /* Without SA_SIGINFO Linux leaves the siginfo slot as it was. */
    size_t len = (req->sa_flags & LX_SA_SIGINFO) ? sizeof(buf) : INFO_OFF;
    if (mem->write(mem->ctx, fp, fx, sizeof(fx)) != 0 || mem->write(mem->ctx, frame, buf, len) != 0)
        return -LX_EFAULT;

    r->rdi = (uint64_t)req->sig;
    r->rsi = frame + INFO_OFF;
    r->rdx = frame + UC_OFF;
    r->rax = 0; /* for handlers declared without a prototype, as varargs callees */
    r->rsp = frame;
    r->rip = req->handler;
    r->rflags &= ~(RFLAGS_DF | RFLAGS_TF | RFLAGS_RF);
    fpu_reset(r);
    return 0;
}

int sigframe_restore_x86_64(struct arch_regs *regs, const struct guest_mem *mem,
                            struct sigframe_restored *out)
{
    /* Everything goes into a copy first: a bad frame must leave the thread as it was. */
    struct regs_x86_64 r = regs->x86;
    guest_addr_t frame = r.rsp - 8;

    /* Only the ucontext is read, as Linux does: pretcode was consumed by `ret` and the siginfo
     * slot may lie on an unmapped page of a hand-made frame. */
    uint8_t uc[UC_SIZE];
    if (mem->read(mem->ctx, frame + UC_OFF, uc, sizeof(uc)) != 0)
        return -LX_EFAULT;

    const uint8_t *sc = uc + (MCTX_OFF - UC_OFF);
    for (size_t i = 0; i < sizeof(sc_gprs) / sizeof(sc_gprs[0]); i++)
        *gpr_slot(&r, i) = le_get64(sc + sc_gprs[i].sc_off);
    r.rflags = (r.rflags & ~RFLAGS_USER) | (le_get64(sc + SC_EFLAGS) & RFLAGS_USER);

    guest_addr_t fp = le_get64(sc + SC_FPSTATE);
    if (fp == 0) {
        fpu_reset(&r);
    } else {
        /* FXRSTOR faults on a misaligned image or reserved MXCSR bits; Linux reports either
         * as a bad frame. */
        uint8_t fx[SIGFRAME_X86_64_FPSTATE_SIZE];
        if (fp % 16 != 0 || mem->read(mem->ctx, fp, fx, sizeof(fx)) != 0)
            return -LX_EFAULT;
        if (le_get32(fx + FX_MXCSR) & ~MXCSR_MASK)
            return -LX_EFAULT;
        fxsave_load(&r, fx);
    }

    out->mask = le_get64(uc + (SIGMASK_OFF - UC_OFF));
    out->uc_stack = lx_stack_get(uc + (UC_STACK_OFF - UC_OFF));
    regs->x86 = r;
    return 0;
}
