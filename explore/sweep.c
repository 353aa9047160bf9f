/* The sweep: a base run that notes every critical-section entry and cpu_opv/membarrier call,
 * then, for a few entries of each, a snapshot just before the window, a trace of the thread
 * through the window, and one run per (boundary, event) restored from that snapshot.
 *
 * Every run is a script run (POLICY_SCRIPT, round-robin between events) whose only events are
 * the injected ones, so the schedule file of a failure is those events under the base run's
 * header, and replaying it from the start is the same run: the sweep checks that for every
 * failure it reports. Workers (-j) are forks of the machine at the snapshot; they run disjoint
 * schedules and hand back verdicts, which the parent merges in schedule order. */
#include "sweep.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arch/lx.h"
#include "emu/emu.h"
#include "emu/loader.h"
#include "sweep_internal.h"

const char *const sweep_event_names[SWEEP_EVENT_COUNT] = {
    [SWEEP_PREEMPT] = "preempt",
    [SWEEP_MIGRATE] = "migrate",
    [SWEEP_SIGNAL] = "signal",
    [SWEEP_STALL] = "stall",
};

#define ENTRIES_KEPT   1024 /* per site, thinned evenly as the run goes on */
#define RING           8    /* a thread's last slice starts */
#define TRACE_MAX      512  /* instructions traced past a section's entry */
#define PCS_VISITS_MAX 2    /* a loop's instruction is swept on its first visits only */
#define PICKS_MAX      3
#define SWAPS_MAX      3
#define THREADS_MAX    1024

/* How long the migrated thread waits before the two threads interleave: phases of the race,
 * finely inside a section, coarsely before it. */
static const uint32_t swap_phases[] = {0, 3, 10, 30, 1, 2, 4, 5, 6, 8, 13, 16, 20, 25, 40};
#define NPHASES        (sizeof(swap_phases) / sizeof(swap_phases[0]))
#define NPHASES_BEFORE 4

struct ring {
    int tid;
    unsigned n;
    struct {
        uint64_t pos, iter;
    } v[RING];
};

struct plan {
    uint32_t row; /* the boundary's row in its site */
    enum sweep_event event;
    struct sched_event ev[3];
    size_t nev;
};

struct verdict {
    uint8_t cell; /* enum cell; CELL_NA: the event could not happen there */
    struct kernel_result r;
    char outcome[64];
    char message[256];
};

struct sweep {
    const struct sweep_config *cfg;
    struct kernel *k;
    struct sweep_results res;
    int out_fd;
    FILE *diag;
    int membarrier_nr, cpu_opv_nr;
    struct ring rings[THREADS_MAX];
    size_t nrings;
    struct kernel_findings base_findings;
    struct kernel_config kc; /* the machine of every run */
    uint64_t max_insns;      /* per schedule, as the machine's total */
    uint64_t program_hash;
    /* the entry being swept */
    uint64_t trace_from, trace_to;
    uint64_t *trace_pcs;
    size_t trace_n;
    /* output lengths at the snapshot */
    off_t out_len, diag_len;
    /* progress */
    struct timespec t0;
    uint64_t planned;
};

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "rseqemu: out of memory\n");
        exit(70);
    }
    return p;
}

static void *xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (!q) {
        fprintf(stderr, "rseqemu: out of memory\n");
        exit(70);
    }
    return q;
}

/* ---- the base run ---- */

static struct ring *ring_of(struct sweep *s, int tid)
{
    for (size_t i = s->nrings; i-- > 0;)
        if (s->rings[i].tid == tid)
            return &s->rings[i];
    if (s->nrings == THREADS_MAX)
        return NULL;
    struct ring *r = &s->rings[s->nrings++];
    *r = (struct ring){.tid = tid};
    return r;
}

static void on_slice(void *ctx, int tid, uint64_t pos, uint64_t iter)
{
    struct ring *r = ring_of(ctx, tid);
    if (!r)
        return;
    r->v[r->n % RING].pos = pos;
    r->v[r->n % RING].iter = iter;
    r->n++;
}

static struct site *site_of(struct sweep *s, enum site_kind kind, uint64_t start, uint64_t end,
                            const char *name)
{
    for (size_t i = 0; i < s->res.nsites; i++)
        if (s->res.sites[i].kind == kind && s->res.sites[i].start == start)
            return &s->res.sites[i];
    s->res.sites = xrealloc(s->res.sites, (s->res.nsites + 1) * sizeof(struct site));
    struct site *st = &s->res.sites[s->res.nsites++];
    *st = (struct site){.kind = kind, .start = start, .end = end, .stride = 1};
    snprintf(st->name, sizeof(st->name), "%s", name);
    return st;
}

static bool others_live(struct sweep *s, int tid)
{
    struct kernel_thread_info th[8];
    size_t n = kernel_threads(s->k, th, 8);
    for (size_t i = 0; i < n; i++)
        if (th[i].tid != tid)
            return true;
    return false;
}

/* An entry of site at tid's position pos: kept if the thinning says so, with the iteration
 * from which the thread's window can be reached. */
static void note_entry(struct sweep *s, struct site *st, int tid, uint64_t pos)
{
    if (st->seen++ % st->stride != 0)
        return;
    if (!st->loc[0])
        kernel_location(s->k, tid, st->start, st->loc, sizeof(st->loc));
    const struct ring *r = ring_of(s, tid);
    if (!r || r->n == 0)
        return;
    uint64_t want = pos > s->cfg->window ? pos - s->cfg->window : 0;
    unsigned have = r->n < RING ? r->n : RING;
    uint64_t iter = r->v[(r->n - have) % RING].iter; /* the oldest, if none is early enough */
    for (unsigned i = 0; i < have; i++) {
        unsigned at = (r->n - 1 - i) % RING;
        if (r->v[at].pos <= want) {
            iter = r->v[at].iter;
            break;
        }
    }
    if (st->nentries == ENTRIES_KEPT) {
        for (size_t i = 0; i < ENTRIES_KEPT / 2; i++)
            st->entries[i] = st->entries[2 * i];
        st->nentries = ENTRIES_KEPT / 2;
        st->stride *= 2;
    }
    if (st->nentries == st->cap_entries) {
        st->cap_entries = st->cap_entries ? 2 * st->cap_entries : 64;
        st->entries = xrealloc(st->entries, st->cap_entries * sizeof(*st->entries));
    }
    st->entries[st->nentries++] =
        (struct site_entry){.tid = tid, .pos = pos, .iter = iter, .others = others_live(s, tid)};
}

static void on_cs_entry(void *ctx, int tid, uint64_t pos, uint64_t start, uint64_t end)
{
    struct sweep *s = ctx;
    note_entry(s, site_of(s, SITE_CS, start, end, ""), tid, pos);
}

static void on_syscall(void *ctx, int tid, uint64_t pos, uint64_t nr)
{
    struct sweep *s = ctx;
    const char *name = (int64_t)nr == s->membarrier_nr                     ? "membarrier"
                       : s->cpu_opv_nr > 0 && (int64_t)nr == s->cpu_opv_nr ? "cpu_opv"
                                                                           : NULL;
    if (!name || pos == 0)
        return;
    uint64_t ip = kernel_thread_ip(s->k, tid);
    note_entry(s, site_of(s, SITE_SYSCALL, ip, ip, name), tid, pos - 1);
}

/* ---- output of the runs ---- */

static off_t fd_size(int fd)
{
    struct stat sb;
    return fstat(fd, &sb) == 0 ? sb.st_size : 0;
}

static void outputs_mark(struct sweep *s)
{
    fflush(s->diag);
    s->out_len = fd_size(s->out_fd);
    s->diag_len = fd_size(fileno(s->diag));
}

static void outputs_reset(struct sweep *s)
{
    fflush(s->diag);
    if (ftruncate(s->out_fd, s->out_len) != 0 || ftruncate(fileno(s->diag), s->diag_len) != 0)
        return;
    lseek(s->out_fd, s->out_len, SEEK_SET);
    fseeko(s->diag, s->diag_len, SEEK_SET);
}

/* The last line fd holds past `from`, without its newline. */
static void last_line(int fd, off_t from, char *buf, size_t len)
{
    buf[0] = '\0';
    off_t size = fd_size(fd);
    if (size <= from)
        return;
    off_t start = size - from > 4096 ? size - 4096 : from;
    char tmp[4097];
    ssize_t n = pread(fd, tmp, (size_t)(size - start), start);
    if (n <= 0)
        return;
    tmp[n] = '\0';
    while (n > 0 && (tmp[n - 1] == '\n' || tmp[n - 1] == ' '))
        tmp[--n] = '\0';
    char *line = strrchr(tmp, '\n');
    line = line ? line + 1 : tmp;
    str_copy(buf, len, line);
}

/* The first report line of the emulator past `from` ("rseqemu: ..."), if any. */
static void first_report(int fd, off_t from, char *buf, size_t len)
{
    buf[0] = '\0';
    char tmp[2048];
    ssize_t n = pread(fd, tmp, sizeof(tmp) - 1, from);
    if (n <= 0)
        return;
    tmp[n] = '\0';
    char *nl = strchr(tmp, '\n');
    if (nl)
        *nl = '\0';
    str_copy(buf, len, strncmp(tmp, "rseqemu: ", 9) ? tmp : tmp + 9);
}

/* ---- judging ---- */

static void judge(struct sweep *s, const struct kernel_result *r, struct verdict *v)
{
    memset(v, 0, sizeof(*v));
    v->r = *r;
    if (r->outcome == KERNEL_BAD_SCHEDULE) {
        v->cell = CELL_NA; /* the event cannot happen there (e.g. the thread to pick is away) */
        return;
    }
    struct kernel_findings f;
    kernel_findings(s->k, &f);
    bool reported = f.rseq_failures > s->base_findings.rseq_failures ||
                    f.syscalls_in_cs > s->base_findings.syscalls_in_cs ||
                    f.field_writes > s->base_findings.field_writes;
    const struct kernel_result *b = &s->res.base;
    bool same = r->outcome == b->outcome && r->status == b->status;
    v->cell = same && !reported ? CELL_PASS : CELL_FAIL;
    if (v->cell == CELL_PASS)
        return;
    fflush(s->diag);
    sweep_outcome_text(r, v->outcome, sizeof(v->outcome));
    char report[256];
    first_report(fileno(s->diag), s->diag_len, report, sizeof(report));
    last_line(s->out_fd, s->out_len, v->message, sizeof(v->message));
    if (reported || !v->message[0])
        snprintf(v->message, sizeof(v->message), "%s", report);
}

/* ---- one entry ---- */

static void on_step(void *ctx, int tid, uint64_t pos, uint64_t ip)
{
    struct sweep *s = ctx;
    (void)tid;
    if (pos < s->trace_from || pos >= s->trace_to)
        return;
    size_t i = (size_t)(pos - s->trace_from);
    if (i < s->trace_n && !s->trace_pcs[i])
        s->trace_pcs[i] = ip;
}

static int signal_for(uint64_t handled)
{
    static const int preferred[] = {LX_SIGUSR1, LX_SIGUSR2};
    for (size_t i = 0; i < sizeof(preferred) / sizeof(preferred[0]); i++)
        if (handled & (1ULL << (preferred[i] - 1)))
            return preferred[i];
    for (int sig = 34; sig <= 64; sig++) /* real-time signals, which only programs send */
        if (handled & (1ULL << (sig - 1)))
            return sig;
    return 0;
}

static uint32_t row_of(struct site *st, uint64_t pc, const char *loc, const char *role)
{
    for (size_t i = 0; i < st->nrows; i++)
        if (st->rows[i].pc == pc)
            return (uint32_t)i;
    if (st->nrows == st->cap_rows) {
        st->cap_rows = st->cap_rows ? 2 * st->cap_rows : 32;
        st->rows = xrealloc(st->rows, st->cap_rows * sizeof(*st->rows));
    }
    struct boundary *b = &st->rows[st->nrows];
    *b = (struct boundary){.pc = pc};
    snprintf(b->loc, sizeof(b->loc), "%s", loc);
    snprintf(b->role, sizeof(b->role), "%s", role);
    return (uint32_t)st->nrows++;
}

static const char *role_of(const struct site *st, uint64_t pc, uint64_t pos, uint64_t entry)
{
    if (st->kind == SITE_SYSCALL)
        return pos == entry ? "syscall" : "before";
    if (pos < entry)
        return "before";
    if (pc == st->start)
        return "start_ip";
    if (pc > st->start && pc < st->end)
        return "inside";
    if (pc == st->end)
        return "post_commit_ip";
    return "abort";
}

static void plan_add(struct plan **v, size_t *n, size_t *cap, const struct plan *p)
{
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 256;
        *v = xrealloc(*v, *cap * sizeof(**v));
    }
    (*v)[(*n)++] = *p;
}

static struct sched_event ev(int tid, uint64_t at, enum sched_verb verb, int arg, uint32_t line)
{
    return (struct sched_event){
        .tid = tid, .at = at, .verb = (uint8_t)verb, .arg = arg, .line = line};
}

/* The schedules of one entry: each boundary of its window, each event there. */
static size_t plan_entry(struct sweep *s, struct site *st, const struct site_entry *e,
                         struct plan **out)
{
    struct kernel_thread_info th[64];
    size_t nth = kernel_threads(s->k, th, 64);
    const struct kernel_thread_info *me = NULL;
    for (size_t i = 0; i < nth; i++)
        if (th[i].tid == e->tid)
            me = &th[i];
    if (!me)
        return 0;
    int picks[PICKS_MAX], npicks = 0;
    for (size_t i = 0; i < nth && npicks < PICKS_MAX; i++)
        if (th[i].tid != e->tid && th[i].state != KTHREAD_BLOCKED &&
            (th[i].affinity & (1ULL << me->cpu)))
            picks[npicks++] = th[i].tid;
    int swaps[SWAPS_MAX], nswaps = 0;
    uint64_t online = kernel_online_cpus(s->k);
    for (int c = 0; c < 64 && nswaps < SWAPS_MAX; c++)
        if (c != me->cpu && (online & me->affinity & (1ULL << c)))
            swaps[nswaps++] = c;
    int sig = signal_for(me->handled);

    struct plan *v = NULL;
    size_t n = 0, cap = 0;
    /* The window: going back from the entry, the instructions before it up to the first one
     * seen again (a loop's previous turn); then from the entry on until the thread leaves the
     * section, each instruction on its first PCS_VISITS_MAX visits. */
    size_t entry = (size_t)(e->pos - s->trace_from), first = entry;
    while (first > 0 && s->trace_pcs[first - 1]) {
        uint64_t pc = s->trace_pcs[first - 1];
        if (st->kind == SITE_CS && pc >= st->start && pc <= st->end)
            break; /* the section's previous run */
        bool again = false;
        for (size_t j = first; j <= entry && !again; j++)
            again = s->trace_pcs[j] == s->trace_pcs[first - 1];
        if (again)
            break;
        first--;
    }
    uint64_t visits_pc[TRACE_MAX + 64];
    size_t nvisits = 0;
    bool left = false;
    for (size_t i = first; i < s->trace_n && !left; i++) {
        uint64_t pc = s->trace_pcs[i], pos = s->trace_from + i;
        if (!pc)
            continue;
        if (st->kind == SITE_CS && pos > e->pos && (pc < st->start || pc >= st->end))
            left = true; /* post_commit_ip or the abort handler: the last boundary */
        if (st->kind == SITE_SYSCALL && pos >= e->pos)
            left = true;
        size_t seen = 0;
        for (size_t j = 0; j < nvisits; j++)
            seen += visits_pc[j] == pc;
        if (seen >= PCS_VISITS_MAX)
            continue;
        if (nvisits < sizeof(visits_pc) / sizeof(visits_pc[0]))
            visits_pc[nvisits++] = pc;
        char loc[256];
        if (!kernel_location(s->k, e->tid, pc, loc, sizeof(loc)))
            snprintf(loc, sizeof(loc), "0x%llx", (unsigned long long)pc);
        const char *role = role_of(st, pc, pos, e->pos);
        uint32_t row = row_of(st, pc, loc, role);
        size_t phases = strcmp(role, "before") ? NPHASES : NPHASES_BEFORE;
        struct plan p = {.row = row};
        p.event = SWEEP_PREEMPT;
        p.nev = 1;
        p.ev[0] = ev(e->tid, pos, VERB_PREEMPT, 0, 1);
        plan_add(&v, &n, &cap, &p);
        for (int j = 0; j < npicks; j++) {
            p.nev = 2;
            p.ev[1] = ev(e->tid, pos, VERB_PICK, picks[j], 2);
            plan_add(&v, &n, &cap, &p);
        }
        p.event = SWEEP_MIGRATE;
        for (int j = 0; j < nswaps; j++) {
            for (size_t ph = 0; ph < phases; ph++) {
                p.nev = swap_phases[ph] ? 2 : 1;
                p.ev[0] = ev(e->tid, pos, VERB_SWAP, swaps[j], 1);
                p.ev[1] = ev(e->tid, pos, VERB_STALL, (int)swap_phases[ph], 2);
                plan_add(&v, &n, &cap, &p);
            }
        }
        if (sig) {
            p.event = SWEEP_SIGNAL;
            p.nev = 1;
            p.ev[0] = ev(e->tid, pos, VERB_SIGNAL, sig, 1);
            plan_add(&v, &n, &cap, &p);
        }
        p.event = SWEEP_STALL;
        p.nev = 1;
        p.ev[0] = ev(e->tid, pos, VERB_STALL, (int)s->cfg->stall_insns, 1);
        plan_add(&v, &n, &cap, &p);
    }
    *out = v;
    return n;
}

static double seconds_since(const struct timespec *t0);

/* Restore figures for --stats: host time, which never reaches a run. */
static void timed_restore(struct sweep *s)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    kernel_snapshot_restore(s->k);
    double us = seconds_since(&t0) * 1e6;
    struct emu_snapshot_stats st;
    kernel_snapshot_stats(s->k, &st);
    struct sweep_restore_stats *r = &s->res.restore;
    r->count++;
    r->us += us;
    r->pages += st.last_pages;
    if (st.last_pages > r->pages_max)
        r->pages_max = st.last_pages;
    if (us > r->us_max)
        r->us_max = us;
    if (st.last_pages <= 64) {
        r->small++;
        r->small_us += us;
    }
    r->arena_bytes = st.arena_bytes;
}

static void run_one(struct sweep *s, const struct plan *p, struct verdict *v)
{
    timed_restore(s);
    outputs_reset(s);
    kernel_set_script(s->k, p->ev, p->nev);
    kernel_set_max_insns(s->k, s->max_insns);
    struct kernel_result r;
    kernel_run(s->k, &r);
    judge(s, &r, v);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static void progress(struct sweep *s, size_t entry, size_t nentries, bool final)
{
    if (!s->cfg->progress)
        return;
    double t = seconds_since(&s->t0);
    double rate = t > 0 ? (double)s->res.schedules / t : 0;
    fprintf(stderr, "\rsweep: entry %zu/%zu, %llu/%llu schedules, %zu failures, %.0f/s%s", entry,
            nentries, (unsigned long long)s->res.schedules, (unsigned long long)s->planned,
            s->res.nfailures, rate, final ? "\n" : "   ");
}

/* Runs plans[i] for i = w, w + jobs, ... into verdicts (a worker's share). */
static void run_share(struct sweep *s, const struct plan *plans, size_t n, size_t w, size_t jobs,
                      struct verdict *verdicts)
{
    for (size_t i = w; i < n; i += jobs)
        run_one(s, &plans[i], &verdicts[i]);
}

/* The verdicts of every plan, from this process and jobs-1 forks of it. */
static int run_plans(struct sweep *s, const struct plan *plans, size_t n, struct verdict *verdicts)
{
    size_t jobs = s->cfg->jobs > 1 ? (size_t)s->cfg->jobs : 1;
    if (jobs > n)
        jobs = n ? n : 1;
    if (jobs == 1) {
        run_share(s, plans, n, 0, 1, verdicts);
        return 0;
    }
    fflush(NULL);
    int fds[64];
    pid_t pids[64];
    if (jobs > 64)
        jobs = 64;
    for (size_t w = 1; w < jobs; w++) {
        fds[w] = memfd_create("sweep-worker", 0);
        pids[w] = fork();
        if (pids[w] == 0) {
            /* The guest's output and the diagnostics go to files of the worker's own. */
            int out = memfd_create("sweep-out", 0), diag = memfd_create("sweep-diag", 0);
            dup2(out, s->out_fd);
            dup2(diag, fileno(s->diag));
            run_share(s, plans, n, w, jobs, verdicts);
            for (size_t i = w; i < n; i += jobs)
                if (write(fds[w], &verdicts[i], sizeof(verdicts[i])) != sizeof(verdicts[i]))
                    _exit(70);
            _exit(0);
        }
        if (pids[w] < 0) {
            fprintf(stderr, "rseqemu: cannot start a worker: %s\n", strerror(errno));
            return -1;
        }
    }
    run_share(s, plans, n, 0, jobs, verdicts);
    int rc = 0;
    for (size_t w = 1; w < jobs; w++) {
        int status = 0;
        waitpid(pids[w], &status, 0);
        lseek(fds[w], 0, SEEK_SET);
        for (size_t i = w; i < n; i += jobs)
            if (read(fds[w], &verdicts[i], sizeof(verdicts[i])) != sizeof(verdicts[i]))
                rc = -1;
        close(fds[w]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            rc = -1;
    }
    if (rc)
        fprintf(stderr, "rseqemu: internal error: a sweep worker failed\n");
    return rc;
}

/* Replays a failure's events from the start, on a machine of its own: the schedule file must
 * give the same run. */
static bool replay_matches(struct sweep *s, const struct failure *f)
{
    struct kernel_config cfg = s->kc;
    cfg.policy = POLICY_SCRIPT;
    cfg.script_fill = FILL_ROUND_ROBIN;
    cfg.script = f->events;
    cfg.nscript = f->nevents;
    cfg.max_insns = s->max_insns;
    int out = memfd_create("sweep-replay", 0);
    FILE *diag = fdopen(memfd_create("sweep-replay-diag", 0), "w");
    cfg.stdout_fd = cfg.stderr_fd = out;
    cfg.diag = diag;
    char err[256];
    bool same = false;
    struct kernel *k = kernel_create(&cfg, err, sizeof(err));
    if (k &&
        kernel_spawn(k, s->cfg->img, (const char *const *)s->cfg->argv, err, sizeof(err)) == 0) {
        struct kernel_result r;
        kernel_run(k, &r);
        same = r.digest == f->digest;
    }
    kernel_destroy(k);
    fclose(diag);
    close(out);
    return same;
}

static struct failure *add_failure(struct sweep *s)
{
    if (s->res.nfailures == s->res.cap_failures) {
        s->res.cap_failures = s->res.cap_failures ? 2 * s->res.cap_failures : 16;
        s->res.failures = xrealloc(s->res.failures, s->res.cap_failures * sizeof(*s->res.failures));
    }
    return &s->res.failures[s->res.nfailures++];
}

static void failure_found(struct sweep *s, struct site *st, const struct plan *p,
                          const struct verdict *v)
{
    uint32_t site = (uint32_t)(st - s->res.sites);
    uint64_t pc = st->rows[p->row].pc;
    for (size_t i = 0; i < s->res.nfailures; i++) {
        const struct failure *f = &s->res.failures[i];
        if (f->site == site && f->pc == pc && f->event == p->event &&
            !strcmp(f->outcome, v->outcome))
            return; /* the same failure again: the first one found stands */
    }
    struct failure *f = add_failure(s);
    *f = (struct failure){.site = site,
                          .row = p->row,
                          .pc = pc,
                          .event = p->event,
                          .nevents = p->nev,
                          .digest = v->r.digest};
    memcpy(f->events, p->ev, sizeof(p->ev));
    snprintf(f->outcome, sizeof(f->outcome), "%s", v->outcome);
    snprintf(f->message, sizeof(f->message), "%s", v->message);
    const struct boundary *b = &st->rows[p->row];
    char where[160];
    sweep_loc_symbol(b->loc, pc, where, sizeof(where));
    char how[96] = "";
    const struct sched_event *e0 = &p->ev[0];
    if (p->event == SWEEP_PREEMPT) {
        if (p->nev > 1)
            snprintf(how, sizeof(how), ", thread %d ran", p->ev[1].arg);
    } else if (p->event == SWEEP_MIGRATE)
        snprintf(how, sizeof(how), " to CPU %d%s", e0->arg, p->nev > 1 ? " (phase" : "");
    else if (p->event == SWEEP_SIGNAL)
        snprintf(how, sizeof(how), " %d", e0->arg);
    else
        snprintf(how, sizeof(how), " %d instructions", e0->arg);
    if (p->event == SWEEP_MIGRATE && p->nev > 1)
        snprintf(how + strlen(how), sizeof(how) - strlen(how), " %d)", p->ev[1].arg);
    snprintf(f->summary, sizeof(f->summary), "%s (%s) %s%s, thread %d at %llu: %s '%s'", where,
             b->role, sweep_event_names[p->event], how, e0->tid, (unsigned long long)e0->at,
             f->outcome, f->message);
    if (sweep_write_failure(&s->res, f, s->max_insns, s->program_hash) != 0)
        f->file[0] = '\0';
    if (!replay_matches(s, f)) {
        s->res.replay_mismatch = true;
        fprintf(stderr, "rseqemu: internal error: replaying %s does not give the sweep's run\n",
                f->file[0] ? f->file : "a failure");
    }
    if (s->cfg->progress)
        fputc('\n', stderr);
    fprintf(s->cfg->out, "FAIL %s\n     %s\n", f->summary, f->file);
    fflush(s->cfg->out);
}

/* Sweeps one entry from the snapshot just taken before its window. */
static void sweep_entry(struct sweep *s, struct site *st, const struct site_entry *e,
                        uint64_t max_plans, size_t index, size_t nentries)
{
    kernel_snapshot_restore(s->k);
    outputs_reset(s);
    s->trace_from = e->pos > s->cfg->window ? e->pos - s->cfg->window : 0;
    s->trace_to = e->pos + TRACE_MAX;
    s->trace_n = (size_t)(s->trace_to - s->trace_from);
    s->trace_pcs = xcalloc(s->trace_n, sizeof(uint64_t));
    struct kernel_observer obs = {.ctx = s,
                                  .step = on_step,
                                  .step_tid = e->tid,
                                  .step_from = s->trace_from,
                                  .step_to = s->trace_to};
    kernel_set_observer(s->k, &obs);
    kernel_set_max_insns(s->k, s->max_insns);
    struct kernel_result r;
    kernel_run(s->k, &r);
    kernel_set_observer(s->k, NULL);
    kernel_snapshot_restore(s->k);
    outputs_reset(s);

    struct plan *plans = NULL;
    size_t n = plan_entry(s, st, e, &plans);
    /* --max-schedules: an even subset, the same on every run. */
    if (max_plans && n > max_plans) {
        for (size_t i = 0; i < max_plans; i++)
            plans[i] = plans[i * n / max_plans];
        n = (size_t)max_plans;
    }
    s->planned += n;
    st->swept++;
    struct verdict *verdicts = xcalloc(n, sizeof(*verdicts));
    if (s->cfg->jobs > 1) {
        run_plans(s, plans, n, verdicts);
    }
    for (size_t i = 0; i < n; i++) {
        if (s->cfg->jobs <= 1)
            run_one(s, &plans[i], &verdicts[i]);
        const struct verdict *v = &verdicts[i];
        uint8_t *cell = &st->rows[plans[i].row].cell[plans[i].event];
        if (v->cell > *cell)
            *cell = v->cell;
        s->res.schedules++;
        if (v->cell == CELL_PASS)
            s->res.passed++;
        else if (v->cell == CELL_NA)
            s->res.not_applicable++;
        else {
            s->res.failed++;
            failure_found(s, st, &plans[i], v);
        }
        if ((s->res.schedules & 63) == 0)
            progress(s, index + 1, nentries, false);
    }
    free(verdicts);
    free(plans);
    free(s->trace_pcs);
    s->trace_pcs = NULL;
}

struct pick {
    uint32_t site;
    struct site_entry e;
};

static int pick_order(const void *a, const void *b)
{
    const struct pick *x = a, *y = b;
    if (x->e.iter != y->e.iter)
        return x->e.iter < y->e.iter ? -1 : 1;
    if (x->site != y->site)
        return x->site < y->site ? -1 : 1;
    return x->e.pos < y->e.pos ? -1 : x->e.pos > y->e.pos;
}

/* N entries of each site, spread over the run, preferring moments when others are live. */
static struct pick *choose_entries(struct sweep *s, size_t *count)
{
    struct pick *v = NULL;
    size_t n = 0;
    for (size_t i = 0; i < s->res.nsites; i++) {
        const struct site *st = &s->res.sites[i];
        size_t live = 0;
        for (size_t j = 0; j < st->nentries; j++)
            live += st->entries[j].others;
        bool need_live = live > 0;
        size_t pool = need_live ? live : st->nentries;
        size_t want = s->cfg->entries < pool ? s->cfg->entries : pool;
        v = xrealloc(v, (n + want) * sizeof(*v));
        for (size_t k = 0; k < want; k++) {
            size_t target = (2 * k + 1) * pool / (2 * want), seen = 0;
            for (size_t j = 0; j < st->nentries; j++) {
                if (need_live && !st->entries[j].others)
                    continue;
                if (seen++ == target) {
                    v[n++] = (struct pick){.site = (uint32_t)i, .e = st->entries[j]};
                    break;
                }
            }
        }
    }
    qsort(v, n, sizeof(*v), pick_order);
    *count = n;
    return v;
}

static int make_out_dir(const char *dir)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "rseqemu: --out %s: %s\n", dir, strerror(errno));
        return -1;
    }
    return 0;
}

int sweep_run(const struct sweep_config *cfg)
{
    struct sweep *s = xcalloc(1, sizeof(*s));
    s->cfg = cfg;
    s->res.cfg = cfg;
    clock_gettime(CLOCK_MONOTONIC, &s->t0);
    s->program_hash = elf_image_hash(cfg->img);
    if (make_out_dir(cfg->out_dir) != 0) {
        free(s);
        return 66;
    }
    struct kernel_config kc = cfg->kcfg;
    kc.arch = elf_image_arch(cfg->img);
    kc.policy = POLICY_SCRIPT;
    kc.script_fill = FILL_ROUND_ROBIN;
    kc.script = NULL;
    kc.nscript = 0;
    kc.script_cap = 4;
    kc.record = NULL;
    kc.trace = NULL;
    kc.stdin_fd = -1;
    s->out_fd = memfd_create("sweep-guest-out", 0);
    s->diag = fdopen(memfd_create("sweep-diag", 0), "w+");
    kc.stdout_fd = kc.stderr_fd = s->out_fd;
    kc.diag = s->diag;
    char err[512];
    s->kc = kc;
    s->k = kernel_create(&kc, err, sizeof(err));
    if (!s->k) {
        fprintf(stderr, "rseqemu: %s\n", err);
        return 70;
    }
    int spawned = kernel_spawn(s->k, cfg->img, (const char *const *)cfg->argv, err, sizeof(err));
    if (spawned != 0) {
        fprintf(stderr, "rseqemu: %s: %s\n", cfg->prog, err);
        kernel_destroy(s->k);
        return spawned == -2 ? 64 : 65;
    }
    s->membarrier_nr = kernel_syscall_nr(s->k, "membarrier");
    s->cpu_opv_nr = kc.cpu_opv_nr;

    /* The base run, watched, from a snapshot taken before its first instruction. */
    kernel_snapshot_take(s->k);
    outputs_mark(s);
    struct kernel_observer obs = {
        .ctx = s, .slice = on_slice, .cs_entry = on_cs_entry, .syscall = on_syscall};
    kernel_set_observer(s->k, &obs);
    kernel_run(s->k, &s->res.base);
    kernel_set_observer(s->k, NULL);
    kernel_findings(s->k, &s->base_findings);
    const struct kernel_result *b = &s->res.base;
    int code = 0;
    char text[64];
    sweep_outcome_text(b, text, sizeof(text));
    bool reported = s->base_findings.rseq_failures || s->base_findings.syscalls_in_cs ||
                    s->base_findings.field_writes;
    if (b->outcome != KERNEL_EXITED || b->status != 0 || reported) {
        char msg[256], report[256];
        fflush(s->diag);
        last_line(s->out_fd, 0, msg, sizeof(msg));
        first_report(fileno(s->diag), 0, report, sizeof(report));
        s->max_insns = kc.max_insns;
        struct failure *f = add_failure(s);
        *f = (struct failure){.site = SITE_NONE, .event = SWEEP_EVENT_COUNT, .digest = b->digest};
        str_copy(f->outcome, sizeof(f->outcome), text);
        str_copy(f->message, sizeof(f->message), msg[0] ? msg : report);
        snprintf(f->summary, sizeof(f->summary), "base run, nothing injected: %s '%s'", text,
                 f->message);
        if (sweep_write_failure(&s->res, f, s->max_insns, s->program_hash) != 0)
            f->file[0] = '\0';
        fprintf(cfg->out,
                "base run fails before anything is injected: %s '%s'%s%s\n"
                "(rseqemu replay %s runs it again; nothing was swept)\n",
                text, msg[0] ? msg : report, reported && msg[0] ? "; " : "",
                reported && msg[0] ? report : "", f->file);
        code = b->outcome == KERNEL_ERROR ? 70 : 1;
        goto out;
    }
    s->max_insns = cfg->schedule_insns ? cfg->schedule_insns : 2 * b->insns + 1000000;

    size_t nentries;
    struct pick *picks = choose_entries(s, &nentries);
    uint64_t per_entry = 0;
    if (cfg->max_schedules && nentries)
        per_entry = (cfg->max_schedules + nentries - 1) / nentries;
    kernel_snapshot_restore(s->k);
    outputs_reset(s);
    uint64_t at = 0; /* the iteration the snapshot was taken at */
    for (size_t i = 0; i < nentries; i++) {
        struct pick *p = &picks[i];
        uint64_t want = p->e.iter > 0 ? p->e.iter - 1 : 0;
        if (want > at) {
            kernel_snapshot_restore(s->k);
            outputs_reset(s);
            kernel_pause_at(s->k, want);
            struct kernel_result r;
            kernel_set_max_insns(s->k, s->max_insns);
            kernel_run(s->k, &r);
            if (r.outcome != KERNEL_PAUSED)
                continue; /* cannot happen: the base run went there */
            kernel_snapshot_take(s->k);
            outputs_mark(s);
            at = want;
        }
        sweep_entry(s, &s->res.sites[p->site], &p->e, per_entry, i, nentries);
    }
    progress(s, nentries, nentries, true);
    free(picks);
    code = s->res.nfailures ? 1 : 0;
    if (s->res.replay_mismatch)
        code = 70;
out:
    sweep_print_table(&s->res, cfg->out);
    if (cfg->stats)
        sweep_print_stats(&s->res, seconds_since(&s->t0), stderr);
    if (cfg->json && sweep_write_json(&s->res, cfg->json) != 0 && code == 0)
        code = 66;
    if (cfg->junit && sweep_write_junit(&s->res, cfg->junit) != 0 && code == 0)
        code = 66;
    kernel_destroy(s->k);
    fclose(s->diag);
    close(s->out_fd);
    for (size_t i = 0; i < s->res.nsites; i++) {
        free(s->res.sites[i].entries);
        free(s->res.sites[i].rows);
    }
    free(s->res.sites);
    free(s->res.failures);
    free(s);
    return code;
}
