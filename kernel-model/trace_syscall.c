/* System calls as strace shows them, from the argument letters of the syscall table. */
#include <stdarg.h>
#include <string.h>

#include "emu/aspace.h"
#include "signal.h"
#include "syscall.h"
#include "task.h"
#include "trace_rec.h"

#define STRING_SHOWN 32 /* bytes of a string or buffer, as strace -s 32 */

struct out {
    char *buf;
    size_t len, used;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
    if (o->used >= o->len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->used, o->len - o->used, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->used = o->used + (size_t)n < o->len ? o->used + (size_t)n : o->len - 1;
}

/* Guest bytes as a C string literal; stops at NUL for strings. */
static void put_bytes(struct out *o, struct task *t, guest_addr_t addr, uint64_t n, bool string)
{
    uint8_t bytes[STRING_SHOWN];
    size_t want = n < STRING_SHOWN ? (size_t)n : STRING_SHOWN, got = 0;
    while (got < want && aspace_read(task_as(t), addr + got, &bytes[got], 1) == 0) {
        if (string && bytes[got] == 0)
            break;
        got++;
    }
    if (got == 0 && want > 0 && (string || aspace_read(task_as(t), addr, bytes, 1) != 0)) {
        put(o, "0x%llx", (unsigned long long)addr);
        return;
    }
    static const char escapes[256] = {
        ['\n'] = 'n', ['\t'] = 't', ['\r'] = 'r', ['"'] = '"', ['\\'] = '\\'};
    put(o, "\"");
    for (size_t i = 0; i < got; i++) {
        uint8_t ch = bytes[i];
        if (escapes[ch])
            put(o, "\\%c", escapes[ch]);
        else if (ch < 0x20 || ch >= 0x7f)
            put(o, "\\x%02x", ch);
        else
            put(o, "%c", ch);
    }
    bool cut = string ? got == want : n > got;
    put(o, "\"%s", cut ? "..." : "");
}

static void put_arg(struct out *o, struct task *t, char how, uint64_t v, uint64_t next, long ret)
{
    switch (how) {
    case 'd':
        put(o, "%d", (int)v);
        break;
    case 'u':
        put(o, "%llu", (unsigned long long)v);
        break;
    case 'o':
        put(o, "0%llo", (unsigned long long)v);
        break;
    case 'p':
        if (v == 0)
            put(o, "NULL");
        else
            put(o, "0x%llx", (unsigned long long)v);
        break;
    case 's':
        if (v == 0)
            put(o, "NULL");
        else
            put_bytes(o, t, v, STRING_SHOWN, true);
        break;
    case 'b':
        put_bytes(o, t, v, next, false);
        break;
    case 'B':
        if (ret >= 0 && (uint64_t)ret <= next)
            put_bytes(o, t, v, (uint64_t)ret, false);
        else
            put(o, "0x%llx", (unsigned long long)v);
        break;
    case 'S':
        put(o, "%s", signal_name((int)v));
        break;
    default:
        put(o, "0x%llx", (unsigned long long)v);
        break;
    }
}

/* Linux's errno names are the host's (both are Linux); the restart codes never reach user
 * space, so the host has no names for them. */
static const char *errno_name(long e)
{
    static const char *const restarts[] = {
        [LX_ERESTARTSYS - 512] = "ERESTARTSYS",
        [LX_ERESTARTNOINTR - 512] = "ERESTARTNOINTR",
        [LX_ERESTARTNOHAND - 512] = "ERESTARTNOHAND",
        [LX_ERESTART_RESTARTBLOCK - 512] = "ERESTART_RESTARTBLOCK",
    };
    if (e >= 512 && e - 512 < (long)(sizeof(restarts) / sizeof(restarts[0])) && restarts[e - 512])
        return restarts[e - 512];
    const char *name = e > 0 && e < 4096 ? strerrorname_np((int)e) : NULL;
    return name ? name : "E?";
}

static void put_result(struct out *o, long ret, bool hex)
{
    if (ret == SYS_BLOCKED)
        put(o, " <unfinished ...>");
    else if (ret == SYS_NORETURN)
        put(o, " = ?");
    else if (ret < 0 && ret > -4096)
        put(o, " = -1 %s (%s)", errno_name(-ret),
            -ret >= 512 ? "To be restarted" : strerror((int)-ret));
    else if (hex)
        put(o, " = 0x%lx", ret);
    else
        put(o, " = %ld", ret);
}

void trace_syscall_format(struct kernel *k, const struct task *t, const struct sys_args *args,
                          long ret, char *buf, size_t len)
{
    struct out o = {buf, len, 0};
    buf[0] = 0;
    const struct syscall_row *row = syscall_row_of(k, args->nr);
    const char *how = row && row->args ? row->args : "xxxxxx";
    if (row)
        put(&o, "%s(", row->name);
    else
        put(&o, "syscall_%llu(", (unsigned long long)args->nr);
    int i = 0;
    for (; how[i] && how[i] != '=' && i < 6; i++) {
        if (i)
            put(&o, ", ");
        put_arg(&o, (struct task *)t, how[i], args->a[i], i < 5 ? args->a[i + 1] : 0, ret);
    }
    put(&o, ")");
    put_result(&o, ret, strstr(how, "=x") != NULL);
}

void trace_syscall_resumed(struct kernel *k, const struct task *t, long ret, char *buf, size_t len)
{
    struct out o = {buf, len, 0};
    buf[0] = 0;
    const struct syscall_row *row = syscall_row_of(k, t->sysno);
    put(&o, "<... %s resumed>", row ? row->name : "syscall");
    put_result(&o, ret, false);
}
