/* The checks of a declared descriptor: the kernel's, as rseq_get_rseq_cs() and the in-section
 * test make them (spec 2.3, 2.6, 7.1), and what would make a listing wrong (where it lies, a
 * second listing of it). Each check adds its warnings; the table gives their order. */
#include "rseq_decl.h"

#include <stdarg.h>
#include <stdio.h>

struct check {
    const struct rseq_cs_decl *decls;
    size_t i;
    const struct rseq_cs_decl *cs; /* decls[i] */
    uint32_t sig;
    const struct rseq_code_view *code;
    struct rseq_cs_warning *out;
    size_t nout;
};

static void warn(struct check *c, enum rseq_cs_problem problem, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void warn(struct check *c, enum rseq_cs_problem problem, const char *fmt, ...)
{
    if (c->nout == RSEQ_CS_WARNINGS_MAX)
        return;
    struct rseq_cs_warning *w = &c->out[c->nout++];
    w->problem = problem;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->text, sizeof(w->text), fmt, ap);
    va_end(ap);
}

static unsigned long long ull(uint64_t v) { return (unsigned long long)v; }

static bool wraps(const struct rseq_cs_decl *cs)
{
    return cs->start_ip + cs->post_commit_offset < cs->start_ip;
}

/* The kernel copies 32 bytes wherever the pointer says and does not check the alignment, but
 * struct rseq_cs is declared aligned(32): a misaligned one is a wrong pointer or layout. */
static void check_alignment(struct check *c)
{
    if (c->cs->addr % RSEQ_CS_SIZE)
        warn(c, RSEQ_CS_MISALIGNED, "not %d-byte aligned (0x%llx bytes past a boundary)",
             RSEQ_CS_SIZE, ull(c->cs->addr % RSEQ_CS_SIZE));
}

static bool same_section(const struct rseq_cs_decl *a, const struct rseq_cs_decl *b)
{
    return a->start_ip == b->start_ip && a->post_commit_offset == b->post_commit_offset &&
           a->abort_ip == b->abort_ip;
}

/* Said of the later of two, naming the first. */
static void check_duplicate(struct check *c)
{
    for (size_t j = 0; j < c->i; j++) {
        const struct rseq_cs_decl *o = &c->decls[j];
        if (o->addr == c->cs->addr) {
            warn(c, RSEQ_CS_DUPLICATE, "listed twice: the same descriptor as [%zu]", j);
            return;
        }
        if (o->in_file && c->cs->in_file && same_section(o, c->cs)) {
            warn(c, RSEQ_CS_DUPLICATE,
                 "describes the same section as [%zu] (descriptor 0x%llx): start 0x%llx, "
                 "commit 0x%llx, abort 0x%llx",
                 j, ull(o->addr), ull(o->start_ip), ull(o->start_ip + o->post_commit_offset),
                 ull(o->abort_ip));
            return;
        }
    }
}

static void check_version(struct check *c)
{
    if (c->cs->version != 0)
        warn(c, RSEQ_CS_VERSION,
             "version %u: the kernel accepts only 0, and kills the thread at its next "
             "preemption, signal or migration while the descriptor is armed",
             c->cs->version);
}

/* The flags Linux once honoured (RSEQ_CS_FLAG_NO_RESTART_ON_*), deprecated since 6.0. */
static const struct {
    uint32_t bit;
    const char *name;
} deprecated_flags[] = {
    {1u << 0, "NO_RESTART_ON_PREEMPT"},
    {1u << 1, "NO_RESTART_ON_SIGNAL"},
    {1u << 2, "NO_RESTART_ON_MIGRATE"},
};

static void check_flags(struct check *c)
{
    uint32_t known = 0;
    char names[96] = "";
    size_t len = 0;
    for (size_t k = 0; k < sizeof(deprecated_flags) / sizeof(deprecated_flags[0]); k++) {
        known |= deprecated_flags[k].bit;
        if ((c->cs->flags & deprecated_flags[k].bit) && len < sizeof(names))
            len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s", len ? "|" : "",
                                    deprecated_flags[k].name);
    }
    if (c->cs->flags & known)
        warn(c, RSEQ_CS_FLAGS_DEPRECATED,
             "flags 0x%x: %s, deprecated since Linux 6.0, which kills a thread interrupted inside "
             "the section",
             c->cs->flags & known, names);
    if (c->cs->flags & ~known)
        warn(c, RSEQ_CS_FLAGS_UNKNOWN,
             "unknown flag bits 0x%x: the kernel kills a thread interrupted inside the section",
             c->cs->flags & ~known);
}

static void check_wrap(struct check *c)
{
    if (wraps(c->cs))
        warn(c, RSEQ_CS_WRAPS, "start_ip 0x%llx + post_commit_offset 0x%llx wraps around",
             ull(c->cs->start_ip), ull(c->cs->post_commit_offset));
}

/* The kernel only needs the addresses below TASK_SIZE, but code that is no program's code is
 * a wrong label or a wrong descriptor. */
static void check_code(struct check *c)
{
    const struct rseq_cs_decl *cs = c->cs;
    bool (*exec)(void *, guest_addr_t) = c->code->executable;
    bool start_ok = exec(c->code->ctx, cs->start_ip);
    if (!start_ok)
        warn(c, RSEQ_CS_NOT_CODE, "start_ip 0x%llx is not in an executable section",
             ull(cs->start_ip));
    /* The section's last byte: code that starts well must not run out of it. */
    if (start_ok && cs->post_commit_offset && !wraps(cs) &&
        !exec(c->code->ctx, cs->start_ip + cs->post_commit_offset - 1))
        warn(c, RSEQ_CS_NOT_CODE, "the section [0x%llx, 0x%llx) ends outside an executable section",
             ull(cs->start_ip), ull(cs->start_ip + cs->post_commit_offset));
    if (!exec(c->code->ctx, cs->abort_ip))
        warn(c, RSEQ_CS_NOT_CODE, "abort_ip 0x%llx is not in an executable section",
             ull(cs->abort_ip));
}

static void check_abort_inside(struct check *c)
{
    const struct rseq_cs_decl *cs = c->cs;
    /* Unsigned, as the kernel computes it: abort_ip in [start_ip, start_ip + offset). */
    if (!wraps(cs) && cs->abort_ip - cs->start_ip < cs->post_commit_offset)
        warn(c, RSEQ_CS_ABORT_INSIDE,
             "abort_ip 0x%llx is inside the section [0x%llx, 0x%llx): the kernel kills the "
             "thread",
             ull(cs->abort_ip), ull(cs->start_ip), ull(cs->start_ip + cs->post_commit_offset));
}

static void check_signature(struct check *c)
{
    guest_addr_t at = c->cs->abort_ip - 4;
    uint32_t word;
    if (!c->code->read_u32(c->code->ctx, at, &word))
        warn(c, RSEQ_CS_SIGNATURE,
             "no signature: the file holds no bytes at 0x%llx, before abort_ip 0x%llx", ull(at),
             ull(c->cs->abort_ip));
    else if (word != c->sig)
        warn(c, RSEQ_CS_SIGNATURE,
             "signature 0x%08x at 0x%llx, before abort_ip, is not RSEQ_SIG 0x%08x: the first "
             "abort kills the thread",
             word, ull(at), c->sig);
}

static void (*const checks[])(struct check *) = {
    check_alignment, check_duplicate, check_version,      check_flags,
    check_wrap,      check_code,      check_abort_inside, check_signature,
};

size_t rseq_cs_check(const struct rseq_cs_decl *decls, size_t i, uint32_t sig,
                     const struct rseq_code_view *code, struct rseq_cs_warning *out)
{
    struct check c = {
        .decls = decls, .i = i, .cs = &decls[i], .sig = sig, .code = code, .out = out};
    if (!c.cs->in_file) {
        warn(&c, RSEQ_CS_NOT_IN_FILE, "its %d bytes are not in one loaded section of the file",
             RSEQ_CS_SIZE);
        check_alignment(&c);
        check_duplicate(&c);
        return c.nout;
    }
    for (size_t k = 0; k < sizeof(checks) / sizeof(checks[0]); k++)
        checks[k](&c);
    return c.nout;
}
