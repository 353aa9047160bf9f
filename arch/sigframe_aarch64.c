/* aarch64 rt_sigframe (spec 6.5): Linux's layout with an fpsimd record, an esr record for
 * faults and a terminator in __reserved, built and parsed byte by byte so the guest sees the
 * same bytes whatever the host's struct layout. */
#include <string.h>

#include "le.h"
#include "sigframe.h"

#define FRAME_RECORD_SIZE 16

/* Frame offsets. */
#define INFO_OFF      0
#define UC_OFF        128 /* struct ucontext */
#define UC_STACK_OFF  144 /* uc_stack */
#define SIGMASK_OFF   168 /* uc_sigmask; 120 bytes of glibc's 1024-bit sigset follow */
#define MCTX_OFF      304 /* uc_mcontext = struct sigcontext */
#define RESERVED_OFF  592 /* uc_mcontext.__reserved */
#define RESERVED_SIZE 4096

/* struct sigcontext offsets. */
#define SC_FAULT_ADDR 0
#define SC_REGS       8
#define SC_SP         256
#define SC_PC         264
#define SC_PSTATE     272

/* __reserved records: {u32 magic, u32 size} headers, 16-byte aligned. */
#define CTX_HEAD_SIZE 8
#define CTX_ALIGN     16
#define FPSIMD_MAGIC  0x46508001U
#define FPSIMD_SIZE   528
#define FPSIMD_FPSR   8
#define FPSIMD_FPCR   12
#define FPSIMD_VREGS  16
#define ESR_MAGIC     0x45535201U
#define ESR_SIZE      16
#define ESR_ESR       8

#define PSTATE_NZCV 0xf0000000ULL

_Static_assert(RESERVED_OFF + RESERVED_SIZE == SIGFRAME_AARCH64_SIZE, "rt_sigframe size");
_Static_assert(MCTX_OFF + SC_PSTATE + 8 + 8 == RESERVED_OFF, "__reserved follows pstate");
_Static_assert(SIGFRAME_AARCH64_SIZE % 16 == 0, "the frame keeps the record's alignment");

static guest_addr_t round_down(guest_addr_t v, guest_addr_t align) { return v & ~(align - 1); }

/* Fills buf, which covers [frame, frame + SIGFRAME_AARCH64_SIZE + FRAME_RECORD_SIZE). */
static void frame_build(const struct sigframe_req *req, const struct regs_aarch64 *r, uint8_t *buf)
{
    /* uc_flags, uc_link, the sigset padding and the unused tail of __reserved are zero. */
    memset(buf, 0, SIGFRAME_AARCH64_SIZE + FRAME_RECORD_SIZE);
    if (req->sa_flags & LX_SA_SIGINFO)
        memcpy(buf + INFO_OFF, req->info, LX_SIGINFO_SIZE);
    lx_stack_put(buf + UC_STACK_OFF, &req->uc_stack);
    le_put64(buf + SIGMASK_OFF, req->saved_mask);

    uint8_t *sc = buf + MCTX_OFF;
    le_put64(sc + SC_FAULT_ADDR, req->fault_addr);
    for (int i = 0; i < 31; i++)
        le_put64(sc + SC_REGS + 8 * i, r->x[i]);
    le_put64(sc + SC_SP, r->sp);
    le_put64(sc + SC_PC, r->pc);
    /* EL0t with the DAIF bits clear: the flags are all there is to PSTATE. */
    le_put64(sc + SC_PSTATE, r->nzcv);

    uint8_t *rec = buf + RESERVED_OFF;
    le_put32(rec, FPSIMD_MAGIC);
    le_put32(rec + 4, FPSIMD_SIZE);
    le_put32(rec + FPSIMD_FPSR, (uint32_t)r->fpsr);
    le_put32(rec + FPSIMD_FPCR, (uint32_t)r->fpcr);
    for (int i = 0; i < 32; i++)
        memcpy(rec + FPSIMD_VREGS + 16 * i, r->v[i], sizeof(r->v[i]));
    rec += FPSIMD_SIZE;

    /* Linux adds the esr record only for faults, which are the signals with an ESR. */
    if (req->fault_code != 0) {
        le_put32(rec, ESR_MAGIC);
        le_put32(rec + 4, ESR_SIZE);
        le_put64(rec + ESR_ESR, req->fault_code);
        rec += ESR_SIZE;
    }
    /* The terminator {0, 0} is already there. */

    /* The frame record above the frame lets unwinders walk from the handler into the
     * interrupted code: x29 will point at it. */
    le_put64(buf + SIGFRAME_AARCH64_SIZE, r->x[29]);
    le_put64(buf + SIGFRAME_AARCH64_SIZE + 8, r->x[30]);
}

int sigframe_setup_aarch64(const struct sigframe_req *req, struct arch_regs *regs,
                           const struct guest_mem *mem)
{
    struct regs_aarch64 *r = &regs->a64;

    /* AAPCS64 has no red zone. Unlike x86-64, Linux does not check that the frame fits on the
     * alternate stack: an overflowing frame lands below it. */
    guest_addr_t sp = req->use_altstack ? req->altstack_top : r->sp;
    guest_addr_t rec = round_down(sp - FRAME_RECORD_SIZE, 16);
    guest_addr_t frame = rec - SIGFRAME_AARCH64_SIZE;

    uint8_t buf[SIGFRAME_AARCH64_SIZE + FRAME_RECORD_SIZE];
    frame_build(req, r, buf);
    /* Without SA_SIGINFO Linux leaves the siginfo slot as it was. */
    size_t skip = (req->sa_flags & LX_SA_SIGINFO) ? 0 : UC_OFF;
    if (mem->write(mem->ctx, frame + skip, buf + skip, sizeof(buf) - skip) != 0)
        return -LX_EFAULT;

    r->x[0] = (uint64_t)req->sig;
    if (req->sa_flags & LX_SA_SIGINFO) {
        r->x[1] = frame + INFO_OFF;
        r->x[2] = frame + UC_OFF;
    }
    r->sp = frame;
    r->x[29] = rec;
    r->x[30] = (req->sa_flags & LX_SA_RESTORER) ? req->restorer : req->trampoline;
    r->pc = req->handler;
    return 0;
}

/* Reads the fpsimd record at addr into r; Linux insists on its exact size. */
static int fpsimd_restore(struct regs_aarch64 *r, const struct guest_mem *mem, guest_addr_t addr)
{
    uint8_t rec[FPSIMD_SIZE];
    if (mem->read(mem->ctx, addr, rec, sizeof(rec)) != 0)
        return -LX_EFAULT;
    if (le_get32(rec) != FPSIMD_MAGIC || le_get32(rec + 4) != FPSIMD_SIZE)
        return -LX_EFAULT;
    r->fpsr = le_get32(rec + FPSIMD_FPSR);
    r->fpcr = le_get32(rec + FPSIMD_FPCR);
    for (int i = 0; i < 32; i++)
        memcpy(r->v[i], rec + FPSIMD_VREGS + 16 * i, sizeof(r->v[i]));
    return 0;
}

/* parse_user_sigframe() for a CPU with FP/SIMD and nothing newer: walks the records up to the
 * terminator and returns the fpsimd record's address in *fpsimd. Like Linux, the records may
 * come in any order, but the fpsimd one must appear exactly once; SVE, ZA and extra_context
 * records are unknown here and rejected, as Linux does on a CPU without those features. */
static int records_parse(const struct guest_mem *mem, guest_addr_t base, guest_addr_t *fpsimd)
{
    bool have_fpsimd = false;
    size_t offset = 0;

    for (;;) {
        if (RESERVED_SIZE - offset < CTX_HEAD_SIZE || offset % CTX_ALIGN != 0)
            return -LX_EFAULT;
        uint8_t head[CTX_HEAD_SIZE];
        if (mem->read(mem->ctx, base + offset, head, sizeof(head)) != 0)
            return -LX_EFAULT;
        uint32_t magic = le_get32(head);
        uint32_t size = le_get32(head + 4);
        if (size > RESERVED_SIZE - offset)
            return -LX_EFAULT;

        switch (magic) {
        case 0:
            if (size != 0)
                return -LX_EFAULT;
            if (!have_fpsimd)
                return -LX_EFAULT;
            return 0;
        case FPSIMD_MAGIC:
            if (have_fpsimd || size < FPSIMD_SIZE)
                return -LX_EFAULT;
            have_fpsimd = true;
            *fpsimd = base + offset;
            break;
        case ESR_MAGIC:
            break; /* informational only */
        default:
            return -LX_EFAULT;
        }
        /* A short size would loop or misalign the next header; the alignment check above
         * catches sizes that are not a multiple of 16. */
        if (size < CTX_HEAD_SIZE)
            return -LX_EFAULT;
        offset += size;
    }
}

int sigframe_restore_aarch64(struct arch_regs *regs, const struct guest_mem *mem,
                             struct sigframe_restored *out)
{
    /* Everything goes into a copy first: a bad frame must leave the thread as it was. */
    struct regs_aarch64 r = regs->a64;
    guest_addr_t frame = r.sp;

    /* The frame was placed on a 16-byte boundary, so anything else is not a frame of ours. */
    if (frame % 16 != 0)
        return -LX_EFAULT;

    /* From uc_stack to the end of the fixed part of sigcontext: the siginfo slot and the
     * ucontext header are not read back, as in Linux. */
    uint8_t fixed[RESERVED_OFF - UC_STACK_OFF];
    if (mem->read(mem->ctx, frame + UC_STACK_OFF, fixed, sizeof(fixed)) != 0)
        return -LX_EFAULT;
    const uint8_t *sc = fixed + (MCTX_OFF - UC_STACK_OFF);
    for (int i = 0; i < 31; i++)
        r.x[i] = le_get64(sc + SC_REGS + 8 * i);
    r.sp = le_get64(sc + SC_SP);
    r.pc = le_get64(sc + SC_PC);

    /* Linux accepts any EL0t PSTATE, but the model holds nothing beyond NZCV: refusing the
     * rest is better than silently dropping it. */
    uint64_t pstate = le_get64(sc + SC_PSTATE);
    if (pstate & ~PSTATE_NZCV)
        return -LX_EFAULT;
    r.nzcv = pstate;

    guest_addr_t fpsimd = 0;
    if (records_parse(mem, frame + RESERVED_OFF, &fpsimd) != 0 ||
        fpsimd_restore(&r, mem, fpsimd) != 0)
        return -LX_EFAULT;

    out->mask = le_get64(fixed + (SIGMASK_OFF - UC_STACK_OFF));
    out->uc_stack = lx_stack_get(fixed);
    regs->a64 = r;
    return 0;
}
