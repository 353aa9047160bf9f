/* Events as trace records: what each kind of event shows, with code addresses symbolized from
 * the program's symbol table and disassembled. Reading guest memory here never changes the
 * run; nothing here feeds the digest or draws from the run's random numbers. */
#include "trace.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_opv.h"
#include "emu/aspace.h"
#include "emu/disasm.h"
#include "emu/loader.h"
#include "inject.h"
#include "rseq.h"
#include "sched.h"
#include "signal.h"
#include "syscall.h"
#include "task.h"
#include "trace_rec.h"

#define TRACE_OUTPUTS_MAX 4

struct trace {
    struct trace_writer out[TRACE_OUTPUTS_MAX];
    int nout;
    bool finished;
};

struct trace *trace_create(void) { return calloc(1, sizeof(struct trace)); }

void trace_add_output(struct trace *tr, enum trace_format format, FILE *out)
{
    static void (*const writers[])(struct trace_writer *, FILE *) = {
        [TRACE_TEXT] = trace_writer_text,
        [TRACE_JSON] = trace_writer_json,
        [TRACE_PERFETTO] = trace_writer_perfetto,
    };
    if (tr->nout < TRACE_OUTPUTS_MAX)
        writers[format](&tr->out[tr->nout++], out);
}

void trace_finish(struct trace *tr)
{
    if (!tr || tr->finished)
        return;
    tr->finished = true;
    for (int i = 0; i < tr->nout; i++)
        if (tr->out[i].finish)
            tr->out[i].finish(tr->out[i].state);
}

void trace_destroy(struct trace *tr)
{
    if (!tr)
        return;
    for (int i = 0; i < tr->nout; i++)
        if (tr->out[i].destroy)
            tr->out[i].destroy(tr->out[i].state);
    free(tr);
}

static void emit(struct kernel *k, const struct trace_rec *r)
{
    struct trace *tr = k->cfg.trace;
    for (int i = 0; i < tr->nout; i++)
        tr->out[i].event(tr->out[i].state, r);
}

/* ---- building records ---- */

static const char *pool_printf(struct trace_rec *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static const char *pool_printf(struct trace_rec *r, const char *fmt, ...)
{
    char *dst = r->pool + r->pool_used;
    size_t room = sizeof(r->pool) - r->pool_used;
    if (room == 0)
        return "";
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, room, fmt, ap);
    va_end(ap);
    r->pool_used += n < 0 ? 1 : (size_t)n + 1 > room ? room : (size_t)n + 1;
    return n < 0 ? "" : dst;
}

static struct trace_field *field(struct trace_rec *r, const char *key, enum trace_field_type type)
{
    static struct trace_field spare;
    if (r->nfields == TRACE_FIELDS_MAX)
        return &spare;
    struct trace_field *f = &r->f[r->nfields++];
    memset(f, 0, sizeof(*f));
    f->key = key;
    f->type = type;
    return f;
}

static void add_int(struct trace_rec *r, const char *key, int64_t v)
{
    field(r, key, TF_INT)->i = v;
}
static void add_hex(struct trace_rec *r, const char *key, uint64_t v)
{
    field(r, key, TF_HEX)->u = v;
}
static void add_str(struct trace_rec *r, const char *key, const char *s)
{
    field(r, key, TF_STR)->s = s;
}

static void add_code(struct kernel *k, const struct task *t, struct trace_rec *r, const char *key,
                     guest_addr_t addr)
{
    struct trace_field *f = field(r, key, TF_CODE);
    f->u = addr;
    f->s = "";
    f->insn = "";
    if (!t)
        return;
    char buf[160];
    const struct elf_image *img = t->proc->mm->image;
    if (img && elf_image_where(img, addr, buf, sizeof(buf)))
        f->s = pool_printf(r, "%s", buf);
    if (k->disasm && disasm_one(k->disasm, task_as(t), addr, buf, sizeof(buf)))
        f->insn = pool_printf(r, "%s", buf);
}

static const char *const abort_causes[] = {
    [RSEQ_EVENT_PREEMPT] = "preempt",
    [RSEQ_EVENT_SIGNAL] = "signal",
    [RSEQ_EVENT_MIGRATE] = "migrate",
    [RSEQ_EVENT_IPI] = "ipi",
};

/* Instructions of the section before ip, decoded as straight-line code from its start. */
static int64_t cs_position(struct kernel *k, const struct task *t, guest_addr_t start,
                           guest_addr_t ip)
{
    guest_addr_t addrs[256];
    if (!k->disasm || ip <= start || ip - start > 4096)
        return ip == start ? 0 : -1;
    size_t n = disasm_insn_addrs(k->disasm, task_as(t), start, ip - start, addrs, 256);
    return n ? (int64_t)n : -1;
}

static void build_abort(struct kernel *k, const struct task *t, uint64_t ip, uint64_t abort_ip,
                        uint64_t cs_addr, struct trace_rec *r)
{
    add_code(k, t, r, "ip", ip);
    add_code(k, t, r, "abort_ip", abort_ip);
    add_hex(r, "cs", cs_addr);
    uint64_t start;
    if (aspace_read(task_as(t), cs_addr + 8, &start, sizeof(start)) == 0) {
        add_code(k, t, r, "cs_start", start);
        add_int(r, "cs_insn", cs_position(k, t, start, ip));
    }
    uint32_t ev = t->rseq.last_event;
    add_str(r, "why",
            ev < sizeof(abort_causes) / sizeof(abort_causes[0]) && abort_causes[ev]
                ? abort_causes[ev]
                : "preempt");
}

static const char *const cpu_opv_places[] = {
    [CPU_OPV_IPI] = "ipi",
    [CPU_OPV_LOCAL] = "local",
    [CPU_OPV_OFFLINE] = "offline",
};

static const char *const preempt_causes[] = {"inject", "migrate", "slice", "ipi"};
static const char *const inject_names[] = {
    [INJECT_PREEMPT] = "preempt", [INJECT_MIGRATE] = "migrate",
    [INJECT_SIGNAL] = "signal",   [INJECT_TICK] = "tick",
    [INJECT_NOTIFY] = "notify",   [INJECT_SIGNAL_PENDING] = "interrupt",
};
static const char *const wait_names[] = {
    [WAIT_NONE] = "none",
    [WAIT_FUTEX] = "futex",
    [WAIT_SLEEP] = "sleep",
    [WAIT_SIGSUSPEND] = "sigsuspend",
    [WAIT_SIGTIMEDWAIT] = "sigtimedwait",
    [WAIT_CHILD] = "child",
    [WAIT_PAUSE] = "pause",
};

#define NAME_OR(table, i, other)                                                                   \
    ((uint64_t)(i) < sizeof(table) / sizeof(table[0]) && (table)[i] ? (table)[i] : (other))

static void build(struct kernel *k, enum event_kind kind, const struct task *t, uint64_t a,
                  uint64_t b, uint64_t c, struct trace_rec *r)
{
    switch (kind) {
    case EV_SWITCH:
        r->ev = "switch";
        add_code(k, t, r, "ip", task_reg(k, t, REG_IP));
        break;
    case EV_PREEMPT:
        r->ev = a == 3 ? "ipi" : "preempt";
        add_str(r, "why", NAME_OR(preempt_causes, a, "?"));
        if (a == 1)
            add_int(r, "to", (int64_t)b);
        add_code(k, t, r, "ip", task_reg(k, t, REG_IP));
        break;
    case EV_MIGRATE:
        r->ev = "migrate";
        add_int(r, "from", (int64_t)a);
        add_int(r, "to", (int64_t)b);
        break;
    case EV_INJECT:
        r->ev = "inject";
        add_str(r, "what", NAME_OR(inject_names, a, "?"));
        if (a == INJECT_SIGNAL)
            add_str(r, "sig", signal_name((int)b));
        add_code(k, t, r, "ip", task_reg(k, t, REG_IP));
        break;
    case EV_SIGNAL_SEND:
        r->ev = "signal_send";
        add_str(r, "sig", signal_name((int)a));
        add_int(r, "code", (int32_t)b);
        if (!t)
            add_int(r, "pid", (int64_t)c);
        break;
    case EV_SIGNAL_DELIVER:
        r->ev = "signal";
        add_str(r, "sig", signal_name((int)a));
        add_code(k, t, r, "handler", b);
        add_hex(r, "sp", c);
        break;
    case EV_SIGNAL_DEFAULT:
        r->ev = "signal_default";
        add_str(r, "sig", signal_name((int)a));
        add_str(r, "action", b ? "core" : "terminate");
        add_code(k, t, r, "ip", task_reg(k, t, REG_IP));
        break;
    case EV_BLOCK:
        r->ev = "block";
        add_str(r, "on", NAME_OR(wait_names, a, "?"));
        break;
    case EV_WAKE: {
        /* Every wait is a blocked syscall: "<... futex resumed> = 0", as strace shows it. */
        char call[256];
        r->ev = "wake";
        add_int(r, "ret", (int64_t)a);
        trace_syscall_resumed(k, t, (long)a, call, sizeof(call));
        add_str(r, "call", pool_printf(r, "%s", call));
        break;
    }
    case EV_CLONE:
        r->ev = "clone";
        add_hex(r, "flags", a);
        add_int(r, "child", (int64_t)b);
        break;
    case EV_EXIT:
        r->ev = "exit";
        add_int(r, "code", (int64_t)a);
        break;
    case EV_FAULT:
        r->ev = "fault";
        add_str(r, "kind", a == EMU_EXIT_FAULT ? "memory" : "trap");
        add_hex(r, "addr", b);
        add_code(k, t, r, "ip", task_reg(k, t, REG_IP));
        break;
    case EV_RSEQ_REGISTER:
        r->ev = a ? "rseq_register" : "rseq_unregister";
        if (a) {
            add_hex(r, "area", a);
            add_int(r, "len", (int64_t)b);
            add_hex(r, "sig", c);
        }
        break;
    case EV_RSEQ_ABORT:
        r->ev = "rseq_abort";
        build_abort(k, t, a, b, c, r);
        break;
    case EV_TIMER:
        r->ev = "timer";
        add_int(r, "when", (int64_t)a);
        break;
    case EV_CPU_OPV:
        r->ev = "cpu_opv";
        add_int(r, "target", (int64_t)a);
        add_int(r, "ops", cpu_opv_event_ops(b));
        add_str(r, "on", NAME_OR(cpu_opv_places, cpu_opv_event_where(b), "?"));
        if (cpu_opv_event_tid(b))
            add_int(r, "interrupted", cpu_opv_event_tid(b));
        add_int(r, "ret", (int64_t)c);
        break;
    case EV_HOTPLUG:
        r->ev = b ? "cpu_online" : "cpu_offline";
        add_int(r, "vcpu", (int64_t)a);
        break;
    case EV_EXEC:
        r->ev = "exec";
        add_hex(r, "program_hash", a);
        add_code(k, t, r, "entry", b);
        break;
    default:
        r->ev = NULL; /* decisions: their effects are the events */
        break;
    }
}

static void rec_begin(struct kernel *k, const struct task *t, struct trace_rec *r)
{
    r->ns = sched_global_now(k);
    r->cpu = t ? t->cpu : k->st->cur_cpu;
    r->tid = t ? t->tid : 0;
    r->insns = t ? t->insns : 0;
    r->nfields = 0;
    r->pool_used = 0;
}

void trace_event(struct kernel *k, enum event_kind kind, const struct task *t, uint64_t a,
                 uint64_t b, uint64_t c)
{
    struct trace_rec r;
    rec_begin(k, t, &r);
    build(k, kind, t, a, b, c, &r);
    if (r.ev)
        emit(k, &r);
}

void trace_syscall(struct kernel *k, const struct task *t, const struct sys_args *args, long ret)
{
    struct trace_rec r;
    rec_begin(k, t, &r);
    r.ev = "syscall";
    char buf[768];
    trace_syscall_format(k, t, args, ret, buf, sizeof(buf));
    add_str(&r, "call", pool_printf(&r, "%s", buf));
    const struct syscall_row *row = syscall_row_of(k, args->nr);
    add_str(&r, "name", row ? row->name : "?");
    add_int(&r, "nr", (int64_t)args->nr);
    if (ret != SYS_BLOCKED && ret != SYS_NORETURN)
        add_int(&r, "ret", ret);
    emit(k, &r);
}

void trace_run_begin(struct kernel *k)
{
    struct trace_rec r;
    rec_begin(k, NULL, &r);
    r.ev = "start";
    r.cpu = -1;
    add_str(&r, "arch", k->arch->name);
    add_int(&r, "cpus", k->cfg.ncpus);
    add_int(&r, "seed", (int64_t)k->cfg.seed);
    add_str(&r, "policy", kernel_policy_names[k->cfg.policy]);
    add_int(&r, "ns_per_insn", (int64_t)NS_PER_INSN);
    emit(k, &r);
}

static const char *const outcome_names[] = {
    [KERNEL_EXITED] = "exited",     [KERNEL_SIGNALED] = "signaled",
    [KERNEL_DEADLOCK] = "deadlock", [KERNEL_RUNAWAY] = "runaway",
    [KERNEL_ERROR] = "error",       [KERNEL_BAD_SCHEDULE] = "bad_schedule",
};

void trace_run_end(struct kernel *k)
{
    struct trace_rec r;
    rec_begin(k, NULL, &r);
    r.ev = "end";
    r.cpu = -1;
    add_str(&r, "outcome", NAME_OR(outcome_names, k->result.outcome, "?"));
    add_int(&r, "status", k->result.status);
    add_int(&r, "total_insns", (int64_t)k->st->total_insns);
    emit(k, &r);
}
