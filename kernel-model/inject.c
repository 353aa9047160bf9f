/* Injections by instruction. A critical section is a few instructions in a long run, so a
 * policy that preempts at random instruction counts almost never lands in one; watching the
 * sections makes the engine stop in front of each block that runs one, at no cost elsewhere,
 * and the injection lands on an instruction of that block. */
#include "inject.h"

#include <stdlib.h>
#include <string.h>

#include "emu/aspace.h"
#include "emu/disasm.h"
#include "emu/loader.h"
#include "event.h"
#include "pct.h"
#include "policy.h"
#include "sched.h"
#include "signal.h"
#include "task.h"

#define BLOCK_INSNS_MAX 1024

static const char *const action_names[INJECT_ACT_COUNT] = {
    [INJECT_ACT_PREEMPT] = "preempt", [INJECT_ACT_MIGRATE] = "migrate",
    [INJECT_ACT_SIGNAL] = "signal",   [INJECT_ACT_TICK] = "tick",
    [INJECT_ACT_NOTIFY] = "notify",
};

int kernel_inject_parse(const char *spec, struct kernel_inject *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->nth = 1;
    out->arg = -1;
    const char *at = strchr(spec, '@');
    if (!at || at == spec || !at[1]) {
        snprintf(err, errlen, "'%s': expected ACTION@WHERE[#N]", spec);
        return -1;
    }
    char action[32];
    size_t alen = (size_t)(at - spec);
    if (alen >= sizeof(action)) {
        snprintf(err, errlen, "'%s': unknown action", spec);
        return -1;
    }
    memcpy(action, spec, alen);
    action[alen] = '\0';
    char *eq = strchr(action, '=');
    if (eq)
        *eq++ = '\0';
    int a = -1;
    for (int i = 0; i < INJECT_ACT_COUNT; i++)
        if (!strcmp(action, action_names[i]))
            a = i;
    if (a < 0) {
        snprintf(err, errlen,
                 "'%s': unknown action '%s' (preempt, migrate[=CPU], signal=SIG, tick, notify)",
                 spec, action);
        return -1;
    }
    out->action = (enum kernel_inject_action)a;
    if (a == INJECT_ACT_SIGNAL) {
        out->arg = eq ? signal_parse(eq) : -1;
        if (out->arg < 0) {
            snprintf(err, errlen, "'%s': signal=SIG needs a signal name or number", spec);
            return -1;
        }
    } else if (a == INJECT_ACT_MIGRATE && eq) {
        char *end;
        long cpu = strtol(eq, &end, 10);
        if (!*eq || *end || cpu < 0 || cpu >= KERNEL_CPUS_MAX) {
            snprintf(err, errlen, "'%s': migrate=CPU needs a CPU number", spec);
            return -1;
        }
        out->arg = (int)cpu;
    } else if (eq) {
        snprintf(err, errlen, "'%s': %s takes no value", spec, action);
        return -1;
    }
    const char *where = at + 1;
    const char *hash = strchr(where, '#');
    size_t wlen = hash ? (size_t)(hash - where) : strlen(where);
    if (wlen == 0 || wlen >= sizeof(out->where)) {
        snprintf(err, errlen, "'%s': bad location", spec);
        return -1;
    }
    memcpy(out->where, where, wlen);
    out->where[wlen] = '\0';
    if (hash) {
        char *end;
        unsigned long n = strtoul(hash + 1, &end, 10);
        if (!hash[1] || *end || n == 0 || n > UINT32_MAX) {
            snprintf(err, errlen, "'%s': #N needs a count from 1", spec);
            return -1;
        }
        out->nth = (uint32_t)n;
    }
    return 0;
}

/* "0x401000", "main", "main+0x1c". */
static bool resolve_where(const struct elf_image *img, const char *where, guest_addr_t *out)
{
    char *end;
    if (where[0] >= '0' && where[0] <= '9') {
        *out = strtoull(where, &end, 0);
        return *end == '\0';
    }
    char name[128];
    const char *plus = strchr(where, '+');
    size_t n = plus ? (size_t)(plus - where) : strlen(where);
    if (n >= sizeof(name))
        return false;
    memcpy(name, where, n);
    name[n] = '\0';
    guest_addr_t base = elf_image_symbol(img, name);
    if (!base)
        return false;
    uint64_t off = 0;
    if (plus) {
        off = strtoull(plus + 1, &end, 0);
        if (!plus[1] || *end)
            return false;
    }
    *out = base + off;
    return true;
}

int inject_resolve(struct kernel *k, char *err, size_t errlen)
{
    for (int i = 0; i < k->cfg.ninjects; i++) {
        const struct kernel_inject *in = &k->cfg.injects[i];
        if (!resolve_where(k->image, in->where, &k->st->inject_addr[i])) {
            snprintf(err, errlen, "injection at '%s': no such symbol or address in %s", in->where,
                     elf_image_name(k->image));
            return -1;
        }
        if (in->action == INJECT_ACT_MIGRATE && in->arg >= k->cfg.ncpus) {
            snprintf(err, errlen, "injection '%s' migrates to CPU %d, but there are %d CPUs",
                     in->where, in->arg, k->cfg.ncpus);
            return -1;
        }
    }
    return 0;
}

void inject_watch_cs(struct kernel *k, struct mm *mm, guest_addr_t start, guest_addr_t end)
{
    if (!k->cfg.cs_inject_span || start >= end || end > k->arch->task_size)
        return;
    if (aspace_watch_add(mm->as, start, end, ASPACE_WATCH_CS) == 0)
        k->st->stats.rseq_cs_known++;
}

/* One descriptor (spec 1.1) at addr in mm: the section it declares, if it is plausible. */
static void watch_descriptor(struct kernel *k, struct mm *mm, guest_addr_t addr)
{
    uint8_t raw[32];
    if (aspace_read(mm->as, addr, raw, sizeof(raw)) != 0)
        return;
    uint64_t start, len;
    memcpy(&start, raw + 8, 8);
    memcpy(&len, raw + 16, 8);
    if (len && start + len > start)
        inject_watch_cs(k, mm, start, start + len);
}

/* The critical sections a program declares, as the selftests' and librseq's macros emit them:
 * __rseq_cs_ptr_array points at the descriptors, which live in __rseq_cs (spec 2.10). A
 * static-PIE program's pointers are relocated only when it runs; its sections are found
 * when they are first armed. */
static void watch_declared_sections(struct kernel *k, struct mm *mm)
{
    const struct elf_image *img = mm->image;
    if (elf_image_is_pie(img))
        return;
    struct elf_section sec;
    if (elf_image_section(img, "__rseq_cs_ptr_array", &sec)) {
        for (uint64_t off = 0; off + 8 <= sec.size; off += 8) {
            uint64_t ptr;
            if (aspace_read(mm->as, sec.addr + off, &ptr, sizeof(ptr)) == 0)
                watch_descriptor(k, mm, ptr);
        }
    } else if (elf_image_section(img, "__rseq_cs", &sec)) {
        for (uint64_t off = 0; off + 32 <= sec.size; off += 32)
            watch_descriptor(k, mm, sec.addr + off);
    }
}

void inject_watch_mm(struct kernel *k, struct mm *mm)
{
    if (mm->image != k->image)
        return;
    for (int i = 0; i < k->cfg.ninjects; i++) {
        guest_addr_t a = k->st->inject_addr[i];
        aspace_watch_add(mm->as, a, a + 1, ASPACE_WATCH_POINT);
    }
    watch_declared_sections(k, mm);
}

/* Where the policy's injection inside a critical section goes, and what it is: a deferred
 * signal if one waits, else a preemption or a migration. */
static int cs_inject_kind(struct kernel *k, const struct kcpu *c, const struct task *t)
{
    if (c->signal_deferred)
        return INJECT_SIGNAL_PENDING;
    uint64_t others = t->affinity & sched_online_mask(k) & ~(1ULL << c->id);
    return others && sched_decide(k, DECIDE_INJECT_KIND, 2) ? INJECT_MIGRATE : INJECT_PREEMPT;
}

/* Instructions of straight-line code in [from, to). Decoding is the costly part of a hit, so
 * it goes no further than it must. */
static size_t insns_until(struct kernel *k, struct aspace *as, guest_addr_t from, guest_addr_t to)
{
    if (from == to)
        return 0;
    guest_addr_t ips[BLOCK_INSNS_MAX];
    return disasm_insn_addrs(k->disasm, as, from, to - from, ips, BLOCK_INSNS_MAX);
}

void inject_watch_hit(struct kernel *k, struct kcpu *c, struct task *t, const struct emu_exit *ex,
                      bool resumed, guest_addr_t counted_end)
{
    struct aspace *as = task_as(t);
    /* The block runs next; it must not stop here again, nor for the points counted here. */
    t->watch_resume = ex->watch_addr;
    t->watch_resume_points_end = ex->watch_addr + 1;
    size_t chosen = SIZE_MAX;
    int kind = INJECT_PREEMPT, arg = -1;
    bool in_section = false, pct_pass = false;
    /* pct counts every entry as a step: only a stop that ran nothing since it resumed here has
     * had the block's first instruction; a loop back to this block enters a section there
     * again. (The other policies skip it whenever the run began here.) */
    bool pct = policy_params(k)->pct, again = resumed && ex->insns == 0;
    bool skip_first = pct ? again : resumed;
    if (ex->watch_cs) {
        /* The block enters a critical section: the injection lands on one of the section's
         * next instructions, counted from its entry as the thread runs them. */
        guest_addr_t cs_start, cs_end;
        uint32_t *note =
            aspace_watch_find(as, ex->watch_addr + (skip_first ? 1 : 0),
                              ex->watch_addr + ex->watch_size, ASPACE_WATCH_CS, &cs_start, &cs_end);
        if (note) {
            if (!*note) { /* the section's length in instructions, decoded once */
                guest_addr_t cs_ips[BLOCK_INSNS_MAX];
                *note = (uint32_t)disasm_insn_addrs(k->disasm, as, cs_start, cs_end - cs_start,
                                                    cs_ips, BLOCK_INSNS_MAX);
            }
            size_t entry = insns_until(k, as, ex->watch_addr, cs_start);
            bool enters = *note && (entry || cs_start == ex->watch_addr);
            if (enters && pct) {
                /* A step, unless the run stopped here again before running anything; a change
                 * point lowers t now, and it gives way (if it must) on the section's first
                 * instruction, so that the section aborts. */
                if (!again && pct_step(k, t)) {
                    chosen = entry;
                    kind = INJECT_PCT_STOP;
                }
                pct_pass = chosen == SIZE_MAX && cs_start != ex->watch_addr;
            } else if (enters) {
                chosen = entry + sched_decide(k, DECIDE_CS_POINT, *note);
                kind = cs_inject_kind(k, c, t);
                in_section = true;
            }
        }
        c->cs_countdown = sched_cs_countdown(k);
        /* Resuming in front of this block skips only its first instruction: the engine counts
         * the entry of a section that starts further in again, and must let it pass. */
        if (pct_pass)
            c->cs_countdown = 2;
    }
    if (k->cfg.ninjects) {
        /* Injections by instruction count every time their instruction is reached, up to the
         * first one that fires; those after the injection point run later, and count then. */
        guest_addr_t ips[BLOCK_INSNS_MAX];
        size_t n =
            disasm_insn_addrs(k->disasm, as, ex->watch_addr, ex->watch_size, ips, BLOCK_INSNS_MAX);
        guest_addr_t skip_below = resumed ? counted_end : ex->watch_addr;
        size_t i = resumed ? 1 : 0;
        while (i < n && ips[i] < skip_below)
            i++;
        for (; i < n && i <= chosen; i++) {
            int fired = -1;
            for (int j = 0; j < k->cfg.ninjects; j++) {
                if (k->st->inject_addr[j] != ips[i] ||
                    k->st->inject_hits[j] >= k->cfg.injects[j].nth)
                    continue;
                if (++k->st->inject_hits[j] == k->cfg.injects[j].nth && fired < 0)
                    fired = j;
            }
            if (fired >= 0) {
                chosen = i;
                kind = (int)k->cfg.injects[fired].action;
                arg = k->cfg.injects[fired].arg;
                in_section = false;
                break;
            }
        }
        /* Counted: up to the injection that fired (with it), up to the section's chosen
         * instruction, or the whole block. */
        t->watch_resume_points_end = i >= n        ? ex->watch_addr + ex->watch_size
                                     : chosen == i ? ips[i] + 1
                                                   : ips[i];
    }
    if (chosen == SIZE_MAX)
        return;
    if (in_section)
        k->st->stats.cs_injections++;
    c->inject_at = t->insns + chosen;
    c->inject_kind = kind;
    c->inject_arg = arg;
    c->inject_from_watch = true;
}
