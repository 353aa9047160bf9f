/* Schedule files: parsing and writing. Every refusal names the line and the reason. */
#include "schedule.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cpulist.h"
#include "kernel.h"
#include "signal.h"

#define LINE_MAX_LEN 65536
#define STRINGS_MAX  4096 /* argv or env entries */

static const char *const verb_names[VERB_COUNT] = {
    [VERB_PREEMPT] = "preempt", [VERB_MIGRATE] = "migrate", [VERB_SIGNAL] = "signal",
    [VERB_TICK] = "tick",       [VERB_NOTIFY] = "notify",   [VERB_INTERRUPT] = "interrupt",
    [VERB_SWITCH] = "switch",   [VERB_EXPIRE] = "expire",   [VERB_IPI] = "ipi",
    [VERB_OFFLINE] = "offline", [VERB_ONLINE] = "online",   [VERB_PICK] = "pick",
    [VERB_STALL] = "stall",     [VERB_SWAP] = "swap",
};

const char *sched_verb_name(enum sched_verb v) { return v < VERB_COUNT ? verb_names[v] : "?"; }
bool sched_verb_has_arg(enum sched_verb v)
{
    return v == VERB_MIGRATE || v == VERB_SIGNAL || v == VERB_OFFLINE || v == VERB_ONLINE ||
           v == VERB_PICK || v == VERB_STALL || v == VERB_SWAP;
}

int schedule_version_for(enum kernel_policy policy, const struct sched_event *events, size_t n)
{
    /* Only pct and a script with picks make picks; only a script stalls or swaps. */
    int version = policy == POLICY_PCT ? 2 : 1;
    for (size_t i = 0; policy == POLICY_SCRIPT && i < n; i++) {
        if (events[i].verb == VERB_STALL || events[i].verb == VERB_SWAP)
            return 3;
        if (events[i].verb == VERB_PICK)
            version = 2;
    }
    return version;
}

/* ---- the parser's cursor over one line ---- */

struct parser {
    struct schedule *s;
    uint32_t line;
    char *p; /* in the current line, a writable copy */
    char *err;
    size_t errlen;
    size_t cap_events;
    uint32_t seen; /* header keys given, bit per key */
    uint32_t offline_line;
};

__attribute__((format(printf, 2, 3))) static bool fail(struct parser *ps, const char *fmt, ...)
{
    int n = snprintf(ps->err, ps->errlen, "line %u: ", ps->line);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < ps->errlen)
        vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return false;
}

static void skip_blanks(struct parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t')
        ps->p++;
}

static bool at_end(struct parser *ps)
{
    skip_blanks(ps);
    return *ps->p == '\0';
}

/* A bare word: up to a blank; empty at the end of the line. */
static const char *word(struct parser *ps)
{
    skip_blanks(ps);
    char *start = ps->p;
    while (*ps->p && *ps->p != ' ' && *ps->p != '\t')
        ps->p++;
    if (*ps->p)
        *ps->p++ = '\0';
    return start;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A double-quoted string with C escapes (\" \\ \n \t \xHH); decoded in place. */
static bool quoted(struct parser *ps, char **out)
{
    skip_blanks(ps);
    if (*ps->p != '"')
        return fail(ps, "expected a double-quoted string at '%.20s'", ps->p);
    char *src = ++ps->p, *dst = src;
    *out = dst;
    for (;;) {
        char c = *src++;
        if (c == '\0')
            return fail(ps, "unterminated string");
        if (c == '"')
            break;
        if (c == '\\') {
            c = *src++;
            if (c == 'n') {
                c = '\n';
            } else if (c == 't') {
                c = '\t';
            } else if (c == 'x') {
                int hi = hex_digit(src[0]), lo = hi < 0 ? -1 : hex_digit(src[1]);
                if (lo < 0)
                    return fail(ps, "\\x needs two hex digits");
                c = (char)(hi * 16 + lo);
                src += 2;
            } else if (c != '"' && c != '\\') {
                return fail(ps, "unknown escape '\\%c' in a string", c ? c : '0');
            }
            if (c == '\0')
                return fail(ps, "a string may not hold a NUL byte");
        }
        *dst++ = c;
    }
    *dst = '\0';
    ps->p = src;
    return true;
}

static bool number(struct parser *ps, const char *what, const char *text, uint64_t lo, uint64_t hi,
                   uint64_t *out)
{
    if (*text < '0' || *text > '9')
        return fail(ps, "%s: expected a number, not '%s'", what, text);
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (*end || errno == ERANGE)
        return fail(ps, "%s: '%s' is not a number", what, text);
    if (v < lo || v > hi)
        return fail(ps, "%s: %llu is out of range (%llu to %llu)", what, v, (unsigned long long)lo,
                    (unsigned long long)hi);
    *out = v;
    return true;
}

/* text's index in the NULL-terminated list allowed. */
static bool one_of(struct parser *ps, const char *what, const char *text,
                   const char *const *allowed, int *out)
{
    *out = kernel_word_parse(allowed, text);
    if (*out >= 0)
        return true;
    char list[128] = "";
    for (size_t i = 0; allowed[i]; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
                 allowed[i]);
    return fail(ps, "%s must be one of %s, not '%s'", what, list, text);
}

/* What a version 1 file may not say. */
static bool since_version_2(struct parser *ps, const char *what)
{
    return ps->s->version >= 2 || fail(ps, "%s needs 'rseqemu-schedule 2'", what);
}

static bool since_version_3(struct parser *ps, const char *what)
{
    return ps->s->version >= 3 || fail(ps, "%s needs 'rseqemu-schedule 3'", what);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Appends s to a NULL-terminated array. */
static bool push_str(struct parser *ps, char ***arr, const char *s)
{
    size_t n = 0;
    while (*arr && (*arr)[n])
        n++;
    if (n + 1 >= STRINGS_MAX)
        return fail(ps, "more than %d strings", STRINGS_MAX - 1);
    char **grown = realloc(*arr, (n + 2) * sizeof(char *));
    if (!grown)
        return fail(ps, "out of memory");
    *arr = grown;
    grown[n] = dup_str(s);
    grown[n + 1] = NULL;
    return grown[n] != NULL || fail(ps, "out of memory");
}

/* ---- header ---- */

enum key {
    KEY_PROGRAM,
    KEY_HASH,
    KEY_ARCH,
    KEY_ARGV,
    KEY_ENV,
    KEY_CPUS,
    KEY_NODES,
    KEY_KERNEL,
    KEY_SEED,
    KEY_MAX_INSNS,
    KEY_CS_SPAN,
    KEY_RSEQ_DEBUG,
    KEY_CPU_OPV_NR,
    KEY_POLICY,
    KEY_FILL,
    KEY_OFFLINE,
    KEY_PCT_DEPTH,
    KEY_PCT_STEPS,
    KEY_MAX_MEM,
    KEY_COUNT
};
static const char *const key_names[KEY_COUNT] = {
    [KEY_PROGRAM] = "program",
    [KEY_HASH] = "program-hash",
    [KEY_ARCH] = "arch",
    [KEY_ARGV] = "argv",
    [KEY_ENV] = "env",
    [KEY_CPUS] = "cpus",
    [KEY_NODES] = "nodes",
    [KEY_KERNEL] = "kernel",
    [KEY_SEED] = "seed",
    [KEY_MAX_INSNS] = "max-insns",
    [KEY_CS_SPAN] = "cs-inject-span",
    [KEY_RSEQ_DEBUG] = "rseq-debug",
    [KEY_CPU_OPV_NR] = "cpu-opv-nr",
    [KEY_POLICY] = "policy",
    [KEY_FILL] = "fill",
    [KEY_OFFLINE] = "offline",
    [KEY_PCT_DEPTH] = "pct-depth",
    [KEY_PCT_STEPS] = "pct-steps",
    [KEY_MAX_MEM] = "max-mem",
};

static bool header_line(struct parser *ps, const char *key)
{
    struct schedule *s = ps->s;
    int k = -1;
    for (int i = 0; i < KEY_COUNT; i++)
        if (!strcmp(key, key_names[i]))
            k = i;
    if (k < 0)
        return fail(ps, "unknown header line '%s' (or an event before the 'events' line)", key);
    if (k != KEY_ENV && (ps->seen & (1u << k)))
        return fail(ps, "'%s' is given twice", key);
    ps->seen |= 1u << k;
    uint64_t v;
    char *str;
    static const char *const arches[] = {"x86_64", "aarch64", NULL};
    static const char *const fills[] = {
        [FILL_NONE] = "none", [FILL_ROUND_ROBIN] = "round-robin", NULL};
    int word_index;
    switch ((enum key)k) {
    case KEY_PROGRAM:
        if (!quoted(ps, &str))
            return false;
        if (!*str)
            return fail(ps, "program: empty path");
        s->program = dup_str(str);
        break;
    case KEY_HASH: {
        const char *h = word(ps);
        if (strlen(h) != 16)
            return fail(ps, "program-hash: expected 16 hex digits, not '%s'", h);
        uint64_t x = 0;
        for (int i = 0; i < 16; i++) {
            int d = hex_digit(h[i]);
            if (d < 0)
                return fail(ps, "program-hash: expected 16 hex digits, not '%s'", h);
            x = x << 4 | (uint64_t)d;
        }
        s->has_hash = true;
        s->program_hash = x;
        break;
    }
    case KEY_ARCH:
        if (!one_of(ps, "arch", word(ps), arches, &word_index))
            return false;
        snprintf(s->arch, sizeof(s->arch), "%s", arches[word_index]);
        break;
    case KEY_ARGV:
        while (!at_end(ps)) {
            if (!quoted(ps, &str) || !push_str(ps, &s->argv, str))
                return false;
        }
        if (!s->argv)
            return fail(ps, "argv: at least the program's name");
        return true;
    case KEY_ENV:
        if (!quoted(ps, &str))
            return false;
        if (!strchr(str, '='))
            return fail(ps, "env: expected \"NAME=VALUE\", not \"%s\"", str);
        if (!push_str(ps, &s->envp, str))
            return false;
        break;
    case KEY_CPUS:
        if (!number(ps, "cpus", word(ps), 1, KERNEL_CPUS_MAX, &v))
            return false;
        s->cpus = (int)v;
        break;
    case KEY_NODES:
        if (!number(ps, "nodes", word(ps), 1, KERNEL_CPUS_MAX, &v))
            return false;
        s->nodes = (int)v;
        break;
    case KEY_KERNEL:
        if (!one_of(ps, "kernel", word(ps), kernel_profile_names, &word_index))
            return false;
        s->kernel = (enum kernel_profile)word_index;
        break;
    case KEY_SEED:
        if (!number(ps, "seed", word(ps), 0, UINT64_MAX, &s->seed))
            return false;
        break;
    case KEY_MAX_INSNS:
        if (!number(ps, "max-insns", word(ps), 0, UINT64_MAX, &s->max_insns))
            return false;
        break;
    case KEY_MAX_MEM:
        if (!number(ps, "max-mem", word(ps), 0, UINT64_MAX, &s->max_mem))
            return false;
        break;
    case KEY_CS_SPAN:
        if (!number(ps, "cs-inject-span", word(ps), 0, UINT32_MAX, &v))
            return false;
        s->cs_inject_span = (uint32_t)v;
        break;
    case KEY_RSEQ_DEBUG:
        if (!one_of(ps, "rseq-debug", word(ps), kernel_rseq_debug_names, &word_index))
            return false;
        s->rseq_debug = (enum kernel_rseq_debug)word_index;
        break;
    case KEY_CPU_OPV_NR: {
        const char *w = word(ps);
        if ((s->cpu_opv_nr = kernel_cpu_opv_nr_parse(w)) < 0)
            return fail(ps, "cpu-opv-nr: expected a number (0 to %d) or off, not '%s'", INT32_MAX,
                        w);
        break;
    }
    case KEY_POLICY:
        if (!one_of(ps, "policy", word(ps), kernel_policy_names, &word_index))
            return false;
        s->policy = (enum kernel_policy)word_index;
        if (s->policy == POLICY_PCT && !since_version_2(ps, "policy pct"))
            return false;
        break;
    case KEY_FILL:
        if (!one_of(ps, "fill", word(ps), fills, &word_index))
            return false;
        s->fill = (enum sched_fill)word_index;
        break;
    case KEY_OFFLINE: {
        char why[96];
        const char *list = word(ps);
        if (cpulist_parse(list, KERNEL_CPUS_MAX, &s->offline, why, sizeof(why)) != 0)
            return fail(ps, "offline: %s", why);
        if (s->offline & 1)
            return fail(ps, "offline: CPU 0 cannot be taken offline");
        ps->offline_line = ps->line; /* checked against cpus once the header is read */
        break;
    }
    case KEY_PCT_DEPTH:
        if (!since_version_2(ps, key) || !number(ps, key, word(ps), 1, KERNEL_PCT_DEPTH_MAX, &v))
            return false;
        s->pct_depth = (uint32_t)v;
        break;
    case KEY_PCT_STEPS:
        if (!since_version_2(ps, key) || !number(ps, key, word(ps), 1, UINT64_MAX, &s->pct_steps))
            return false;
        break;
    case KEY_COUNT:
        break;
    }
    if (!at_end(ps))
        return fail(ps, "unexpected '%s' after %s", ps->p, key);
    return true;
}

/* ---- events ---- */

static bool event_line(struct parser *ps, const char *pos)
{
    struct schedule *s = ps->s;
    const char *colon = strchr(pos, ':');
    if (!colon)
        return fail(ps, "expected an event 'TID:INSNS VERB [ARG]', not '%s'", pos);
    char tid_text[32];
    size_t tlen = (size_t)(colon - pos);
    if (tlen == 0 || tlen >= sizeof(tid_text))
        return fail(ps, "bad thread id in '%s'", pos);
    memcpy(tid_text, pos, tlen);
    tid_text[tlen] = '\0';
    uint64_t tid, at;
    if (!number(ps, "thread id", tid_text, 1, INT32_MAX, &tid) ||
        !number(ps, "instruction count", colon + 1, 0, UINT64_MAX, &at))
        return false;
    const char *verb = word(ps);
    int v = -1;
    for (int i = 0; i < VERB_COUNT; i++)
        if (!strcmp(verb, verb_names[i]))
            v = i;
    if (v < 0)
        return fail(ps,
                    "unknown event '%s' (preempt, migrate CPU, signal SIG, tick, notify, "
                    "interrupt, switch, expire, ipi, offline CPU, online CPU, pick TID, "
                    "stall INSNS, swap CPU)",
                    verb);
    if (v == VERB_PICK && !since_version_2(ps, "pick"))
        return false;
    if ((v == VERB_STALL || v == VERB_SWAP) && !since_version_3(ps, verb))
        return false;
    int32_t arg = 0;
    if (v == VERB_MIGRATE || v == VERB_SWAP) {
        uint64_t cpu;
        if (!number(ps, verb, word(ps), 0, (uint64_t)s->cpus - 1, &cpu))
            return false;
        arg = (int32_t)cpu;
    } else if (v == VERB_OFFLINE || v == VERB_ONLINE) {
        /* A CPU the run does not have is refused when the event comes (a run's --cpus, not
         * the file's, may be the one that counts). */
        uint64_t cpu;
        if (!number(ps, verb, word(ps), 0, KERNEL_CPUS_MAX - 1, &cpu))
            return false;
        arg = (int32_t)cpu;
    } else if (v == VERB_SIGNAL) {
        const char *sig = word(ps);
        arg = signal_parse(sig);
        if (arg < 0)
            return fail(ps, "signal: '%s' is not a signal name or number", sig);
    } else if (v == VERB_STALL) {
        uint64_t insns;
        if (!number(ps, "stall", word(ps), 1, SCHED_STALL_INSNS_MAX, &insns))
            return false;
        arg = (int32_t)insns;
    } else if (v == VERB_PICK) {
        uint64_t next;
        if (!number(ps, "pick", word(ps), 1, INT32_MAX, &next))
            return false;
        arg = (int32_t)next;
    }
    if (!at_end(ps))
        return fail(ps, "unexpected '%s' after the event", ps->p);
    if (s->nevents == ps->cap_events) {
        size_t cap = ps->cap_events ? 2 * ps->cap_events : 256;
        struct sched_event *grown = realloc(s->events, cap * sizeof(*grown));
        if (!grown)
            return fail(ps, "out of memory");
        s->events = grown;
        ps->cap_events = cap;
    }
    s->events[s->nevents++] = (struct sched_event){
        .tid = (int)tid, .at = at, .verb = (uint8_t)v, .arg = arg, .line = ps->line};
    return true;
}

static int event_order(const void *a, const void *b)
{
    const struct sched_event *x = a, *y = b;
    if (x->tid != y->tid)
        return x->tid < y->tid ? -1 : 1;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* Cuts a comment ('#' outside a string) and trailing blanks. */
static void strip_comment(char *line)
{
    bool in_string = false;
    for (char *c = line; *c; c++) {
        if (in_string && *c == '\\' && c[1]) {
            c++;
        } else if (*c == '"') {
            in_string = !in_string;
        } else if (*c == '#' && !in_string) {
            *c = '\0';
            break;
        }
    }
    size_t n = strlen(line);
    while (n && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
        line[--n] = '\0';
}

struct schedule *schedule_parse(const char *text, size_t len, char *err, size_t errlen)
{
    struct schedule *s = calloc(1, sizeof(*s));
    char *line = malloc(LINE_MAX_LEN + 1);
    if (!s || !line || !(s->envp = calloc(1, sizeof(char *)))) {
        snprintf(err, errlen, "out of memory");
        free(line);
        schedule_free(s);
        return NULL;
    }
    /* What the file leaves out is what `rseqemu run` leaves out. */
    struct kernel_config d;
    kernel_config_defaults(&d);
    s->cpus = d.ncpus;
    s->nodes = d.nodes;
    s->seed = d.seed;
    s->cs_inject_span = d.cs_inject_span;
    s->fill = FILL_ROUND_ROBIN;
    s->kernel = d.profile;
    s->rseq_debug = d.rseq_debug;
    s->cpu_opv_nr = d.cpu_opv_nr;
    s->policy = POLICY_SCRIPT;
    s->pct_depth = d.pct_depth;
    s->pct_steps = d.pct_steps;
    struct parser ps = {.s = s, .err = err, .errlen = errlen};
    bool ok = true, in_events = false;
    size_t pos = 0;
    while (ok && pos < len) {
        ps.line++;
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        if (n > LINE_MAX_LEN) {
            ok = fail(&ps, "longer than %d bytes", LINE_MAX_LEN);
            break;
        }
        if (memchr(text + pos, '\0', n)) {
            ok = fail(&ps, "holds a NUL byte (not a text file?)");
            break;
        }
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos += n + (nl ? 1 : 0);
        strip_comment(line);
        ps.p = line;
        if (at_end(&ps))
            continue;
        const char *first = word(&ps);
        if (!s->version) {
            uint64_t v = 0;
            if (strcmp(first, "rseqemu-schedule"))
                ok = fail(&ps, "expected 'rseqemu-schedule VERSION' first, not '%s'", first);
            else if (!number(&ps, "version", word(&ps), 1, UINT32_MAX, &v))
                ok = false;
            else if (v > SCHEDULE_VERSION)
                ok = fail(&ps, "format version %llu; this rseqemu reads versions 1 to %d",
                          (unsigned long long)v, SCHEDULE_VERSION);
            else if (!at_end(&ps))
                ok = fail(&ps, "unexpected '%s' after the version", ps.p);
            else
                s->version = (int)v;
            continue;
        }
        if (!in_events && !strcmp(first, "events")) {
            in_events = at_end(&ps) || fail(&ps, "unexpected text after 'events'");
            ok = in_events;
            continue;
        }
        ok = in_events ? event_line(&ps, first) : header_line(&ps, first);
    }
    if (ok && !s->version) {
        ps.line = 1;
        ok = fail(&ps, "empty file: expected 'rseqemu-schedule VERSION'");
    }
    if (ok && s->cpus < 64 && (s->offline >> s->cpus)) {
        ps.line = ps.offline_line;
        ok = fail(&ps, "offline: CPU %d is not below cpus (%d)", 63 - __builtin_clzll(s->offline),
                  s->cpus);
    }
    if (ok && s->nodes > s->cpus) {
        ps.line = 0;
        snprintf(err, errlen, "nodes (%d) is more than cpus (%d)", s->nodes, s->cpus);
        ok = false;
    }
    free(line);
    if (!ok) {
        schedule_free(s);
        return NULL;
    }
    if (s->nevents) /* qsort may not be given the NULL of an empty array */
        qsort(s->events, s->nevents, sizeof(*s->events), event_order);
    return s;
}

struct schedule *schedule_load(const char *path, bool *unreadable, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    *unreadable = f == NULL;
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len < cap)
            continue;
        char *grown = realloc(buf, cap * 2);
        if (!grown)
            free(buf);
        buf = grown;
        cap *= 2;
    }
    bool bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        *unreadable = bad;
        snprintf(err, errlen, "%s: %s", path, buf ? "read error" : "out of memory");
        free(buf);
        return NULL;
    }
    char why[512];
    why[0] = '\0';
    struct schedule *s = schedule_parse(buf, len, why, sizeof(why));
    free(buf);
    if (!s)
        snprintf(err, errlen, "%s: %s", path, why);
    return s;
}

static void free_strs(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

void schedule_free(struct schedule *s)
{
    if (!s)
        return;
    free(s->program);
    free_strs(s->argv);
    free_strs(s->envp);
    free(s->events);
    free(s);
}

/* ---- writing ---- */

static void write_quoted(FILE *out, const char *str)
{
    fputc('"', out);
    for (const unsigned char *c = (const unsigned char *)str; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(out, "\\%c", *c);
        else if (*c == '\n')
            fputs("\\n", out);
        else if (*c == '\t')
            fputs("\\t", out);
        else if (*c < 0x20 || *c == 0x7f)
            fprintf(out, "\\x%02x", *c);
        else
            fputc(*c, out);
    }
    fputc('"', out);
}

void schedule_write_header(FILE *out, const struct schedule *s)
{
    fprintf(out, "rseqemu-schedule %d\n", s->version ? s->version : 1);
    fputs("# Written by rseqemu; `rseqemu replay FILE` runs it again. Events are\n"
          "# TID:INSNS VERB [ARG]: when thread TID has retired INSNS instructions.\n",
          out);
    if (s->program) {
        fputs("program ", out);
        write_quoted(out, s->program);
        fputc('\n', out);
    }
    if (s->has_hash)
        fprintf(out, "program-hash %016llx\n", (unsigned long long)s->program_hash);
    if (s->arch[0])
        fprintf(out, "arch %s\n", s->arch);
    if (s->argv) {
        fputs("argv", out);
        for (size_t i = 0; s->argv[i]; i++) {
            fputc(' ', out);
            write_quoted(out, s->argv[i]);
        }
        fputc('\n', out);
    }
    for (size_t i = 0; s->envp && s->envp[i]; i++) {
        fputs("env ", out);
        write_quoted(out, s->envp[i]);
        fputc('\n', out);
    }
    fprintf(out, "cpus %d\n", s->cpus);
    if (s->offline) {
        char list[256];
        cpulist_format(s->offline, list, sizeof(list));
        fprintf(out, "offline %s\n", list);
    }
    fprintf(out, "nodes %d\nkernel %s\nseed %llu\nmax-insns %llu\n", s->nodes,
            kernel_profile_names[s->kernel], (unsigned long long)s->seed,
            (unsigned long long)s->max_insns);
    if (s->max_mem)
        fprintf(out, "max-mem %llu\n", (unsigned long long)s->max_mem);
    fprintf(out, "cs-inject-span %u\nrseq-debug %s\n", s->cs_inject_span,
            kernel_rseq_debug_names[s->rseq_debug]);
    if (s->cpu_opv_nr)
        fprintf(out, "cpu-opv-nr %d\n", s->cpu_opv_nr);
    else
        fputs("cpu-opv-nr off\n", out);
    fprintf(out, "policy %s\n", kernel_policy_names[s->policy]);
    if (s->policy == POLICY_PCT)
        fprintf(out, "pct-depth %u\npct-steps %llu\n", s->pct_depth,
                (unsigned long long)s->pct_steps);
    fprintf(out, "fill %s\nevents\n", s->fill == FILL_NONE ? "none" : "round-robin");
}

void schedule_write_event(FILE *out, int tid, uint64_t at, enum sched_verb verb, int arg)
{
    if (sched_verb_has_arg(verb))
        fprintf(out, "%d:%llu %s %d\n", tid, (unsigned long long)at, sched_verb_name(verb), arg);
    else
        fprintf(out, "%d:%llu %s\n", tid, (unsigned long long)at, sched_verb_name(verb));
}
