/* The engines of one address space: Unicorn set up for user-mode guests, with hooks that turn
 * syscalls, faults and exceptions into exits and count retired instructions.
 *
 * Each address space has two engines over the same host memory:
 *  - the fast engine runs nearly everything. A block hook counts instructions per translation
 *    block and stops before the block that would overrun the budget. It never has a code
 *    hook: in Unicorn 2.0.1, once any code hook exists, stopping from a block hook can leave
 *    the guest's registers out of step with its IP (I/O-class instructions such as rdtsc exit
 *    a block without writing back registers held in host registers).
 *  - the precise engine has a hook on every instruction and runs only what must end at an
 *    exact instruction: the rest of a block, up to the instruction a schedule names. The
 *    registers move between the two as a uc_context (a few hundred nanoseconds).
 *
 * Costs that shaped this file (../shared/research/perf-probe.md): a block hook costs about a
 * nanosecond per block while `count` is a per-instruction hook; `until` makes every start
 * retranslate a block, so it is always 0; a syscall hook that stops the engine costs about
 * 100 ns, small next to the kernel model's own work, so every syscall is an exit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicorn/unicorn.h>

#include "arena.h"
#include "aspace.h"
#include "aspace_internal.h"
#include "backend.h"
#include "emu_internal.h"
#include "engine_pages.h"
#include "store_watch.h"
#include "watch.h"

/* Per-block instruction counts, decoded once (x86-64 only; aarch64 is size / 4). */
#define ICOUNT_CACHE_BITS 16
struct icount_entry {
    uint64_t addr;
    uint32_t size;
    uint32_t count;
};

enum stop_reason { STOP_NONE, STOP_SYSCALL, STOP_BUDGET, STOP_TRAP, STOP_WATCH, STOP_MEM };

struct backend;

struct engine {
    struct page_source src; /* first: the page callbacks get the engine from it */
    struct backend *b;
    uc_engine *uc;
    bool precise;
};

struct backend {
    struct emu *emu;
    struct aspace *as;
    const struct arch_desc *arch;
    struct engine fast, precise;
    uc_context *xfer; /* moves the registers between the two engines */
    uc_context *env;  /* the fast engine's CPU state at the snapshot (snapshot.c) */
    struct cpu_ctx *loaded;

    int gpr_ids[64], fp_ids[64];

    /* What the block hooks touch for every block, on one cache line. */
    _Alignas(64) uint64_t budget_stop; /* the budget, or UINT64_MAX with --verify-icount */
    uint64_t insns;
    uint64_t tb_start;
    uint32_t tb_size;
    struct icount_entry *icache;

    /* The rest of the current run. */
    uint64_t budget;
    bool exact;
    uint64_t precise_left;
    enum stop_reason stop;
    int intno;
    int fault_type;
    uint64_t fault_addr;
    uint64_t time_ns, ns_per_insn;
    uint64_t verify_insns;
    /* Watched code (watch.h): the table, the countdown of critical-section entries, and what
     * stopped the run. */
    const struct watch_table *watch;
    struct store_watch_table *store_watch;
    uint32_t watch_countdown;
    guest_addr_t watch_resume, watch_resume_points_end;
    guest_addr_t watch_addr;
    uint32_t watch_size;
    bool watch_cs, watch_resumed;
    /* A copy of the table's page hash, which the aarch64 block hook reads for every block. */
    uint8_t watch_pages[WATCH_PAGE_SLOTS];
};

/* The engine asks the kernel model's VMAs for a page's permissions (engine_pages.h). */
static int engine_page_perms(struct page_source *src, uint64_t vaddr)
{
    const struct engine *e = (const struct engine *)src;
    return aspace_page_perms(e->b->as, vaddr);
}

static int engine_page_fill(struct page_source *src, uint64_t vaddr, bool *fast)
{
    const struct engine *e = (const struct engine *)src;
    struct backend *b = e->b;
    int perms = aspace_tlb_fill(b->as, vaddr, fast);
    *fast = *fast && b->emu->fast_stores;
    /* Past --max-mem: the block ends, and the kernel model decides (emu_mem_over()). */
    if (emu_mem_over(b->emu) && b->stop == STOP_NONE) {
        b->stop = STOP_MEM;
        uc_emu_stop(e->uc);
    }
    return perms;
}

static const uint8_t *engine_page_code(struct page_source *src, uint64_t vaddr, size_t *len)
{
    const struct engine *e = (const struct engine *)src;
    size_t in_page = 4096 - (vaddr & 4095);
    const uint8_t *p = aspace_host(e->b->as, vaddr, *len, LX_PROT_EXEC);
    if (!p && *len > in_page) {
        *len = in_page;
        p = aspace_host(e->b->as, vaddr, *len, LX_PROT_EXEC);
    }
    return p;
}

/* Instructions in [addr, end) of code that the engine has translated. */
static uint32_t icount_decode(struct backend *b, uint64_t addr, uint64_t end)
{
    if (b->arch->id == ARCH_AARCH64)
        return (uint32_t)((end - addr) / 4);
    uint8_t buf[4096 + 16];
    size_t len = end - addr;
    if (len > sizeof(buf))
        len = sizeof(buf);
    /* The block was just fetched by the engine, so the pages are mapped; read past
     * protections the way the fetch did. */
    const uint8_t *code = aspace_host(b->as, addr, len, LX_PROT_EXEC);
    if (!code) {
        if (aspace_read(b->as, addr, buf, len) != 0)
            return 1;
        code = buf;
    }
    cs_insn *insn = cs_malloc(b->emu->cs);
    const uint8_t *p = code;
    size_t left = len;
    uint64_t pc = addr;
    uint32_t n = 0;
    while (left > 0 && cs_disasm_iter(b->emu->cs, &p, &left, &pc, insn))
        n++;
    if (left > 0)
        n++; /* an undecodable tail is the one instruction the engine stopped on */
    cs_free(insn, 1);
    b->emu->icount_decodes++;
    return n;
}

/* The block would overrun the budget. An inexact run still runs its first block, so that it
 * always makes progress; an exact one leaves the block to the precise engine. */
static void block_over_budget(uc_engine *uc, struct backend *b, uint64_t addr, uint32_t size,
                              uint32_t n)
{
    if (b->insns != 0 || b->exact) {
        b->stop = STOP_BUDGET;
        uc_emu_stop(uc);
        return;
    }
    b->insns += n;
    b->tb_start = addr;
    b->tb_size = size;
}

/* Stops the run in front of watched code at addr (EMU_EXIT_WATCH). */
static void stop_watch(uc_engine *uc, struct backend *b, uint64_t addr, uint32_t size, bool cs_due,
                       bool resumed)
{
    b->stop = STOP_WATCH;
    b->watch_addr = addr;
    b->watch_size = size;
    b->watch_cs = cs_due;
    b->watch_resumed = resumed;
    uc_emu_stop(uc);
}

/* A block on a page with watched code: stop in front of it if it runs a watched point, or if
 * it enters a critical section and the countdown ends there. */
static void block_watch(uc_engine *uc, struct backend *b, uint64_t addr, uint32_t size, uint32_t n)
{
    /* Resuming in front of this block: its first instruction has had its turn, and so have
     * the points the caller counted when the run stopped here. Stopping for those again
     * would stop here forever. */
    bool resumed = addr == b->watch_resume;
    b->watch_resume = 0;
    guest_addr_t from = resumed ? addr + 1 : addr;
    uint32_t kinds = watch_hits(b->watch, from, addr + size);
    if (resumed && b->watch_resume_points_end > from && (kinds & ASPACE_WATCH_POINT) &&
        !(watch_hits(b->watch, b->watch_resume_points_end, addr + size) & ASPACE_WATCH_POINT))
        kinds &= ~(uint32_t)ASPACE_WATCH_POINT;
    bool cs_due = (kinds & ASPACE_WATCH_CS) && b->watch_countdown && --b->watch_countdown == 0;
    if ((kinds & ASPACE_WATCH_POINT) || cs_due) {
        stop_watch(uc, b, addr, size, cs_due, resumed);
        return;
    }
    b->insns += n;
    b->tb_start = addr;
    b->tb_size = size;
}

/* A block on a page with watched code carries this bit in its count, so that one comparison
 * with the budget sends it to the slow path. */
#define BLOCK_WATCHED (1u << 31)

static __attribute__((noinline)) void block_slow(uc_engine *uc, struct backend *b, uint64_t addr,
                                                 uint32_t size, uint32_t n)
{
    uint32_t count = n & ~BLOCK_WATCHED;
    if (b->insns + count > b->budget_stop)
        block_over_budget(uc, b, addr, size, count);
    else if (n & BLOCK_WATCHED)
        block_watch(uc, b, addr, size, count);
    else
        block_over_budget(uc, b, addr, size, count); /* not reached */
}

/* n: the block's instructions, with BLOCK_WATCHED when its page has watched code (never with
 * --verify-icount). */
static inline void block_count(uc_engine *uc, struct backend *b, uint64_t addr, uint32_t size,
                               uint32_t n)
{
    if (__builtin_expect(b->insns + n > b->budget_stop, 0)) {
        block_slow(uc, b, addr, size, n);
        return;
    }
    b->insns += n;
    b->tb_start = addr;
    b->tb_size = size;
}

/* x86-64, first time a block is seen: decode it for its instruction count. */
static __attribute__((noinline)) void block_count_miss(uc_engine *uc, struct backend *b,
                                                       struct icount_entry *e, uint64_t addr,
                                                       uint32_t size)
{
    e->addr = addr;
    e->size = size;
    e->count = icount_decode(b, addr, addr + size) |
               (b->watch_pages[watch_page_slot(addr)] ? BLOCK_WATCHED : 0);
    block_count(uc, b, addr, size, e->count);
}

/* The block hooks run for every block the guest executes (about one per five instructions), so
 * their common path is a frameless leaf (the slow paths are tail calls): count, compare,
 * store. budget_stop is the budget, or no limit with --verify-icount (the per-instruction hook
 * stops then: in Unicorn 2.0.1 a block-hook stop is unsafe once any code hook exists). The
 * x86-64 count cache also holds the watch bit; it is cleared when watched code changes. */
static void on_block_x86_64(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    struct backend *b = user;
    struct icount_entry *e =
        &b->icache[(addr ^ (addr >> ICOUNT_CACHE_BITS)) & ((1u << ICOUNT_CACHE_BITS) - 1)];
    if (__builtin_expect(e->addr != addr || e->size != size, 0)) {
        block_count_miss(uc, b, e, addr, size);
        return;
    }
    block_count(uc, b, addr, size, e->count);
}

/* aarch64 has no count cache to hold the watch bit; a separate, well-predicted branch costs
 * less than making the budget comparison wait for the page hash. */
static void on_block_aarch64(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    struct backend *b = user;
    uint32_t n = size >> 2;
    if (__builtin_expect(b->watch_pages[watch_page_slot(addr)] != 0, 0))
        n |= BLOCK_WATCHED;
    block_count(uc, b, addr, size, n);
}

static void on_syscall_x86(uc_engine *uc, void *user)
{
    struct backend *b = ((struct engine *)user)->b;
    b->stop = STOP_SYSCALL;
    uc_emu_stop(uc);
}

static void on_intr(uc_engine *uc, uint32_t intno, void *user)
{
    struct backend *b = ((struct engine *)user)->b;
    if (b->arch->id == ARCH_AARCH64 && intno == 2) { /* EXCP_SWI: svc, PC already past it */
        b->stop = STOP_SYSCALL;
    } else {
        b->stop = STOP_TRAP;
        b->intno = (int)intno;
    }
    uc_emu_stop(uc);
}

static bool on_mem_invalid(uc_engine *uc, uc_mem_type type, uint64_t addr, int size, int64_t value,
                           void *user)
{
    (void)uc, (void)size, (void)value;
    struct backend *b = ((struct engine *)user)->b;
    b->fault_type = type;
    b->fault_addr = addr;
    return false;
}

/* emu_config.store_watch: the hook makes the engine keep the PC exact at every memory access,
 * so the store is attributed to its own instruction, not its block's. */
static void on_mem_write(uc_engine *uc, uc_mem_type type, uint64_t addr, int size, int64_t value,
                         void *user)
{
    (void)type, (void)value;
    struct backend *b = ((struct engine *)user)->b;
    if (!store_watch_covers(b->store_watch, addr, size))
        return; /* most stores: the PC is read only for a watched word */
    uint64_t pc = 0;
    uc_reg_read(uc, b->arch->id == ARCH_X86_64 ? UC_X86_REG_RIP : UC_ARM64_REG_PC, &pc);
    store_watch_note(b->store_watch, addr, size, pc);
}

/* --verify-icount: counts every instruction and enforces the budget here, exactly, since
 * every block then holds hooked instructions. */
static void on_code_verify(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    (void)addr, (void)size;
    struct backend *b = ((struct engine *)user)->b;
    if (b->verify_insns >= b->budget) {
        b->stop = STOP_BUDGET;
        uc_emu_stop(uc);
        return;
    }
    b->verify_insns++;
}

/* The precise engine: every instruction is counted before it runs, and the run stops in front
 * of the first one beyond the budget. */
static void on_code_precise(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    struct backend *b = ((struct engine *)user)->b;
    if (b->precise_left == 0) {
        b->stop = STOP_BUDGET;
        uc_emu_stop(uc);
        return;
    }
    /* Watched points only: the precise engine runs the rest of a block, whose critical
     * section entry the block hook already counted. */
    bool resumed = addr == b->watch_resume;
    b->watch_resume = 0;
    if (b->watch_pages[watch_page_slot(addr)] && !resumed &&
        (watch_hits(b->watch, addr, addr + 1) & ASPACE_WATCH_POINT)) {
        stop_watch(uc, b, addr, size, false, false);
        return;
    }
    b->precise_left--;
    b->insns++;
}

/* The instruction at pc did not retire, nor did the rest of its block; false when pc is not
 * inside the last block (the exception was raised after its instruction retired). */
static bool uncount_from(struct backend *b, uint64_t pc)
{
    uint64_t end = b->tb_start + b->tb_size;
    if (b->tb_size == 0 || pc < b->tb_start || pc >= end)
        return false;
    uint32_t n = icount_decode(b, pc, end);
    b->insns = n <= b->insns ? b->insns - n : 0;
    return true;
}

static bool engine_open(struct backend *b, struct engine *e, bool precise, const char **err)
{
    e->b = b;
    e->precise = precise;
    if ((b->arch->id == ARCH_X86_64 && !x86_far_branch_wired()) ||
        (b->arch->id == ARCH_AARCH64 && !a64_fp16_guard_wired())) {
        *err = "the engine does not export the translator functions rseqemu wraps";
        return false;
    }
    uc_err rc = uc_open(b->arch->uc_arch, b->arch->uc_mode, &e->uc);
    if (rc != UC_ERR_OK) {
        *err = uc_strerror(rc);
        return false;
    }
    uc_ctl_set_cpu_model(e->uc, b->arch->uc_cpu_model);
    e->src.perms = engine_page_perms;
    e->src.fill = engine_page_fill;
    e->src.code = engine_page_code;
    if (!page_source_init(&e->src, b->arch, e->uc)) {
        *err = "cannot map the engine's permission regions";
        return false;
    }
    uc_hook h;
    bool ok =
        uc_hook_add(e->uc, &h, UC_HOOK_INTR, (void *)on_intr, e, 1, 0) == UC_ERR_OK &&
        uc_hook_add(e->uc, &h, UC_HOOK_MEM_INVALID, (void *)on_mem_invalid, e, 1, 0) == UC_ERR_OK;
    if (ok && b->arch->id == ARCH_X86_64)
        ok = uc_hook_add(e->uc, &h, UC_HOOK_INSN, (void *)on_syscall_x86, e, 1, 0,
                         UC_X86_INS_SYSCALL) == UC_ERR_OK;
    if (ok && precise)
        ok = uc_hook_add(e->uc, &h, UC_HOOK_CODE, (void *)on_code_precise, e, 1, 0) == UC_ERR_OK;
    if (ok && !precise)
        ok = uc_hook_add(e->uc, &h, UC_HOOK_BLOCK,
                         b->arch->id == ARCH_X86_64 ? (void *)on_block_x86_64
                                                    : (void *)on_block_aarch64,
                         b, 1, 0) == UC_ERR_OK;
    if (ok && b->emu->store_watch)
        ok = uc_hook_add(e->uc, &h, UC_HOOK_MEM_WRITE, (void *)on_mem_write, e, 1, 0) == UC_ERR_OK;
    if (ok && !precise && b->emu->verify_icount)
        ok = uc_hook_add(e->uc, &h, UC_HOOK_CODE, (void *)on_code_verify, e, 1, 0) == UC_ERR_OK;
    if (!ok)
        *err = "cannot install the engine hooks";
    return ok;
}

struct backend *backend_open(struct emu *emu, struct aspace *as, const char **err)
{
    struct backend *b = calloc(1, sizeof(*b));
    if (!b) {
        *err = "out of memory";
        return NULL;
    }
    b->emu = emu;
    b->as = as;
    b->arch = emu_arch(emu);
    if (b->arch->id == ARCH_X86_64) {
        b->icache = calloc(1u << ICOUNT_CACHE_BITS, sizeof(*b->icache));
        if (!b->icache) {
            *err = "out of memory";
            free(b);
            return NULL;
        }
    }
    b->watch = aspace_watch_table(as);
    b->store_watch = aspace_store_watch_table(as);
    backend_watch_changed(b);
    for (size_t i = 0; i < b->arch->gpr_xfer_count; i++)
        b->gpr_ids[i] = b->arch->gpr_xfer[i].uc_reg;
    for (size_t i = 0; i < b->arch->fp_xfer_count; i++)
        b->fp_ids[i] = b->arch->fp_xfer[i].uc_reg;
    if (!engine_open(b, &b->fast, false, err) || !engine_open(b, &b->precise, true, err) ||
        uc_context_alloc(b->fast.uc, &b->xfer) != UC_ERR_OK) {
        if (!*err)
            *err = "cannot allocate an engine context";
        backend_close(b);
        return NULL;
    }
    return b;
}

void backend_close(struct backend *b)
{
    if (!b)
        return;
    if (b->xfer)
        uc_context_free(b->xfer);
    if (b->env)
        uc_context_free(b->env);
    if (b->fast.uc)
        uc_close(b->fast.uc);
    if (b->precise.uc)
        uc_close(b->precise.uc);
    free(b->icache);
    free(b);
}

void backend_tlb_flush(struct backend *b)
{
    page_source_tlb_flush_all(&b->fast.src);
    page_source_tlb_flush_all(&b->precise.src);
}

int backend_window_add(struct backend *b, guest_addr_t base, uint64_t len, void *host)
{
    if (uc_mem_map_ptr(b->fast.uc, base, len, UC_PROT_ALL, host) != UC_ERR_OK)
        return -LX_ENOMEM;
    if (uc_mem_map_ptr(b->precise.uc, base, len, UC_PROT_ALL, host) != UC_ERR_OK) {
        uc_mem_unmap(b->fast.uc, base, len);
        return -LX_ENOMEM;
    }
    return 0;
}

void backend_window_remove(struct backend *b, guest_addr_t base, uint64_t len)
{
    uc_mem_unmap(b->fast.uc, base, len);
    uc_mem_unmap(b->precise.uc, base, len);
}

void backend_forget(struct backend *b, guest_addr_t addr, uint64_t len, bool code)
{
    page_source_tlb_flush(&b->fast.src, addr, len);
    page_source_tlb_flush(&b->precise.src, addr, len);
    if (code)
        backend_code_changed(b, addr, len);
}

void backend_watch_changed(struct backend *b)
{
    /* --verify-icount puts code hooks in every block, where a block-hook stop is unsafe; its
     * budget_stop would also let a watch bit into the count. */
    if (!b->emu->verify_icount)
        memcpy(b->watch_pages, b->watch->pages, sizeof(b->watch_pages));
    if (b->icache)
        memset(b->icache, 0, sizeof(*b->icache) << ICOUNT_CACHE_BITS);
}

/* The engine drops the translations of a range page by page, which for the munmap of
 * gigabytes took it minutes; past this many bytes, dropping them all costs less. */
#define CODE_RANGE_FLUSH_ALL (16ULL << 20)

void backend_code_changed(struct backend *b, guest_addr_t addr, uint64_t len)
{
    if (b->icache)
        memset(b->icache, 0, sizeof(*b->icache) << ICOUNT_CACHE_BITS);
    if (len > CODE_RANGE_FLUSH_ALL) {
        uc_ctl_flush_tlb(b->fast.uc); /* UC_CTL_TB_FLUSH: every translation */
        uc_ctl_flush_tlb(b->precise.uc);
        return;
    }
    uc_ctl_remove_cache(b->fast.uc, addr, addr + len);
    uc_ctl_remove_cache(b->precise.uc, addr, addr + len);
}

static void regs_xfer_list(struct backend *b, struct arch_regs *regs, const int *ids,
                           const struct arch_reg_xfer *xfer, size_t n, bool to_engine)
{
    void *vals[64];
    for (size_t i = 0; i < n; i++)
        vals[i] = (char *)regs + xfer[i].offset;
    if (to_engine)
        uc_reg_write_batch(b->fast.uc, (int *)ids, vals, (int)n);
    else
        uc_reg_read_batch(b->fast.uc, (int *)ids, vals, (int)n);
}

static void regs_xfer(struct backend *b, struct arch_regs *regs, int parts, bool to_engine)
{
    const struct arch_desc *a = b->arch;
    if (parts & REGS_GPR)
        regs_xfer_list(b, regs, b->gpr_ids, a->gpr_xfer, a->gpr_xfer_count, to_engine);
    if (parts & REGS_FP)
        regs_xfer_list(b, regs, b->fp_ids, a->fp_xfer, a->fp_xfer_count, to_engine);
}

void backend_regs_store(struct backend *b, const struct arch_regs *regs, int parts)
{
    regs_xfer(b, (struct arch_regs *)regs, parts, true);
}

void backend_regs_load(struct backend *b, struct arch_regs *regs, int parts)
{
    regs_xfer(b, regs, parts, false);
}

struct cpu_ctx *backend_loaded(const struct backend *b) { return b->loaded; }
void backend_set_loaded(struct backend *b, struct cpu_ctx *ctx) { b->loaded = ctx; }

void backend_env_save(struct backend *b)
{
    if (!b->env && uc_context_alloc(b->fast.uc, &b->env) != UC_ERR_OK) {
        fprintf(stderr, "rseqemu: internal error: cannot allocate an engine context\n");
        abort();
    }
    uc_context_save(b->fast.uc, b->env);
}

void backend_env_restore(struct backend *b)
{
    if (b->env)
        uc_context_restore(b->fast.uc, b->env);
}

void backend_watch_refresh(struct backend *b)
{
    if (memcmp(b->watch_pages, b->watch->pages, sizeof(b->watch_pages)) != 0)
        backend_watch_changed(b);
}

static void fault_exit(struct backend *b, struct emu_exit *out)
{
    out->kind = EMU_EXIT_FAULT;
    out->fault_addr = b->fault_addr;
    switch (b->fault_type) {
    case UC_MEM_READ_UNMAPPED:
    case UC_MEM_WRITE_UNMAPPED:
    case UC_MEM_FETCH_UNMAPPED:
        out->fault_unmapped = true;
        break;
    default:
        out->fault_unmapped = false;
    }
    switch (b->fault_type) {
    case UC_MEM_WRITE_UNMAPPED:
    case UC_MEM_WRITE_PROT:
        out->fault_access = LX_PROT_WRITE;
        break;
    case UC_MEM_FETCH_UNMAPPED:
    case UC_MEM_FETCH_PROT:
        out->fault_access = LX_PROT_EXEC;
        break;
    default:
        out->fault_access = LX_PROT_READ;
    }
}

static uint64_t read_pc(struct engine *e)
{
    uint64_t pc;
    uc_reg_read(e->uc, e->b->arch->id == ARCH_X86_64 ? UC_X86_REG_RIP : UC_ARM64_REG_PC, &pc);
    return pc;
}

static void classify(struct backend *b, uc_err e, struct emu_exit *out)
{
    memset(out, 0, sizeof(*out));
    switch (e) {
    case UC_ERR_OK:
        if (b->stop == STOP_SYSCALL) {
            out->kind = EMU_EXIT_SYSCALL;
        } else if (b->stop == STOP_BUDGET || b->stop == STOP_MEM) {
            out->kind = EMU_EXIT_BUDGET;
        } else if (b->stop == STOP_WATCH) {
            out->kind = EMU_EXIT_WATCH;
            out->watch_addr = b->watch_addr;
            out->watch_size = b->watch_size;
            out->watch_cs = b->watch_cs;
            out->watch_resumed = b->watch_resumed;
        } else if (b->stop == STOP_TRAP) {
            out->kind = EMU_EXIT_TRAP;
            out->trap_intno = b->intno;
        } else {
            out->kind = EMU_EXIT_TRAP; /* x86 hlt: privileged in user mode */
            out->trap_intno = EMU_TRAP_HALT;
        }
        break;
    case UC_ERR_READ_UNMAPPED:
    case UC_ERR_WRITE_UNMAPPED:
    case UC_ERR_FETCH_UNMAPPED:
    case UC_ERR_READ_PROT:
    case UC_ERR_WRITE_PROT:
    case UC_ERR_FETCH_PROT:
        fault_exit(b, out);
        break;
    case UC_ERR_INSN_INVALID:
        out->kind = EMU_EXIT_TRAP;
        out->trap_intno = EMU_TRAP_INVALID_INSN;
        break;
    case UC_ERR_READ_UNALIGNED:
    case UC_ERR_WRITE_UNALIGNED:
    case UC_ERR_FETCH_UNALIGNED:
        out->kind = EMU_EXIT_TRAP;
        out->trap_intno = EMU_TRAP_UNALIGNED;
        break;
    case UC_ERR_EXCEPTION:
        out->kind = EMU_EXIT_TRAP;
        out->trap_intno = b->intno ? b->intno : EMU_TRAP_INVALID_INSN;
        break;
    default:
        out->kind = EMU_EXIT_ERROR;
        snprintf(out->error, sizeof(out->error), "engine error: %s", uc_strerror(e));
        break;
    }
}

/* An undefined instruction the loader put in place of one that reads the host clock
 * (aspace_time_site): it is emulated with virtual time and the run can go on. */
static bool emulate_time_insn(struct engine *e, const struct emu_exit *out, uint64_t pc)
{
    struct backend *b = e->b;
    bool undefined = out->kind == EMU_EXIT_TRAP &&
                     (out->trap_intno == EMU_TRAP_INVALID_INSN ||
                      (b->arch->id == ARCH_AARCH64 && out->trap_intno == 1 /* EXCP_UDEF */));
    struct time_site site;
    if (!undefined || !aspace_time_site(b->as, pc, &site))
        return false;
    uint64_t ns = b->time_ns + b->insns * b->ns_per_insn;
    if (site.kind == TIME_INSN_CNTVCT) {
        uint64_t ticks = ns / 16; /* the engine's generic timer runs at 62.5 MHz */
        int reg = site.reg == 29   ? UC_ARM64_REG_X29
                  : site.reg == 30 ? UC_ARM64_REG_X30
                                   : UC_ARM64_REG_X0 + site.reg;
        if (site.reg != 31)
            uc_reg_write(e->uc, reg, &ticks);
    } else {
        uint64_t lo = ns & 0xffffffffu, hi = ns >> 32, aux = 0;
        uc_reg_write(e->uc, UC_X86_REG_RAX, &lo);
        uc_reg_write(e->uc, UC_X86_REG_RDX, &hi);
        if (site.kind == TIME_INSN_RDTSCP)
            uc_reg_write(e->uc, UC_X86_REG_RCX, &aux);
    }
    uint64_t next = pc + site.len;
    uc_reg_write(e->uc, b->arch->id == ARCH_X86_64 ? UC_X86_REG_RIP : UC_ARM64_REG_PC, &next);
    b->insns++;
    if (e->precise && b->precise_left)
        b->precise_left--;
    if (!e->precise && b->emu->verify_icount)
        b->verify_insns++;
    return true;
}

/* Runs one engine from pc until an exit, emulating time instructions on the way. */
static void engine_run(struct engine *e, uint64_t pc, struct emu_exit *out)
{
    struct backend *b = e->b;
    for (;;) {
        b->tb_start = 0;
        b->tb_size = 0;
        b->stop = STOP_NONE;
        b->intno = 0;
        b->fault_type = -1;
        page_source_set_current(&e->src);
        fault_pc_note_start();
        uc_err rc = uc_emu_start(e->uc, pc, 0, 0, 0);
        page_source_set_current(NULL);
        classify(b, rc, out);
        if (out->kind == EMU_EXIT_FAULT)
            fault_pc_restore(b->arch, e->src.cpu);
        if (out->kind == EMU_EXIT_TRAP && out->trap_intno == EMU_TRAP_HALT && read_pc(e) == 0) {
            /* uc_emu_start's `until` is 0: the engine stops before it would fetch there, with
             * the branch that led there retired. Nothing maps page 0 (mmap_min_addr), so this
             * is the guest's fetch fault at 0, not a halt to step over (which looped forever
             * on aarch64). */
            memset(out, 0, sizeof(*out));
            out->kind = EMU_EXIT_FAULT;
            out->fault_unmapped = true;
            out->fault_access = LX_PROT_EXEC;
            return;
        }
        if (out->kind == EMU_EXIT_TRAP && out->trap_intno == EMU_TRAP_HALT) {
            pc = read_pc(e);
            if (b->arch->id == ARCH_AARCH64)
                continue; /* wfi/wfe: hints an EL0 thread may execute; the run goes on */
            /* x86 hlt leaves the IP past itself; from user mode it is a #GP at the hlt. */
            pc -= 1;
            uc_reg_write(e->uc, UC_X86_REG_RIP, &pc);
        }
        bool raised = out->kind == EMU_EXIT_FAULT || out->kind == EMU_EXIT_TRAP;
        if (raised || (out->kind == EMU_EXIT_BUDGET && !e->precise && b->emu->verify_icount)) {
            pc = read_pc(e);
            if (e->precise) {
                /* The hook counted the instruction before it raised the exception. An
                 * exception taken after its instruction retired (svc, int3) leaves the IP past
                 * it; only x86 int3-like traps do that, and they end their block too. */
                if (raised && !(out->kind == EMU_EXIT_TRAP && out->trap_intno == 3 &&
                                b->arch->id == ARCH_X86_64)) {
                    b->insns--;
                    b->precise_left++;
                }
            } else if (uncount_from(b, pc) && raised && b->verify_insns) {
                b->verify_insns--; /* the per-instruction hook ran for it too */
            }
        }
        if (!emulate_time_insn(e, out, pc))
            return;
        pc = read_pc(e);
        if (b->insns >= b->budget) {
            memset(out, 0, sizeof(*out));
            out->kind = EMU_EXIT_BUDGET;
            return;
        }
    }
}

/* Runs the rest of the budget, which ends inside a block, on the precise engine. */
static void precise_run(struct backend *b, uint64_t insns, struct emu_exit *out)
{
    uc_context_save(b->fast.uc, b->xfer);
    uc_context_restore(b->precise.uc, b->xfer);
    b->precise_left = insns;
    engine_run(&b->precise, read_pc(&b->precise), out);
    uc_context_save(b->precise.uc, b->xfer);
    uc_context_restore(b->fast.uc, b->xfer);
}

/* Longer runs end early with EMU_EXIT_BUDGET: a block's count carries BLOCK_WATCHED (2^31)
 * into the budget comparison, which must then always fail. */
#define RUN_BUDGET_MAX (1ULL << 30)

void backend_run(struct backend *b, const struct emu_run_params *p, struct emu_exit *out)
{
    memset(out, 0, sizeof(*out));
    uint64_t budget = p->budget_insns < RUN_BUDGET_MAX ? p->budget_insns : RUN_BUDGET_MAX;
    b->budget = budget;
    b->budget_stop = b->emu->verify_icount ? UINT64_MAX : budget;
    b->exact = p->exact;
    b->insns = 0;
    b->time_ns = p->time_ns;
    b->ns_per_insn = p->ns_per_insn;
    b->verify_insns = 0;
    b->watch_countdown = p->watch_countdown;
    b->watch_resume = p->watch_resume_addr;
    b->watch_resume_points_end = p->watch_resume_points_end;
    if (budget == 0) {
        out->kind = EMU_EXIT_BUDGET;
        out->watch_countdown = b->watch_countdown;
        return;
    }
    engine_run(&b->fast, arch_reg(b->arch, &b->loaded->regs, REG_IP), out);
    if (b->emu->verify_icount && b->verify_insns != b->insns) {
        fprintf(stderr,
                "rseqemu: internal error: block instruction count %llu != retired %llu "
                "(exit %d at block 0x%llx+%u)\n",
                (unsigned long long)b->insns, (unsigned long long)b->verify_insns, out->kind,
                (unsigned long long)b->tb_start, b->tb_size);
        abort();
    }
    if (p->exact && out->kind == EMU_EXIT_BUDGET && b->insns < b->budget && b->stop != STOP_MEM)
        precise_run(b, b->budget - b->insns, out);
    out->insns = b->insns;
    out->watch_countdown = b->watch_countdown;
}
