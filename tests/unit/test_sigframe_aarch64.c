/* aarch64 rt_sigframe construction and rt_sigreturn parsing (spec 6.5, 6.6, vectors 78-80). */
#include <criterion/criterion.h>
#include <string.h>

#include "arch/sigframe.h"
#include "fake_mem.h"

#define BASE 0xfffff7ff0000ULL
#define SIZE 0x10000ULL
#define SP   (BASE + 0x8008)
/* Worked example of spec 6.5 for SP: rec = round_down(SP - 16, 16) = +0x7ff0,
 * frame = rec - 4688 = +0x6da0. */
#define REC   (BASE + 0x7ff0)
#define FRAME (BASE + 0x6da0)
#define INFO  FRAME
#define UC    (FRAME + 128)
#define MC    (FRAME + 304)
#define RES   (FRAME + 592)

#define HANDLER    0x400100ULL
#define RESTORER   0x400200ULL
#define TRAMPOLINE 0xfffff7fff000ULL
#define SAVED_MASK (LX_SIGBIT(LX_SIGUSR2) | LX_SIGBIT(LX_SIGRTMIN) | (1ULL << 63))

#define FPSIMD_MAGIC 0x46508001U
#define ESR_MAGIC    0x45535201U
#define ESR_VALUE    0x92000047ULL /* data abort from EL0, translation fault level 3, write */

static struct fake_mem mem;
static uint8_t info[LX_SIGINFO_SIZE];

static void mem_setup(void)
{
    fake_mem_init(&mem, BASE, SIZE);
    for (size_t i = 0; i < sizeof(info); i++)
        info[i] = (uint8_t)(i ^ 0x5c);
}

static void mem_teardown(void) { fake_mem_fini(&mem); }

TestSuite(sigframe_aarch64, .init = mem_setup, .fini = mem_teardown);

static struct arch_regs sample_regs(void)
{
    struct arch_regs regs;
    memset(&regs, 0, sizeof(regs));
    struct regs_aarch64 *r = &regs.a64;
    for (int i = 0; i < 31; i++)
        r->x[i] = 0xa000000000000000ULL | (uint64_t)i << 32 | (uint64_t)(0x100 + i);
    r->sp = SP;
    r->pc = 0x400880ULL;
    r->nzcv = 0x60000000ULL; /* Z and C */
    r->tpidr = 0xfffff7ff8f20ULL;
    for (int i = 0; i < 32; i++)
        for (int j = 0; j < 16; j++)
            r->v[i][j] = (uint8_t)((16 * i + j) ^ 0x3c);
    r->fpcr = 0x03c00000ULL;
    r->fpsr = 0x0800001fULL;
    return regs;
}

static struct sigframe_req sample_req(void)
{
    return (struct sigframe_req){
        .sig = LX_SIGUSR1,
        .sa_flags = LX_SA_SIGINFO,
        .handler = HANDLER,
        .trampoline = TRAMPOLINE,
        .saved_mask = SAVED_MASK,
        .uc_stack = {.ss_sp = 0, .ss_flags = LX_SS_DISABLE, .ss_size = 0},
        .info = info,
    };
}

static void assert_regs_equal(const struct arch_regs *a, const struct arch_regs *b)
{
    cr_assert(memcmp(&a->a64, &b->a64, sizeof(a->a64)) == 0, "registers differ");
}

/* Builds a frame, then lets the "handler" run to its `svc` in the trampoline: sp is back at the
 * frame, the other registers are whatever the handler left. */
static struct arch_regs frame_for_return(struct sigframe_req req)
{
    struct arch_regs regs = sample_regs();
    cr_assert_eq(sigframe_setup_aarch64(&req, &regs, &mem.iface), 0);
    regs.a64.x[0] = 0x77;
    regs.a64.x[8] = 139;
    regs.a64.v[0][0] = 0xee;
    return regs;
}

static void put_record(guest_addr_t at, uint32_t magic, uint32_t size)
{
    fake_mem_put(&mem, at, 4, magic);
    fake_mem_put(&mem, at + 4, 4, size);
}

static int restore(struct arch_regs *regs)
{
    struct sigframe_restored out;
    return sigframe_restore_aarch64(regs, &mem.iface, &out);
}

/* spec 6.5: no red zone; frame record of the interrupted x29/x30 right above the frame. */
Test(sigframe_aarch64, current_stack_frame_and_record_sit_below_sp)
{
    struct arch_regs regs = sample_regs();
    const struct regs_aarch64 before = regs.a64;
    struct sigframe_req req = sample_req();
    cr_assert_eq(sigframe_setup_aarch64(&req, &regs, &mem.iface), 0);

    cr_assert_eq(regs.a64.sp, FRAME);
    cr_assert_eq(regs.a64.sp % 16, 0);
    cr_assert_eq(regs.a64.x[29], REC);
    cr_assert_eq(REC - FRAME, SIGFRAME_AARCH64_SIZE);
    cr_assert_eq(fake_mem_u64(&mem, REC), before.x[29], "frame record fp");
    cr_assert_eq(fake_mem_u64(&mem, REC + 8), before.x[30], "frame record lr");
    cr_assert(fake_mem_untouched(&mem, REC + 16, SP + 0x100 - (REC + 16)),
              "wrote above the record");
    cr_assert(fake_mem_untouched(&mem, FRAME - 0x100, 0x100), "wrote below the frame");
}

/* spec 6.5: placement follows the rounding rule for any interrupted sp. */
Test(sigframe_aarch64, unaligned_sp_frame_follows_rounding_rule)
{
    for (guest_addr_t delta = 0; delta < 48; delta += 5) {
        struct arch_regs regs = sample_regs();
        regs.a64.sp = SP - delta;
        struct sigframe_req req = sample_req();
        cr_assert_eq(sigframe_setup_aarch64(&req, &regs, &mem.iface), 0);
        guest_addr_t rec = (SP - delta - 16) & ~15ULL;
        cr_assert_eq(regs.a64.x[29], rec, "delta %llu", (unsigned long long)delta);
        cr_assert_eq(regs.a64.sp, rec - 4688);
        cr_assert_eq(regs.a64.sp % 16, 0);
    }
}

/* spec 6.5: ucontext header, uc_stack, uc_sigmask and the 120-byte sigset padding. */
Test(sigframe_aarch64, setup_writes_ucontext_header)
{
    struct arch_regs regs = sample_regs();
    struct sigframe_req req = sample_req();
    req.uc_stack = (struct lx_stack){
        .ss_sp = 0x12340000, .ss_flags = (int32_t)LX_SS_AUTODISARM, .ss_size = 0x9000};
    cr_assert_eq(sigframe_setup_aarch64(&req, &regs, &mem.iface), 0);

    cr_assert_eq(fake_mem_u64(&mem, UC + 0), 0, "uc_flags");
    cr_assert_eq(fake_mem_u64(&mem, UC + 8), 0, "uc_link");
    cr_assert_eq(fake_mem_u64(&mem, UC + 16), 0x12340000, "ss_sp");
    cr_assert_eq(fake_mem_u32(&mem, UC + 24), LX_SS_AUTODISARM, "ss_flags");
    cr_assert_eq(fake_mem_u32(&mem, UC + 28), 0, "ss_flags padding");
    cr_assert_eq(fake_mem_u64(&mem, UC + 32), 0x9000, "ss_size");
    cr_assert_eq(fake_mem_u64(&mem, FRAME + 168), SAVED_MASK, "uc_sigmask");
    cr_assert(fake_mem_zero(&mem, FRAME + 176, 120), "sigset padding");
}

/* spec 6.5, vector 78: struct sigcontext fields at their offsets. */
Test(sigframe_aarch64, setup_writes_every_sigcontext_field_at_its_offset)
{
    struct arch_regs regs = sample_regs();
    const struct regs_aarch64 before = regs.a64;
    struct sigframe_req req = sample_req();
    req.fault_addr = 0xdead0000beefULL;
    cr_assert_eq(sigframe_setup_aarch64(&req, &regs, &mem.iface), 0);

    cr_assert_eq(fake_mem_u64(&mem, MC + 0), 0xdead0000beefULL, "fault_address");
    for (int i = 0; i < 31; i++)
        cr_assert_eq(fake_mem_u64(&mem, MC + 8 + 8 * i), before.x[i], "x%d", i);
    cr_assert_eq(fake_mem_u64(&mem, MC + 256), SP, "sp");
    cr_assert_eq(fake_mem_u64(&mem, MC + 264), before.pc, "pc");
    cr_assert_eq(fake_mem_u64(&mem, FRAME + 568), before.pc, "pc at frame + 568");
    cr_assert_eq(fake_mem_u64(&mem, MC + 272), 0x60000000ULL, "pstate: NZCV, EL0t");
}

/* spec 6.5, vector 78: fpsimd record at __reserved + 0, then the terminator, rest zero. */
Test(sigframe_aarch64, no_fault_code_fpsimd_record_then_terminator)
{
    struct arch_regs regs = sample_regs();
    const struct regs_aarch64 before = regs.a64;
    struct sigframe_req req = sample_req();
    cr_assert_eq(sigframe_setup_aarch64(&req, &regs, &mem.iface), 0);

    cr_assert_eq(RES % 16, 0);
    cr_assert_eq(fake_mem_u32(&mem, RES + 0), FPSIMD_MAGIC);
    cr_assert_eq(fake_mem_u32(&mem, RES + 4), 528);
    cr_assert_eq(fake_mem_u32(&mem, RES + 8), 0x0800001fU, "fpsr");
    cr_assert_eq(fake_mem_u32(&mem, RES + 12), 0x03c00000U, "fpcr");
    for (int i = 0; i < 32; i++)
        cr_assert_arr_eq(fake_mem_at(&mem, RES + 16 + 16 * i, 16), before.v[i], 16, "v%d", i);
    cr_assert_eq(fake_mem_u64(&mem, RES + 528), 0, "terminator");
    cr_assert(fake_mem_zero(&mem, RES + 528, 4096 - 528), "rest of __reserved");
}

/* spec 6.5, vector 78: a fault adds esr_context after fpsimd, terminator after it. */
Test(sigframe_aarch64, fault_code_adds_esr_record_before_terminator)
{
    struct arch_regs regs = sample_regs();
    struct sigframe_req req = sample_req();
    req.fault_code = ESR_VALUE;
    cr_assert_eq(sigframe_setup_aarch64(&req, &regs, &mem.iface), 0);

    cr_assert_eq(fake_mem_u32(&mem, RES + 0), FPSIMD_MAGIC);
    cr_assert_eq(fake_mem_u32(&mem, RES + 528), ESR_MAGIC);
    cr_assert_eq(fake_mem_u32(&mem, RES + 532), 16);
    cr_assert_eq(fake_mem_u64(&mem, RES + 536), ESR_VALUE);
    cr_assert(fake_mem_zero(&mem, RES + 544, 4096 - 544), "terminator and rest of __reserved");
}

/* spec 6.5, vector 78: uc == info + 128, x1/x2 point at them, sp % 16 == 0. */
Test(sigframe_aarch64, siginfo_handler_gets_uc_at_info_plus_128)
{
    struct arch_regs regs = sample_regs();
    struct sigframe_req req = sample_req();
    cr_assert_eq(sigframe_setup_aarch64(&req, &regs, &mem.iface), 0);

    cr_assert_eq(regs.a64.x[1], INFO);
    cr_assert_eq(regs.a64.x[2], regs.a64.x[1] + 128);
    cr_assert_eq(regs.a64.x[1], regs.a64.sp);
    cr_assert_eq(regs.a64.sp % 16, 0);
    cr_assert_arr_eq(fake_mem_at(&mem, INFO, LX_SIGINFO_SIZE), info, LX_SIGINFO_SIZE);
}

/* spec 6.5: without SA_SIGINFO only x0 is set and the siginfo slot is left alone. */
Test(sigframe_aarch64, no_siginfo_leaves_info_slot_and_x1_x2_untouched)
{
    struct arch_regs regs = sample_regs();
    const struct regs_aarch64 before = regs.a64;
    struct sigframe_req req = sample_req();
    req.sa_flags = 0;
    cr_assert_eq(sigframe_setup_aarch64(&req, &regs, &mem.iface), 0);

    cr_assert(fake_mem_untouched(&mem, INFO, LX_SIGINFO_SIZE));
    cr_assert_eq(fake_mem_u64(&mem, FRAME + 168), SAVED_MASK, "the ucontext is still complete");
    cr_assert_eq(regs.a64.x[0], LX_SIGUSR1);
    cr_assert_eq(regs.a64.x[1], before.x[1]);
    cr_assert_eq(regs.a64.x[2], before.x[2]);
}

/* spec 6.5, vector 78: glibc does not set SA_RESTORER; the handler returns to the trampoline. */
Test(sigframe_aarch64, without_restorer_x30_is_trampoline)
{
    struct arch_regs regs = sample_regs();
    struct sigframe_req req = sample_req();
    req.restorer = RESTORER; /* ignored without the flag */
    cr_assert_eq(sigframe_setup_aarch64(&req, &regs, &mem.iface), 0);
    cr_assert_eq(regs.a64.x[30], TRAMPOLINE);
}

/* spec 6.5: with SA_RESTORER the handler returns to sa_restorer. */
Test(sigframe_aarch64, with_restorer_x30_is_restorer)
{
    struct arch_regs regs = sample_regs();
    struct sigframe_req req = sample_req();
    req.sa_flags |= LX_SA_RESTORER;
    req.restorer = RESTORER;
    cr_assert_eq(sigframe_setup_aarch64(&req, &regs, &mem.iface), 0);
    cr_assert_eq(regs.a64.x[30], RESTORER);
}

/* spec 6.5: handler registers; FP/SIMD and flags are not reset. */
Test(sigframe_aarch64, handler_entry_registers_follow_linux)
{
    struct arch_regs regs = sample_regs();
    const struct regs_aarch64 before = regs.a64;
    struct sigframe_req req = sample_req();
    cr_assert_eq(sigframe_setup_aarch64(&req, &regs, &mem.iface), 0);

    const struct regs_aarch64 *r = &regs.a64;
    cr_assert_eq(r->x[0], LX_SIGUSR1);
    cr_assert_eq(r->pc, HANDLER);
    cr_assert_eq(r->sp, FRAME);
    cr_assert_eq(r->x[29], REC);
    for (int i = 3; i < 29; i++)
        cr_assert_eq(r->x[i], before.x[i], "x%d", i);
    cr_assert_eq(r->nzcv, before.nzcv);
    cr_assert_eq(r->tpidr, before.tpidr);
    cr_assert(memcmp(r->v, before.v, sizeof(r->v)) == 0, "V registers kept");
    cr_assert_eq(r->fpcr, before.fpcr);
    cr_assert_eq(r->fpsr, before.fpsr);
}

/* spec 6.6, vector 80: the frame and its record lie in [ss_sp, ss_sp + ss_size). */
Test(sigframe_aarch64, altstack_frame_lies_within_ss_sp_ss_size)
{
    const guest_addr_t ss_sp = BASE + 0x1000, ss_size = 5120; /* MINSIGSTKSZ */
    struct arch_regs regs = sample_regs();
    struct sigframe_req req = sample_req();
    req.sa_flags |= LX_SA_ONSTACK;
    req.use_altstack = true;
    req.altstack_top = ss_sp + ss_size;
    req.uc_stack = (struct lx_stack){.ss_sp = ss_sp, .ss_flags = 0, .ss_size = ss_size};
    cr_assert_eq(sigframe_setup_aarch64(&req, &regs, &mem.iface), 0);

    guest_addr_t frame = regs.a64.sp;
    cr_assert_eq(regs.a64.x[29], ss_sp + ss_size - 16);
    cr_assert(frame >= ss_sp && regs.a64.x[29] + 16 <= ss_sp + ss_size);
    cr_assert_eq(frame % 16, 0);
    cr_assert(fake_mem_untouched(&mem, ss_sp + ss_size, 0x1000), "nothing above the altstack");
    cr_assert(fake_mem_untouched(&mem, SP - 0x2000, 0x2000), "nothing on the old stack");
    cr_assert_eq(fake_mem_u64(&mem, frame + 304 + 256), SP, "the saved sp is the old one");
    cr_assert_eq(fake_mem_u64(&mem, frame + 144), ss_sp, "uc_stack.ss_sp");
    cr_assert_eq(fake_mem_u64(&mem, frame + 160), ss_size, "uc_stack.ss_size");
}

/* spec 6.3 step 5: a frame that cannot be written leaves the registers unchanged. */
Test(sigframe_aarch64, unwritable_stack_fails_and_registers_unchanged)
{
    struct arch_regs regs = sample_regs();
    const struct arch_regs before = regs;
    struct sigframe_req req = sample_req();
    mem.readonly = true;
    cr_assert_eq(sigframe_setup_aarch64(&req, &regs, &mem.iface), -LX_EFAULT);
    assert_regs_equal(&regs, &before);
}

/* spec 6.3 step 5: a stack too close to the bottom of the mapping cannot take the frame. */
Test(sigframe_aarch64, frame_partly_unmapped_fails_and_registers_unchanged)
{
    struct arch_regs regs = sample_regs();
    regs.a64.sp = BASE + 0x1000;
    const struct arch_regs before = regs;
    struct sigframe_req req = sample_req();
    cr_assert_eq(sigframe_setup_aarch64(&req, &regs, &mem.iface), -LX_EFAULT);
    assert_regs_equal(&regs, &before);
    cr_assert_eq(mem.writes, 0);
}

/* spec 6.2 rt_sigreturn, 6.5: setup, edit the saved state, return: the edits come back. */
Test(sigframe_aarch64, round_trip_restores_modified_registers)
{
    struct arch_regs expect = sample_regs();
    struct arch_regs regs = frame_for_return(sample_req());

    fake_mem_put(&mem, MC + 8 + 8 * 0, 8, 0x1234);                        /* x0 */
    fake_mem_put(&mem, MC + 8 + 8 * 30, 8, 0x400999ULL);                  /* x30 */
    fake_mem_put(&mem, MC + 256, 8, SP + 0x100);                          /* sp */
    fake_mem_put(&mem, MC + 264, 8, 0x400abcULL);                         /* pc */
    fake_mem_put(&mem, MC + 272, 8, 0x90000000ULL);                       /* N and V */
    fake_mem_put(&mem, RES + 8, 4, 0x08000000);                           /* fpsr */
    fake_mem_put(&mem, RES + 12, 4, 0x02000000);                          /* fpcr */
    fake_mem_put(&mem, RES + 16 + 16 * 5, 8, 0xfeedfacecafebeefULL);      /* v5 low half */
    fake_mem_put(&mem, RES + 16 + 16 * 31 + 8, 8, 0x0102030405060708ULL); /* v31 high half */
    expect.a64.x[0] = 0x1234;
    expect.a64.x[30] = 0x400999ULL;
    expect.a64.sp = SP + 0x100;
    expect.a64.pc = 0x400abcULL;
    expect.a64.nzcv = 0x90000000ULL;
    expect.a64.fpsr = 0x08000000;
    expect.a64.fpcr = 0x02000000;
    for (int j = 0; j < 8; j++) {
        expect.a64.v[5][j] = (uint8_t)(0xfeedfacecafebeefULL >> (8 * j));
        expect.a64.v[31][8 + j] = (uint8_t)(0x0102030405060708ULL >> (8 * j));
    }

    struct sigframe_restored out;
    cr_assert_eq(sigframe_restore_aarch64(&regs, &mem.iface, &out), 0);
    assert_regs_equal(&regs, &expect);
    cr_assert_eq(out.mask, SAVED_MASK);
}

/* spec 6.5: the esr record of a fault frame is skipped on the way back. */
Test(sigframe_aarch64, round_trip_skips_esr_record)
{
    struct sigframe_req req = sample_req();
    req.fault_code = ESR_VALUE;
    struct arch_regs regs = frame_for_return(req);
    cr_assert_eq(restore(&regs), 0);
    struct arch_regs expect = sample_regs();
    assert_regs_equal(&regs, &expect);
}

/* spec 6.2: rt_sigreturn reports uc_sigmask and uc_stack for the caller to apply. */
Test(sigframe_aarch64, restore_reports_sigmask_and_uc_stack)
{
    struct arch_regs regs = frame_for_return(sample_req());
    fake_mem_put(&mem, FRAME + 168, 8, 0x5555ULL);
    fake_mem_put(&mem, UC + 16, 8, 0x600000ULL);
    fake_mem_put(&mem, UC + 24, 4, (uint32_t)LX_SS_AUTODISARM);
    fake_mem_put(&mem, UC + 32, 8, 0x4000ULL);
    struct sigframe_restored out;
    cr_assert_eq(sigframe_restore_aarch64(&regs, &mem.iface, &out), 0);
    cr_assert_eq(out.mask, 0x5555ULL);
    cr_assert_eq(out.uc_stack.ss_sp, 0x600000ULL);
    cr_assert_eq((uint32_t)out.uc_stack.ss_flags, LX_SS_AUTODISARM);
    cr_assert_eq(out.uc_stack.ss_size, 0x4000ULL);
}

/* spec 6.2: sp must be 16-byte aligned at rt_sigreturn. */
Test(sigframe_aarch64, restore_misaligned_sp_fails_and_registers_unchanged)
{
    struct arch_regs regs = frame_for_return(sample_req());
    /* A copy of a good frame at a misaligned address: only the alignment is wrong with it. */
    uint8_t copy[SIGFRAME_AARCH64_SIZE];
    memcpy(copy, fake_mem_at(&mem, FRAME, sizeof(copy)), sizeof(copy));
    for (guest_addr_t off = 1; off < 16; off++) {
        guest_addr_t frame = BASE + 0x1000 + off;
        memcpy(fake_mem_at(&mem, frame, sizeof(copy)), copy, sizeof(copy));
        regs.a64.sp = frame;
        const struct arch_regs before = regs;
        struct sigframe_restored out = {.mask = 0x77};
        cr_assert_eq(sigframe_restore_aarch64(&regs, &mem.iface, &out), -LX_EFAULT);
        assert_regs_equal(&regs, &before);
        cr_assert_eq(out.mask, 0x77, "out untouched on failure");
    }
}

/* spec 6.2: a bad frame (unmapped) -> SIGSEGV; the registers are left as they were. */
Test(sigframe_aarch64, restore_unmapped_frame_fails_and_registers_unchanged)
{
    struct arch_regs regs = sample_regs();
    regs.a64.sp = BASE + SIZE - 0x100; /* the sigcontext runs past the end */
    const struct arch_regs before = regs;
    cr_assert_eq(restore(&regs), -LX_EFAULT);
    assert_regs_equal(&regs, &before);

    regs.a64.sp = 0x1000;
    cr_assert_eq(restore(&regs), -LX_EFAULT);
}

/* spec 6.2: pstate must describe EL0t with DAIF clear; only NZCV is accepted. */
Test(sigframe_aarch64, restore_invalid_pstate_fails_and_registers_unchanged)
{
    static const uint64_t bad[] = {
        0x4,         /* EL1t */
        0x5,         /* EL1h */
        0x10,        /* AArch32 */
        0x80,        /* I masked */
        0x3c0,       /* DAIF */
        0x200000,    /* SS */
        0x100000000, /* above bit 31 */
    };
    struct arch_regs regs = frame_for_return(sample_req());
    const struct arch_regs before = regs;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fake_mem_put(&mem, MC + 272, 8, 0xf0000000ULL | bad[i]);
        cr_assert_eq(restore(&regs), -LX_EFAULT, "pstate %#llx", (unsigned long long)bad[i]);
        assert_regs_equal(&regs, &before);
    }
    fake_mem_put(&mem, MC + 272, 8, 0xf0000000ULL);
    cr_assert_eq(restore(&regs), 0);
    cr_assert_eq(regs.a64.nzcv, 0xf0000000ULL);
}

/* spec 6.2, 6.5: the fpsimd record is mandatory. */
Test(sigframe_aarch64, restore_missing_fpsimd_record_fails)
{
    struct arch_regs regs = frame_for_return(sample_req());
    const struct arch_regs before = regs;
    put_record(RES, 0, 0); /* terminator first */
    cr_assert_eq(restore(&regs), -LX_EFAULT);
    assert_regs_equal(&regs, &before);

    put_record(RES, ESR_MAGIC, 16); /* only an esr record */
    put_record(RES + 16, 0, 0);
    cr_assert_eq(restore(&regs), -LX_EFAULT);
    assert_regs_equal(&regs, &before);
}

/* spec 6.5: an fpsimd record with a wrong magic or size is a bad frame. */
Test(sigframe_aarch64, restore_garbled_fpsimd_record_fails)
{
    struct arch_regs regs = frame_for_return(sample_req());
    const struct arch_regs before = regs;

    put_record(RES, FPSIMD_MAGIC ^ 1, 528);
    cr_assert_eq(restore(&regs), -LX_EFAULT, "magic");
    assert_regs_equal(&regs, &before);

    put_record(RES, FPSIMD_MAGIC, 512);
    put_record(RES + 512, 0, 0);
    cr_assert_eq(restore(&regs), -LX_EFAULT, "short");
    assert_regs_equal(&regs, &before);

    put_record(RES, FPSIMD_MAGIC, 544);
    put_record(RES + 544, 0, 0);
    cr_assert_eq(restore(&regs), -LX_EFAULT, "long");
    assert_regs_equal(&regs, &before);

    put_record(RES, FPSIMD_MAGIC, 528);
    cr_assert_eq(restore(&regs), 0, "repaired");
}

/* spec 6.5: record walk: unknown magics, zero, misaligned and overlong sizes, a terminator with a
 * size, and a second fpsimd record are all bad frames. */
Test(sigframe_aarch64, restore_malformed_records_fail)
{
    static const struct {
        uint32_t magic, size;
        const char *what;
    } bad[] = {
        {0x53564501, 16, "sve_context on a CPU without SVE"},
        {0x45585401, 32, "extra_context"},
        {0x12345678, 16, "unknown magic"},
        {ESR_MAGIC, 0, "size 0"},
        {ESR_MAGIC, 8, "size 8 misaligns the next record"},
        {ESR_MAGIC, 24, "size not a multiple of 16"},
        {ESR_MAGIC, 4096 - 528 + 16, "runs past __reserved"},
        {0, 16, "terminator with a size"},
        {FPSIMD_MAGIC, 528, "second fpsimd record"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct arch_regs regs = frame_for_return(sample_req());
        const struct arch_regs before = regs;
        put_record(RES + 528, bad[i].magic, bad[i].size);
        cr_assert_eq(restore(&regs), -LX_EFAULT, "%s", bad[i].what);
        assert_regs_equal(&regs, &before);
    }
}

/* spec 6.5: records that fill __reserved exactly leave no room for the terminator. */
Test(sigframe_aarch64, restore_without_terminator_fails)
{
    struct arch_regs regs = frame_for_return(sample_req());
    put_record(RES + 528, ESR_MAGIC, 4096 - 528);
    cr_assert_eq(restore(&regs), -LX_EFAULT);
    put_record(RES + 528, ESR_MAGIC, 4096 - 528 - 16);
    put_record(RES + 4096 - 16, 0, 0);
    cr_assert_eq(restore(&regs), 0, "a terminator in the last 16 bytes is fine");
}

/* spec 6.5 (Linux's parse_user_sigframe): the record order is free as long as fpsimd appears
 * once, so an esr record ahead of it is accepted. */
Test(sigframe_aarch64, restore_accepts_esr_record_before_fpsimd)
{
    struct arch_regs regs = frame_for_return(sample_req());
    uint8_t fpsimd[528];
    memcpy(fpsimd, fake_mem_at(&mem, RES, 528), sizeof(fpsimd));
    put_record(RES, ESR_MAGIC, 16);
    fake_mem_put(&mem, RES + 8, 8, ESR_VALUE);
    memcpy(fake_mem_at(&mem, RES + 16, 528), fpsimd, sizeof(fpsimd));
    put_record(RES + 544, 0, 0);
    cr_assert_eq(restore(&regs), 0);
    struct arch_regs expect = sample_regs();
    assert_regs_equal(&regs, &expect);
}

/* spec 6.2: like Linux, rt_sigreturn reads __reserved only up to the terminator, so a
 * hand-made frame whose unused tail is unmapped still works. */
Test(sigframe_aarch64, restore_reads_reserved_only_up_to_terminator)
{
    struct arch_regs regs = sample_regs();
    guest_addr_t frame = BASE + SIZE - (592 + 528 + 16);
    uint8_t *p = fake_mem_at(&mem, frame, 592 + 528 + 16);
    memset(p, 0, 592 + 528 + 16);
    fake_mem_put(&mem, frame + 304 + 264, 8, 0x401111ULL); /* pc */
    fake_mem_put(&mem, frame + 304 + 256, 8, SP);          /* sp */
    put_record(frame + 592, FPSIMD_MAGIC, 528);
    regs.a64.sp = frame;
    cr_assert_eq(restore(&regs), 0);
    cr_assert_eq(regs.a64.pc, 0x401111ULL);
    cr_assert_eq(regs.a64.sp, SP);
}
