#include "report.h"

#include <stdarg.h>
#include <stdio.h>

#include "emu/disasm.h"
#include "emu/loader.h"
#include "task.h"

static void vreport(struct kernel *k, const char *fmt, va_list ap)
{
    fputs("rseqemu: ", k->diag);
    vfprintf(k->diag, fmt, ap);
    fputc('\n', k->diag);
    fflush(k->diag);
}

void report_diag(struct kernel *k, const char *fmt, ...)
{
    if (k->cfg.quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vreport(k, fmt, ap);
    va_end(ap);
}

void report_fatal(struct kernel *k, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(k, fmt, ap);
    va_end(ap);
}

void report_location(struct kernel *k, const struct task *t, guest_addr_t addr, char *buf,
                     size_t len)
{
    char sym[160] = "";
    const struct elf_image *img = t->proc->mm->image;
    char name[128];
    if (img && elf_image_where(img, addr, name, sizeof(name)))
        snprintf(sym, sizeof(sym), " <%s>", name);
    char insn[96] = "";
    if (k->disasm)
        disasm_one(k->disasm, task_as(t), addr, insn, sizeof(insn));
    snprintf(buf, len, "0x%llx%s: %s", (unsigned long long)addr, sym, insn);
}

static const char *wait_name(enum wait_kind w)
{
    switch (w) {
    case WAIT_FUTEX:
        return "futex";
    case WAIT_SLEEP:
        return "sleep";
    case WAIT_SIGSUSPEND:
        return "sigsuspend";
    case WAIT_SIGTIMEDWAIT:
        return "sigtimedwait";
    case WAIT_CHILD:
        return "wait for a child";
    case WAIT_PAUSE:
        return "pause";
    default:
        return "nothing";
    }
}

void report_threads(struct kernel *k)
{
    for (int i = 0; i < TASK_MAX; i++) {
        struct task *t = &k->st->tasks[i];
        if (t->state == TASK_FREE || t->state == TASK_DEAD)
            continue;
        char where[256];
        report_location(k, t, task_reg(k, t, REG_IP), where, sizeof(where));
        if (t->state == TASK_BLOCKED && t->wait.kind == WAIT_FUTEX)
            report_fatal(k,
                         "  tid %d (pid %d) blocked in futex wait on 0x%llx, after %llu "
                         "instructions, at %s",
                         t->tid, t->proc->pid, (unsigned long long)t->wait.futex_addr,
                         (unsigned long long)t->insns, where);
        else
            report_fatal(k, "  tid %d (pid %d) %s%s, after %llu instructions, at %s", t->tid,
                         t->proc->pid, t->state == TASK_BLOCKED ? "blocked in " : "runnable",
                         t->state == TASK_BLOCKED ? wait_name(t->wait.kind) : "",
                         (unsigned long long)t->insns, where);
    }
}
