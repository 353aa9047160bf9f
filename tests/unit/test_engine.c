/* The machine layer: exact instruction budgets on the two engines, block instruction counts,
 * self-modifying code with the fast store path, and time-reading instructions on virtual
 * time. */
#include <criterion/criterion.h>
#include <string.h>

#include "emu/arena.h"
#include "emu/aspace.h"
#include "emu/cpu.h"
#include "emu/emu.h"
#include "guest_run.h"

#define CODE 0x100000ULL

/* A loop of four instructions: two counters up, one down, branch back. */
static const uint8_t x86_loop[] = {
    0x48, 0xff, 0xc3, /* inc rbx */
    0x48, 0xff, 0xc1, /* inc rcx */
    0x48, 0xff, 0xca, /* dec rdx */
    0x75, 0xf5,       /* jnz -11 */
    0xf4,             /* hlt */
};
static const uint32_t a64_loop[] = {
    0x91000421, /* add x1, x1, #1 */
    0x91000442, /* add x2, x2, #1 */
    0xf1000463, /* subs x3, x3, #1 */
    0x54ffffa1, /* b.ne -12 */
    0xd4200000, /* brk #0 */
};

struct machine {
    struct arena *arena;
    struct emu *emu;
    struct aspace *as;
    struct cpu_ctx ctx;
    const struct arch_desc *arch;
};

static void machine_open(struct machine *m, enum arch_id id)
{
    const char *err = NULL;
    m->arch = arch_get(id);
    m->arena = arena_create(64 << 20);
    struct emu_config cfg = {.arch = m->arch};
    m->emu = emu_create(&cfg, m->arena, &err);
    cr_assert_not_null(m->emu, "%s", err);
    m->as = aspace_create(m->emu, &err);
    cr_assert_not_null(m->as, "%s", err);
    cr_assert_eq(aspace_map(m->as, CODE, 4096, LX_PROT_READ | LX_PROT_EXEC, 0), 0);
    if (id == ARCH_X86_64)
        aspace_poke(m->as, CODE, x86_loop, sizeof(x86_loop));
    else
        aspace_poke(m->as, CODE, a64_loop, sizeof(a64_loop));
    cpu_ctx_init(&m->ctx, m->arch, CODE, 0);
    /* The down-counter: far more iterations than any budget here. */
    if (id == ARCH_X86_64)
        m->ctx.regs.x86.rdx = 1000000;
    else
        m->ctx.regs.a64.x[3] = 1000000;
}

static void machine_close(struct machine *m)
{
    cpu_ctx_detach(m->as, &m->ctx);
    aspace_destroy(m->as);
    emu_destroy(m->emu);
    arena_destroy(m->arena);
}

static uint64_t counter(const struct machine *m, int which)
{
    if (m->arch->id == ARCH_X86_64)
        return which == 0 ? m->ctx.regs.x86.rbx : m->ctx.regs.x86.rcx;
    return which == 0 ? m->ctx.regs.a64.x[1] : m->ctx.regs.a64.x[2];
}

static void expect_position(const struct machine *m, uint64_t n)
{
    /* After n instructions: n / 4 whole iterations and n % 4 instructions of the next. */
    uint64_t whole = n / 4, part = n % 4;
    cr_expect_eq(counter(m, 0), whole + (part >= 1), "%s after %llu", m->arch->name,
                 (unsigned long long)n);
    cr_expect_eq(counter(m, 1), whole + (part >= 2), "%s after %llu", m->arch->name,
                 (unsigned long long)n);
    static const uint64_t x86_off[4] = {0, 3, 6, 9};
    uint64_t want = CODE + (m->arch->id == ARCH_X86_64 ? x86_off[part] : part * 4);
    cr_expect_eq(arch_reg(m->arch, &m->ctx.regs, REG_IP), want, "%s IP after %llu", m->arch->name,
                 (unsigned long long)n);
}

Test(engine, exact_budgets_stop_on_the_exact_instruction)
{
    for (int id = 0; id < ARCH_COUNT; id++) {
        uint64_t total = 0;
        /* Budgets that end at every position inside the loop's single block, run one after
         * another so the engines hand the registers back and forth. */
        uint64_t budgets[] = {1, 2, 3, 4, 5, 6, 7, 9, 13, 100, 101, 102, 103};
        struct machine m;
        machine_open(&m, (enum arch_id)id);
        for (size_t i = 0; i < sizeof(budgets) / sizeof(budgets[0]); i++) {
            struct emu_run_params p = {.budget_insns = budgets[i], .exact = true};
            struct emu_exit ex;
            emu_run(m.as, &m.ctx, &p, &ex);
            cr_assert_eq(ex.kind, EMU_EXIT_BUDGET);
            cr_assert_eq(ex.insns, budgets[i], "%s budget %llu ran %llu", m.arch->name,
                         (unsigned long long)budgets[i], (unsigned long long)ex.insns);
            total += ex.insns;
            expect_position(&m, total);
        }
        machine_close(&m);
    }
}

Test(engine, inexact_budgets_stop_at_block_boundaries_within_the_budget)
{
    for (int id = 0; id < ARCH_COUNT; id++) {
        struct machine m;
        machine_open(&m, (enum arch_id)id);
        struct emu_run_params p = {.budget_insns = 4 * 10 + 2};
        struct emu_exit ex;
        emu_run(m.as, &m.ctx, &p, &ex);
        cr_assert_eq(ex.kind, EMU_EXIT_BUDGET);
        cr_expect_leq(ex.insns, p.budget_insns);
        cr_expect_eq(ex.insns % 4, 0, "a block boundary is a loop boundary here");
        expect_position(&m, ex.insns);
        machine_close(&m);
    }
}

Test(engine, trap_counts_only_retired_instructions)
{
    for (int id = 0; id < ARCH_COUNT; id++) {
        struct machine m;
        machine_open(&m, (enum arch_id)id);
        if (id == ARCH_X86_64)
            m.ctx.regs.x86.rdx = 3;
        else
            m.ctx.regs.a64.x[3] = 3;
        struct emu_run_params p = {.budget_insns = 1000};
        struct emu_exit ex;
        emu_run(m.as, &m.ctx, &p, &ex);
        cr_assert_eq(ex.kind, EMU_EXIT_TRAP);
        /* Three iterations retire; the final hlt / brk raises the exception without retiring. */
        cr_expect_eq(ex.insns, 12, "%s", m.arch->name);
        machine_close(&m);
    }
}

static struct guest_result r;

Test(engine, block_counts_agree_with_per_instruction_counts)
{
    const char *progs[] = {"threads", "signals", "futex_ops"};
    for (int a = 0; a < 2; a++)
        for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
            /* The backend aborts the process on a mismatch. */
            struct guest_opts o = {.cpus = 2, .verify_icount = true, .max_insns = 300000000};
            cr_assert_eq(guest_run(guest_arches[a], progs[i], NULL, &o, &r), 0, "%s", r.err);
            cr_expect_eq(r.outcome, KERNEL_EXITED, "%s %s\n%s", guest_arches[a], progs[i], r.err);
            cr_expect_eq(r.status, 0);
        }
}

Test(engine, verified_counts_match_the_fast_run)
{
    for (int a = 0; a < 2; a++) {
        struct guest_opts o = {.cpus = 2, .max_insns = 300000000};
        cr_assert_eq(guest_run(guest_arches[a], "threads", NULL, &o, &r), 0);
        uint64_t insns = r.insns, digest = r.digest;
        o.verify_icount = true;
        cr_assert_eq(guest_run(guest_arches[a], "threads", NULL, &o, &r), 0);
        cr_expect_eq(r.insns, insns, "%s", guest_arches[a]);
        cr_expect_eq(r.digest, digest, "%s: the same run, counted two ways", guest_arches[a]);
    }
}

Test(engine, stores_into_code_are_seen_with_and_without_fast_stores)
{
    for (int a = 0; a < 2; a++)
        for (int fast = 0; fast < 2; fast++) {
            struct guest_opts o = {.no_fast_stores = !fast};
            cr_assert_eq(guest_run(guest_arches[a], "smc", NULL, &o, &r), 0);
            cr_expect_str_eq(r.out, "results 12345\nafter mprotect 7 8\nafter cpu_opv 0 9\n",
                             "%s fast=%d", guest_arches[a], fast);
        }
}

Test(engine, time_reading_instructions_follow_virtual_time)
{
    for (int a = 0; a < 2; a++) {
        cr_assert_eq(guest_run(guest_arches[a], "clock_insn", NULL, NULL, &r), 0);
        char first[sizeof(r.out)];
        strcpy(first, r.out);
        unsigned long long x, y, d;
        cr_assert_eq(sscanf(r.out, "first %llu\nsecond %llu\ndelta %llu", &x, &y, &d), 3);
        /* Virtual time starts at 0 and advances a nanosecond per instruction: a host clock
         * would read billions. */
        cr_expect_lt(x, 1000000000ULL, "%s: %llu looks like host time", guest_arches[a], x);
        cr_expect_gt(d, 0);
        cr_assert_eq(guest_run(guest_arches[a], "clock_insn", NULL, NULL, &r), 0);
        cr_expect_str_eq(r.out, first, "%s: readings differ between runs", guest_arches[a]);
    }
}

/* Two watched stores in one block, each attributed to its own instruction; a store beyond
 * the range leaves no mark (the --rseq-watch machinery, spec 2.10). */
static const uint8_t x86_stores[] = {
    0x48, 0xff, 0xc1, /* inc rcx */
    0x89, 0x43, 0x04, /* mov [rbx+4], eax */
    0x48, 0xff, 0xc1, /* inc rcx */
    0x89, 0x43, 0x14, /* mov [rbx+0x14], eax */
    0x89, 0x43, 0x40, /* mov [rbx+0x40], eax */
    0xf4,             /* hlt */
};
static const uint32_t a64_stores[] = {
    0x91000442, /* add x2, x2, #1 */
    0xb9000420, /* str w0, [x1, #4] */
    0x91000442, /* add x2, x2, #1 */
    0xb9001420, /* str w0, [x1, #20] */
    0xb9004020, /* str w0, [x1, #64] */
    0xd4200000, /* brk #0 */
};

Test(engine, watched_stores_name_their_instructions)
{
    const guest_addr_t data = 0x200000;
    for (int id = 0; id < ARCH_COUNT; id++)
        for (int exact = 0; exact < 2; exact++) {
            const char *err = NULL;
            const struct arch_desc *arch = arch_get((enum arch_id)id);
            struct arena *arena = arena_create(64 << 20);
            struct emu_config cfg = {.arch = arch, .store_watch = true};
            struct emu *emu = emu_create(&cfg, arena, &err);
            cr_assert_not_null(emu, "%s", err);
            cr_expect_not(emu_fast_stores_active(emu), "the hook needs the engine's store path");
            struct aspace *as = aspace_create(emu, &err);
            cr_assert_not_null(as, "%s", err);
            cr_assert_eq(aspace_map(as, CODE, 4096, LX_PROT_READ | LX_PROT_EXEC, 0), 0);
            cr_assert_eq(aspace_map(as, data, 4096, LX_PROT_READ | LX_PROT_WRITE, 0), 0);
            struct cpu_ctx ctx;
            cpu_ctx_init(&ctx, arch, CODE, 0);
            size_t off[3];
            if (id == ARCH_X86_64) {
                aspace_poke(as, CODE, x86_stores, sizeof(x86_stores));
                ctx.regs.x86.rbx = data;
                off[0] = 3, off[1] = 9, off[2] = 12;
            } else {
                aspace_poke(as, CODE, a64_stores, sizeof(a64_stores));
                ctx.regs.a64.x[1] = data;
                off[0] = 4, off[1] = 12, off[2] = 16;
            }
            cr_assert_eq(aspace_store_watch_add(as, data, 32), 0);
            cr_expect_eq(aspace_store_watch_add(as, data + 2, 32), -LX_EINVAL);
            struct emu_run_params p = {.budget_insns = 100, .exact = exact};
            struct emu_exit ex;
            emu_run(as, &ctx, &p, &ex);
            cr_assert_eq(ex.kind, EMU_EXIT_TRAP, "%s", arch->name);
            guest_addr_t pc = 0;
            cr_expect_not(aspace_store_watch_take(as, data, &pc), "%s: word 0 untouched",
                          arch->name);
            cr_expect(aspace_store_watch_take(as, data + 4, &pc));
            cr_expect_eq(pc, CODE + off[0], "%s exact=%d: 0x%llx", arch->name, exact,
                         (unsigned long long)pc);
            cr_expect_not(aspace_store_watch_take(as, data + 4, &pc), "taken once");
            cr_expect(aspace_store_watch_take(as, data + 20, &pc));
            cr_expect_eq(pc, CODE + off[1], "%s exact=%d: 0x%llx", arch->name, exact,
                         (unsigned long long)pc);
            cr_expect_not(aspace_store_watch_take(as, data + 64, &pc), "outside the range");
            cpu_ctx_detach(as, &ctx);
            aspace_destroy(as);
            emu_destroy(emu);
            arena_destroy(arena);
        }
}
