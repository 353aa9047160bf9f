/* x86-64 rt_sigframe construction and rt_sigreturn parsing (spec 6.4, 6.6, vectors 76-80). */
#include <criterion/criterion.h>
#include <string.h>

#include "arch/sigframe.h"
#include "fake_mem.h"

#define BASE 0x7ffff7ff0000ULL
#define SIZE 0x10000ULL
#define RSP  (BASE + 0x8000)
/* Worked example of spec 6.4 for RSP: sp = RSP - 128 = +0x7f80, fp = round_down(sp - 512, 64)
 * = +0x7d80, frame = round_down(fp - 440, 16) - 8 = +0x7bb8. */
#define FP    (BASE + 0x7d80)
#define FRAME (BASE + 0x7bb8)
#define UC    (FRAME + 8)
#define SC    (FRAME + 48)
#define INFO  (FRAME + 312)

#define HANDLER    0x401000ULL
#define RESTORER   0x402000ULL
#define SAVED_MASK (LX_SIGBIT(LX_SIGUSR2) | LX_SIGBIT(LX_SIGRTMIN) | (1ULL << 63))

#define DF 0x400ULL
#define TF 0x100ULL
#define RF 0x10000ULL

static struct fake_mem mem;
static uint8_t info[LX_SIGINFO_SIZE];

static void mem_setup(void)
{
    fake_mem_init(&mem, BASE, SIZE);
    for (size_t i = 0; i < sizeof(info); i++)
        info[i] = (uint8_t)(i ^ 0x5c);
}

static void mem_teardown(void) { fake_mem_fini(&mem); }

TestSuite(sigframe_x86_64, .init = mem_setup, .fini = mem_teardown);

/* x87 state with TOP = 5: physical 5 and 6 valid, 7 special, 0..4 empty. */
#define TOP      5
#define FTW      0x83ffULL
#define ABRIDGED 0xe0

static struct arch_regs sample_regs(void)
{
    struct arch_regs regs;
    memset(&regs, 0, sizeof(regs));
    struct regs_x86_64 *r = &regs.x86;
    r->rax = 0x1111111111111101ULL;
    r->rbx = 0x2222222222222202ULL;
    r->rcx = 0x3333333333333303ULL;
    r->rdx = 0x4444444444444404ULL;
    r->rsi = 0x5555555555555505ULL;
    r->rdi = 0x6666666666666606ULL;
    r->rbp = 0x7777777777777707ULL;
    r->rsp = RSP;
    r->r8 = 0x8888888888888808ULL;
    r->r9 = 0x9999999999999909ULL;
    r->r10 = 0xaaaaaaaaaaaaaa10ULL;
    r->r11 = 0xbbbbbbbbbbbbbb11ULL;
    r->r12 = 0xcccccccccccccc12ULL;
    r->r13 = 0xdddddddddddddd13ULL;
    r->r14 = 0xeeeeeeeeeeeeee14ULL;
    r->r15 = 0xffffffffffffff15ULL;
    r->rip = 0x4005d0ULL;
    r->rflags = 0x202 | DF | TF | RF | 0x1 | 0x40; /* IF, CF, ZF and the three cleared bits */
    r->fs_base = 0x7ffff7d8a740ULL;
    r->gs_base = 0;
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++)
            r->xmm[i][j] = (uint8_t)(0x40 + 16 * i + j);
    for (int p = 0; p < 8; p++)
        for (int j = 0; j < 10; j++)
            r->fpr[p][j] = (uint8_t)(0x80 + 16 * p + j);
    r->fcw = 0x027f;
    r->fsw = (TOP << 11) | 0x20;
    r->ftw = FTW;
    r->mxcsr = 0x1fa0;
    return regs;
}

static struct sigframe_req sample_req(void)
{
    return (struct sigframe_req){
        .sig = LX_SIGUSR1,
        .sa_flags = LX_SA_SIGINFO | LX_SA_RESTORER,
        .handler = HANDLER,
        .restorer = RESTORER,
        .saved_mask = SAVED_MASK,
        .uc_stack = {.ss_sp = 0, .ss_flags = LX_SS_DISABLE, .ss_size = 0},
        .info = info,
    };
}

/* The handler's `ret` into __restore_rt pops pretcode before rt_sigreturn runs. */
static void handler_returns(struct arch_regs *regs) { regs->x86.rsp += 8; }

static void assert_regs_equal(const struct arch_regs *a, const struct arch_regs *b)
{
    cr_assert(memcmp(&a->x86, &b->x86, sizeof(a->x86)) == 0, "registers differ");
}

/* spec 6.4: placement below the red zone, the 64-byte aligned FP area and the frame. */
Test(sigframe_x86_64, current_stack_frame_lies_below_red_zone_and_fp_area)
{
    struct arch_regs regs = sample_regs();
    struct sigframe_req req = sample_req();
    cr_assert_eq(sigframe_setup_x86_64(&req, &regs, &mem.iface), 0);

    cr_assert_eq(regs.x86.rsp, FRAME);
    cr_assert_eq(fake_mem_u64(&mem, SC + 184), FP, "fpstate pointer");
    cr_assert_eq(FP % 64, 0);
    cr_assert_eq(FP - UC, 448, "fpstate - uc, as observed on Linux");
    cr_assert(FP + SIGFRAME_X86_64_FPSTATE_SIZE <= RSP - 128);
    cr_assert(fake_mem_untouched(&mem, RSP - 128, 128), "the red zone was written");
    /* Linux leaves the 16 bytes between the frame and the FP area alone. */
    cr_assert(fake_mem_untouched(&mem, FRAME + 440, FP - (FRAME + 440)));
}

/* spec 6.4: placement follows the formulas for an unaligned interrupted rsp too. */
Test(sigframe_x86_64, unaligned_rsp_frame_follows_rounding_rules)
{
    for (guest_addr_t delta = 0; delta < 64; delta += 3) {
        struct arch_regs regs = sample_regs();
        regs.x86.rsp = RSP - delta;
        struct sigframe_req req = sample_req();
        cr_assert_eq(sigframe_setup_x86_64(&req, &regs, &mem.iface), 0);
        guest_addr_t fp = (RSP - delta - 128 - 512) & ~63ULL;
        guest_addr_t frame = ((fp - 440) & ~15ULL) - 8;
        cr_assert_eq(regs.x86.rsp, frame, "delta %llu", (unsigned long long)delta);
        cr_assert_eq(fake_mem_u64(&mem, frame + 48 + 184), fp);
        cr_assert_eq((regs.x86.rsp + 8) % 16, 0);
    }
}

/* spec 6.4: pretcode and the ucontext header. */
Test(sigframe_x86_64, setup_writes_pretcode_and_ucontext_header)
{
    struct arch_regs regs = sample_regs();
    struct sigframe_req req = sample_req();
    req.uc_stack = (struct lx_stack){
        .ss_sp = 0x12340000, .ss_flags = (int32_t)LX_SS_AUTODISARM, .ss_size = 0x9000};
    cr_assert_eq(sigframe_setup_x86_64(&req, &regs, &mem.iface), 0);

    cr_assert_eq(fake_mem_u64(&mem, FRAME + 0), RESTORER, "pretcode");
    cr_assert_eq(fake_mem_u64(&mem, UC + 0), 0x6, "uc_flags: SIGCONTEXT_SS | STRICT_RESTORE_SS");
    cr_assert_eq(fake_mem_u64(&mem, UC + 8), 0, "uc_link");
    cr_assert_eq(fake_mem_u64(&mem, UC + 16), 0x12340000, "ss_sp");
    cr_assert_eq(fake_mem_u32(&mem, UC + 24), LX_SS_AUTODISARM, "ss_flags");
    cr_assert_eq(fake_mem_u32(&mem, UC + 28), 0, "ss_flags padding");
    cr_assert_eq(fake_mem_u64(&mem, UC + 32), 0x9000, "ss_size");
    cr_assert_eq(fake_mem_u64(&mem, FRAME + 304), SAVED_MASK, "uc_sigmask");
}

/* spec 6.4, vector 77: every struct sigcontext field at its offset. */
Test(sigframe_x86_64, setup_writes_every_sigcontext_field_at_its_offset)
{
    struct arch_regs regs = sample_regs();
    const struct regs_x86_64 before = regs.x86;
    struct sigframe_req req = sample_req();
    req.fault_addr = 0xdeadbeef000ULL;
    req.fault_code = (14ULL << 32) | 0x6; /* #PF, user write to a non-present page */
    cr_assert_eq(sigframe_setup_x86_64(&req, &regs, &mem.iface), 0);

    const struct {
        unsigned off;
        uint64_t value;
    } fields[] = {
        {0, before.r8},    {8, before.r9},          {16, before.r10},  {24, before.r11},
        {32, before.r12},  {40, before.r13},        {48, before.r14},  {56, before.r15},
        {64, before.rdi},  {72, before.rsi},        {80, before.rbp},  {88, before.rbx},
        {96, before.rdx},  {104, before.rax},       {112, before.rcx}, {120, before.rsp},
        {128, before.rip}, {136, before.rflags},    {152, 0x6},        {160, 14},
        {168, SAVED_MASK}, {176, 0xdeadbeef000ULL}, {184, FP},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        cr_assert_eq(fake_mem_u64(&mem, SC + fields[i].off), fields[i].value, "sigcontext +%u",
                     fields[i].off);
    cr_assert_eq(fake_mem_u16(&mem, SC + 144), 0x33, "cs");
    cr_assert_eq(fake_mem_u16(&mem, SC + 146), 0, "gs");
    cr_assert_eq(fake_mem_u16(&mem, SC + 148), 0, "fs");
    cr_assert_eq(fake_mem_u16(&mem, SC + 150), 0x2b, "ss");
    cr_assert(fake_mem_zero(&mem, SC + 192, 64), "reserved1");
    cr_assert_eq(fake_mem_u64(&mem, FRAME + 176), before.rip, "rip at frame + 176");
}

/* spec 6.4: the legacy FXSAVE image, x87 registers in stack order (ST(i) = FP((TOP + i) & 7)). */
Test(sigframe_x86_64, setup_writes_fxsave_image_in_stack_order)
{
    struct arch_regs regs = sample_regs();
    const struct regs_x86_64 before = regs.x86;
    struct sigframe_req req = sample_req();
    cr_assert_eq(sigframe_setup_x86_64(&req, &regs, &mem.iface), 0);

    cr_assert_eq(fake_mem_u16(&mem, FP + 0), 0x027f, "fcw");
    cr_assert_eq(fake_mem_u16(&mem, FP + 2), before.fsw, "fsw");
    cr_assert_eq(fake_mem_get(&mem, FP + 4, 1), ABRIDGED, "abridged tag");
    cr_assert_eq(fake_mem_get(&mem, FP + 5, 1), 0);
    cr_assert_eq(fake_mem_u16(&mem, FP + 6), 0, "fop");
    cr_assert_eq(fake_mem_u64(&mem, FP + 8), 0, "fip");
    cr_assert_eq(fake_mem_u64(&mem, FP + 16), 0, "fdp");
    cr_assert_eq(fake_mem_u32(&mem, FP + 24), 0x1fa0, "mxcsr");
    cr_assert_eq(fake_mem_u32(&mem, FP + 28), 0xffff, "mxcsr_mask");
    for (int i = 0; i < 8; i++) {
        const uint8_t *st = fake_mem_at(&mem, FP + 32 + 16 * i, 16);
        cr_assert_arr_eq(st, before.fpr[(TOP + i) & 7], 10, "ST(%d)", i);
        cr_assert(fake_mem_zero(&mem, FP + 32 + 16 * i + 10, 6), "ST(%d) padding", i);
    }
    for (int i = 0; i < 16; i++)
        cr_assert_arr_eq(fake_mem_at(&mem, FP + 160 + 16 * i, 16), before.xmm[i], 16, "xmm%d", i);
    cr_assert(fake_mem_zero(&mem, FP + 416, 48), "reserved");
    cr_assert(fake_mem_zero(&mem, FP + 464, 48), "sw_reserved: magic1 = 0, legacy frame");
}

/* spec 6.4, vector 77: info == uc + 304, uc == rsp + 8, (rsp + 8) % 16 == 0. */
Test(sigframe_x86_64, siginfo_handler_gets_info_at_uc_plus_304)
{
    struct arch_regs regs = sample_regs();
    struct sigframe_req req = sample_req();
    cr_assert_eq(sigframe_setup_x86_64(&req, &regs, &mem.iface), 0);

    cr_assert_eq(regs.x86.rsi, regs.x86.rdx + 304);
    cr_assert_eq(regs.x86.rdx, regs.x86.rsp + 8);
    cr_assert_eq((regs.x86.rsp + 8) % 16, 0);
    cr_assert_eq(regs.x86.rsi, INFO);
    cr_assert_arr_eq(fake_mem_at(&mem, INFO, LX_SIGINFO_SIZE), info, LX_SIGINFO_SIZE);
}

/* spec 6.4: siginfo is written only with SA_SIGINFO; rsi/rdx point at the frame anyway. */
Test(sigframe_x86_64, no_siginfo_leaves_info_slot_untouched)
{
    struct arch_regs regs = sample_regs();
    struct sigframe_req req = sample_req();
    req.sa_flags = LX_SA_RESTORER;
    cr_assert_eq(sigframe_setup_x86_64(&req, &regs, &mem.iface), 0);

    cr_assert(fake_mem_untouched(&mem, INFO, LX_SIGINFO_SIZE));
    cr_assert_eq(fake_mem_u64(&mem, FRAME + 304), SAVED_MASK, "the ucontext is still complete");
    cr_assert_eq(regs.x86.rsi, INFO);
    cr_assert_eq(regs.x86.rdx, UC);
}

/* spec 6.4: handler registers, flags and the reset FPU. */
Test(sigframe_x86_64, handler_entry_registers_follow_linux)
{
    struct arch_regs regs = sample_regs();
    const struct regs_x86_64 before = regs.x86;
    struct sigframe_req req = sample_req();
    cr_assert_eq(sigframe_setup_x86_64(&req, &regs, &mem.iface), 0);

    const struct regs_x86_64 *r = &regs.x86;
    cr_assert_eq(r->rdi, LX_SIGUSR1);
    cr_assert_eq(r->rax, 0);
    cr_assert_eq(r->rip, HANDLER);
    cr_assert_eq(r->rsp, FRAME);
    cr_assert_eq(r->rflags, before.rflags & ~(DF | TF | RF), "only DF, TF and RF are cleared");
    cr_assert_eq(r->fcw, 0x37f);
    cr_assert_eq(r->fsw, 0);
    cr_assert_eq(r->ftw, 0xffff);
    cr_assert_eq(r->mxcsr, 0x1f80);
    static const uint8_t zero[sizeof(r->xmm)];
    cr_assert(memcmp(r->xmm, zero, sizeof(r->xmm)) == 0, "xmm reset");
    cr_assert(memcmp(r->fpr, zero, sizeof(r->fpr)) == 0, "x87 reset");
    /* Untouched by delivery. */
    cr_assert_eq(r->rbx, before.rbx);
    cr_assert_eq(r->rcx, before.rcx);
    cr_assert_eq(r->r15, before.r15);
    cr_assert_eq(r->fs_base, before.fs_base);
}

/* spec 6.4, vector 76: no SA_RESTORER -> refused (the caller forces SIGSEGV), nothing written. */
Test(sigframe_x86_64, missing_restorer_is_refused_and_registers_unchanged)
{
    struct arch_regs regs = sample_regs();
    const struct arch_regs before = regs;
    struct sigframe_req req = sample_req();
    req.sa_flags = LX_SA_SIGINFO;
    cr_assert_eq(sigframe_setup_x86_64(&req, &regs, &mem.iface), -LX_EFAULT);
    assert_regs_equal(&regs, &before);
    cr_assert_eq(mem.writes, 0);
}

/* spec 6.4, 6.3 step 5: a frame that cannot be written leaves the registers unchanged. */
Test(sigframe_x86_64, unwritable_stack_fails_and_registers_unchanged)
{
    struct arch_regs regs = sample_regs();
    const struct arch_regs before = regs;
    struct sigframe_req req = sample_req();
    mem.readonly = true;
    cr_assert_eq(sigframe_setup_x86_64(&req, &regs, &mem.iface), -LX_EFAULT);
    assert_regs_equal(&regs, &before);
}

/* spec 6.4: the FP area fits but the frame below it falls off the mapping. */
Test(sigframe_x86_64, frame_partly_unmapped_fails_and_registers_unchanged)
{
    struct arch_regs regs = sample_regs();
    regs.x86.rsp = BASE + 128 + 512 + 64; /* fp = BASE + 64, frame below BASE */
    const struct arch_regs before = regs;
    struct sigframe_req req = sample_req();
    cr_assert_eq(sigframe_setup_x86_64(&req, &regs, &mem.iface), -LX_EFAULT);
    assert_regs_equal(&regs, &before);
}

/* spec 6.6, vector 80: the whole frame, FP area included, lies in [ss_sp, ss_sp + ss_size), built
 * from the top with no red zone. */
Test(sigframe_x86_64, altstack_frame_lies_within_ss_sp_ss_size)
{
    const guest_addr_t ss_sp = BASE + 0x1000, ss_size = 2048; /* MINSIGSTKSZ */
    struct arch_regs regs = sample_regs();
    struct sigframe_req req = sample_req();
    req.sa_flags |= LX_SA_ONSTACK;
    req.use_altstack = true;
    req.altstack_top = ss_sp + ss_size;
    req.uc_stack = (struct lx_stack){.ss_sp = ss_sp, .ss_flags = 0, .ss_size = ss_size};
    cr_assert_eq(sigframe_setup_x86_64(&req, &regs, &mem.iface), 0);

    guest_addr_t frame = regs.x86.rsp;
    guest_addr_t fp = fake_mem_u64(&mem, frame + 48 + 184);
    cr_assert_eq(fp, ss_sp + ss_size - 512, "no red zone on the alternate stack");
    cr_assert(frame >= ss_sp && fp + 512 <= ss_sp + ss_size);
    cr_assert_eq((frame + 8) % 16, 0);
    cr_assert(fake_mem_untouched(&mem, ss_sp + ss_size, 0x1000), "nothing above the altstack");
    cr_assert(fake_mem_untouched(&mem, RSP - 0x1000, 0x1000), "nothing on the old stack");
    cr_assert_eq(fake_mem_u64(&mem, frame + 48 + 120), RSP, "the saved rsp is the old one");
    cr_assert_eq(fake_mem_u64(&mem, frame + 24), ss_sp, "uc_stack.ss_sp");
    cr_assert_eq(fake_mem_u64(&mem, frame + 40), ss_size, "uc_stack.ss_size");
}

/* spec 6.6: a frame that would overflow the alternate stack is refused (forced SIGSEGV). */
Test(sigframe_x86_64, altstack_too_small_is_refused_and_registers_unchanged)
{
    const guest_addr_t ss_sp = BASE + 0x1000, ss_size = 952; /* fp = ss_sp + 384 */
    struct arch_regs regs = sample_regs();
    const struct arch_regs before = regs;
    struct sigframe_req req = sample_req();
    req.use_altstack = true;
    req.altstack_top = ss_sp + ss_size;
    req.uc_stack = (struct lx_stack){.ss_sp = ss_sp, .ss_flags = 0, .ss_size = ss_size};
    cr_assert_eq(sigframe_setup_x86_64(&req, &regs, &mem.iface), -LX_EFAULT);
    assert_regs_equal(&regs, &before);
    cr_assert_eq(mem.writes, 0);
}

/* spec 6.6: nested delivery on the alternate stack keeps the red zone and must still fit. */
Test(sigframe_x86_64, nested_altstack_overflow_is_refused)
{
    const guest_addr_t ss_sp = BASE + 0x1000, ss_size = 0x2000;
    struct arch_regs regs = sample_regs();
    struct sigframe_req req = sample_req();
    req.uc_stack = (struct lx_stack){.ss_sp = ss_sp, .ss_flags = LX_SS_ONSTACK, .ss_size = ss_size};

    /* sp = rsp - 128 = ss_sp + 1024, fp = ss_sp + 512, frame = fp - 456: the lowest fit. */
    regs.x86.rsp = ss_sp + 1152;
    cr_assert_eq(sigframe_setup_x86_64(&req, &regs, &mem.iface), 0);
    cr_assert_eq(regs.x86.rsp, ss_sp + 56);

    regs = sample_regs();
    regs.x86.rsp = ss_sp + 1151; /* fp = ss_sp + 448, frame = ss_sp - 8 */
    const struct arch_regs before = regs;
    cr_assert_eq(sigframe_setup_x86_64(&req, &regs, &mem.iface), -LX_EFAULT);
    assert_regs_equal(&regs, &before);

    /* With SS_AUTODISARM the kernel never considers the thread to be on the altstack. */
    req.uc_stack.ss_flags = (int32_t)LX_SS_AUTODISARM;
    cr_assert_eq(sigframe_setup_x86_64(&req, &regs, &mem.iface), 0);
}

/* spec 6.2 rt_sigreturn, 6.4: setup, edit the saved state, return: the edits come back, the rest
 * is the interrupted state (ftw classes collapse to valid/empty). */
Test(sigframe_x86_64, round_trip_restores_modified_registers)
{
    struct arch_regs regs = sample_regs();
    struct arch_regs expect = regs;
    struct sigframe_req req = sample_req();
    cr_assert_eq(sigframe_setup_x86_64(&req, &regs, &mem.iface), 0);

    fake_mem_put(&mem, SC + 104, 8, 0x0123456789abcdefULL);          /* rax */
    fake_mem_put(&mem, SC + 128, 8, 0x400abcULL);                    /* rip */
    fake_mem_put(&mem, SC + 56, 8, 0x1515151515151515ULL);           /* r15 */
    fake_mem_put(&mem, FP + 160 + 16 * 3, 8, 0xfeedfacecafebeefULL); /* xmm3 low half */
    fake_mem_put(&mem, FP + 24, 4, 0x1f80);                          /* mxcsr */
    fake_mem_put(&mem, FP + 0, 2, 0x037f);                           /* fcw */
    expect.x86.rax = 0x0123456789abcdefULL;
    expect.x86.rip = 0x400abcULL;
    expect.x86.r15 = 0x1515151515151515ULL;
    for (int j = 0; j < 8; j++)
        expect.x86.xmm[3][j] = (uint8_t)(0xfeedfacecafebeefULL >> (8 * j));
    expect.x86.mxcsr = 0x1f80;
    expect.x86.fcw = 0x037f;
    expect.x86.ftw = 0x03ff; /* physical 7 was "special" (2): FXRSTOR only keeps "not empty" */

    /* The handler clobbers what it likes before returning. */
    regs.x86.rax = 15;
    regs.x86.rcx = 0;
    regs.x86.xmm[0][0] = 0x99;
    handler_returns(&regs);
    struct sigframe_restored out;
    cr_assert_eq(sigframe_restore_x86_64(&regs, &mem.iface, &out), 0);

    /* rflags: the user bits come from the frame, which holds the pre-delivery value. */
    assert_regs_equal(&regs, &expect);
    cr_assert_eq(out.mask, SAVED_MASK);
}

/* spec 6.4: an edited ST(i) lands in physical register (TOP + i) & 7, with TOP taken from the
 * saved FSW, which the frame may also change. */
Test(sigframe_x86_64, round_trip_maps_x87_stack_order_through_saved_top)
{
    struct arch_regs regs = sample_regs();
    struct sigframe_req req = sample_req();
    cr_assert_eq(sigframe_setup_x86_64(&req, &regs, &mem.iface), 0);

    fake_mem_put(&mem, FP + 32 + 16 * 1, 8, 0x1122334455667788ULL); /* ST(1) */
    fake_mem_put(&mem, FP + 32 + 16 * 1 + 8, 2, 0x4000);
    handler_returns(&regs);
    struct sigframe_restored out;
    cr_assert_eq(sigframe_restore_x86_64(&regs, &mem.iface, &out), 0);
    const uint8_t st1[16] = {0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00, 0x40};
    cr_assert_arr_eq(regs.x86.fpr[(TOP + 1) & 7], st1, 16, "ST(1) is physical 6");
    cr_assert_eq(regs.x86.fsw, (TOP << 11) | 0x20);

    /* Same frame again with TOP = 2 in the saved FSW: the stack slots rotate accordingly. */
    struct arch_regs again = sample_regs();
    cr_assert_eq(sigframe_setup_x86_64(&req, &again, &mem.iface), 0);
    const uint8_t *st_before = fake_mem_at(&mem, FP + 32, 128);
    uint8_t st_copy[128];
    memcpy(st_copy, st_before, sizeof(st_copy));
    fake_mem_put(&mem, FP + 2, 2, 2 << 11);
    fake_mem_put(&mem, FP + 4, 1, 0x01); /* only physical 0 non-empty */
    handler_returns(&again);
    cr_assert_eq(sigframe_restore_x86_64(&again, &mem.iface, &out), 0);
    for (int i = 0; i < 8; i++)
        cr_assert_arr_eq(again.x86.fpr[(2 + i) & 7], st_copy + 16 * i, 10, "ST(%d)", i);
    cr_assert_eq(again.x86.ftw, 0xfffc, "only physical 0 tagged valid");
}

/* spec 6.2: rflags = (current & ~FIX_EFLAGS) | (saved & FIX_EFLAGS), FIX_EFLAGS = 0x50dd5. */
Test(sigframe_x86_64, restore_takes_only_user_modifiable_rflags)
{
    struct arch_regs regs = sample_regs();
    struct sigframe_req req = sample_req();
    cr_assert_eq(sigframe_setup_x86_64(&req, &regs, &mem.iface), 0);
    fake_mem_put(&mem, SC + 136, 8, 0xffffffffffffffffULL);
    regs.x86.rflags = 0x202;
    handler_returns(&regs);
    struct sigframe_restored out;
    cr_assert_eq(sigframe_restore_x86_64(&regs, &mem.iface, &out), 0);
    cr_assert_eq(regs.x86.rflags, 0x202 | 0x50dd5);

    struct arch_regs more = sample_regs();
    cr_assert_eq(sigframe_setup_x86_64(&req, &more, &mem.iface), 0);
    fake_mem_put(&mem, SC + 136, 8, 0);
    more.x86.rflags = 0xffffffffffffffffULL;
    handler_returns(&more);
    cr_assert_eq(sigframe_restore_x86_64(&more, &mem.iface, &out), 0);
    cr_assert_eq(more.x86.rflags, ~0x50dd5ULL);
}

/* spec 6.2: fpstate == 0 restores the initial FPU state. */
Test(sigframe_x86_64, null_fpstate_restores_initial_fpu)
{
    struct arch_regs regs = sample_regs();
    struct sigframe_req req = sample_req();
    cr_assert_eq(sigframe_setup_x86_64(&req, &regs, &mem.iface), 0);
    fake_mem_put(&mem, SC + 184, 8, 0);
    regs.x86.xmm[5][5] = 1;
    regs.x86.fpr[2][0] = 1;
    regs.x86.fcw = 0x7f;
    regs.x86.ftw = 0;
    handler_returns(&regs);
    struct sigframe_restored out;
    cr_assert_eq(sigframe_restore_x86_64(&regs, &mem.iface, &out), 0);
    cr_assert_eq(regs.x86.fcw, 0x37f);
    cr_assert_eq(regs.x86.fsw, 0);
    cr_assert_eq(regs.x86.ftw, 0xffff);
    cr_assert_eq(regs.x86.mxcsr, 0x1f80);
    cr_assert_eq(regs.x86.xmm[5][5], 0);
    cr_assert_eq(regs.x86.fpr[2][0], 0);
    cr_assert_eq(regs.x86.rip, sample_regs().x86.rip, "the GPRs still come back");
}

/* spec 6.2: rt_sigreturn reports uc_sigmask and uc_stack for the caller to apply. */
Test(sigframe_x86_64, restore_reports_sigmask_and_uc_stack)
{
    struct arch_regs regs = sample_regs();
    struct sigframe_req req = sample_req();
    cr_assert_eq(sigframe_setup_x86_64(&req, &regs, &mem.iface), 0);
    fake_mem_put(&mem, FRAME + 304, 8, 0x5555ULL);
    fake_mem_put(&mem, UC + 16, 8, 0x600000ULL);
    fake_mem_put(&mem, UC + 24, 4, (uint32_t)LX_SS_AUTODISARM);
    fake_mem_put(&mem, UC + 32, 8, 0x4000ULL);
    handler_returns(&regs);
    struct sigframe_restored out;
    cr_assert_eq(sigframe_restore_x86_64(&regs, &mem.iface, &out), 0);
    cr_assert_eq(out.mask, 0x5555ULL);
    cr_assert_eq(out.uc_stack.ss_sp, 0x600000ULL);
    cr_assert_eq((uint32_t)out.uc_stack.ss_flags, LX_SS_AUTODISARM);
    cr_assert_eq(out.uc_stack.ss_size, 0x4000ULL);
}

/* spec 6.2: rt_sigreturn reads only the ucontext, so a hand-made frame whose pretcode and
 * siginfo slots are unmapped still works. */
Test(sigframe_x86_64, restore_reads_only_the_ucontext)
{
    struct arch_regs regs = sample_regs();
    regs.x86.rsp = BASE; /* frame = BASE - 8: pretcode unmapped */
    uint8_t *uc = fake_mem_at(&mem, BASE, 304);
    memset(uc, 0, 304);
    fake_mem_put(&mem, BASE + 40 + 128, 8, 0x401111ULL);  /* rip */
    fake_mem_put(&mem, BASE + 40 + 120, 8, BASE + 0x800); /* rsp */
    struct sigframe_restored out;
    cr_assert_eq(sigframe_restore_x86_64(&regs, &mem.iface, &out), 0);
    cr_assert_eq(regs.x86.rip, 0x401111ULL);
    cr_assert_eq(regs.x86.rsp, BASE + 0x800);
}

/* spec 6.2: a bad frame (unmapped) -> SIGSEGV; the registers are left as they were. */
Test(sigframe_x86_64, restore_unmapped_frame_fails_and_registers_unchanged)
{
    struct arch_regs regs = sample_regs();
    regs.x86.rsp = BASE + SIZE - 200; /* the ucontext runs past the end */
    const struct arch_regs before = regs;
    struct sigframe_restored out = {.mask = 0x77};
    cr_assert_eq(sigframe_restore_x86_64(&regs, &mem.iface, &out), -LX_EFAULT);
    assert_regs_equal(&regs, &before);
    cr_assert_eq(out.mask, 0x77, "out untouched on failure");

    regs.x86.rsp = 0x1000;
    cr_assert_eq(sigframe_restore_x86_64(&regs, &mem.iface, &out), -LX_EFAULT);
}

/* spec 6.2: an fpstate pointer into unmapped memory is a bad frame. */
Test(sigframe_x86_64, restore_unmapped_fpstate_fails_and_registers_unchanged)
{
    struct arch_regs regs = sample_regs();
    struct sigframe_req req = sample_req();
    cr_assert_eq(sigframe_setup_x86_64(&req, &regs, &mem.iface), 0);
    fake_mem_put(&mem, SC + 184, 8, BASE + SIZE - 256);
    handler_returns(&regs);
    const struct arch_regs before = regs;
    struct sigframe_restored out;
    cr_assert_eq(sigframe_restore_x86_64(&regs, &mem.iface, &out), -LX_EFAULT);
    assert_regs_equal(&regs, &before);
}

/* spec 6.4 (FXRSTOR semantics): a misaligned image or reserved MXCSR bits fault in FXRSTOR,
 * which Linux reports as a bad frame. */
Test(sigframe_x86_64, restore_bad_fxsave_image_fails_and_registers_unchanged)
{
    struct arch_regs regs = sample_regs();
    struct sigframe_req req = sample_req();
    cr_assert_eq(sigframe_setup_x86_64(&req, &regs, &mem.iface), 0);
    handler_returns(&regs);
    const struct arch_regs before = regs;
    struct sigframe_restored out;

    /* An image 8 bytes up that would otherwise load fine: its MXCSR slot holds a valid value. */
    fake_mem_put(&mem, SC + 184, 8, FP + 8);
    fake_mem_put(&mem, FP + 8 + 24, 4, 0x1f80);
    fake_mem_put(&mem, FP + 8 + 28, 4, 0xffff);
    cr_assert_eq(sigframe_restore_x86_64(&regs, &mem.iface, &out), -LX_EFAULT);
    assert_regs_equal(&regs, &before);

    fake_mem_put(&mem, SC + 184, 8, FP);
    fake_mem_put(&mem, FP + 24, 4, 0x11f80);
    cr_assert_eq(sigframe_restore_x86_64(&regs, &mem.iface, &out), -LX_EFAULT);
    assert_regs_equal(&regs, &before);

    fake_mem_put(&mem, FP + 24, 4, 0xffff);
    cr_assert_eq(sigframe_restore_x86_64(&regs, &mem.iface, &out), 0);
    cr_assert_eq(regs.x86.mxcsr, 0xffff);
}
