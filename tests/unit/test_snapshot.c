/* Snapshots of the whole machine (issue: in-process snapshots; emu/snapshot.c, arena.c): a run
 * restored from a snapshot is the run from that point, bit for bit, however often it is
 * restored, with threads, mappings, forks and signals coming and going after the point. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "emu/arena.h"
#include "emu/emu.h"
#include "emu/loader.h"
#include "guest_run.h"
#include "kernel-model/kstate.h"

#define BUDGET 200000000ULL

struct machine {
    struct elf_image *img;
    struct kernel *k;
    FILE *diag;
    int out_fd;
};

static void machine_open(struct machine *m, const char *arch, const char *name, int cpus)
{
    char err[512];
    enum elf_open_error kind;
    const char *path = guest_path(arch, name);
    m->img = elf_image_open(path, &kind, err, sizeof(err));
    cr_assert_not_null(m->img, "%s: %s", path, err);
    m->out_fd = memfd_create("snapshot-out", 0);
    m->diag = fdopen(memfd_create("snapshot-diag", 0), "w");
    struct kernel_config cfg;
    kernel_config_defaults(&cfg);
    cfg.arch = elf_image_arch(m->img);
    cfg.ncpus = cpus;
    cfg.max_insns = BUDGET;
    cfg.policy = POLICY_SCRIPT;
    cfg.script_fill = 1; /* round-robin between events */
    cfg.stdin_fd = -1;
    cfg.stdout_fd = m->out_fd;
    cfg.stderr_fd = m->out_fd;
    cfg.diag = m->diag;
    m->k = kernel_create(&cfg, err, sizeof(err));
    cr_assert_not_null(m->k, "%s", err);
    const char *argv[] = {path, NULL};
    cr_assert_eq(kernel_spawn(m->k, m->img, argv, err, sizeof(err)), 0, "%s", err);
}

static void machine_close(struct machine *m)
{
    kernel_destroy(m->k);
    fclose(m->diag);
    close(m->out_fd);
    elf_image_close(m->img);
}

static void expect_same(const struct kernel_result *a, const struct kernel_result *b,
                        const char *what, uint64_t point)
{
    cr_expect_eq(a->outcome, b->outcome, "%s at iteration %llu: outcome", what,
                 (unsigned long long)point);
    cr_expect_eq(a->status, b->status, "%s: status", what);
    cr_expect_eq(a->insns, b->insns, "%s at %llu: insns %llu != %llu", what,
                 (unsigned long long)point, (unsigned long long)a->insns,
                 (unsigned long long)b->insns);
    cr_expect_eq(a->digest, b->digest, "%s at iteration %llu: digest differs", what,
                 (unsigned long long)point);
}

static void check_points(const char *arch, int cpus, int npoints)
{
    struct machine m;
    machine_open(&m, arch, "snapshot_mix", cpus);
    struct kernel_result straight;
    kernel_run(m.k, &straight);
    cr_assert_eq(straight.outcome, KERNEL_EXITED, "%s: %s", arch, straight.message);
    cr_assert_eq(straight.status, 0);
    uint64_t iterations = kernel_iteration(m.k);
    machine_close(&m);

    machine_open(&m, arch, "snapshot_mix", cpus);
    arena_snapshot_set_verify(m.k->arena, true);
    struct emu_snapshot_stats st;
    for (int i = 1; i <= npoints; i++) {
        uint64_t point = iterations * (uint64_t)i / (uint64_t)(npoints + 1);
        struct kernel_result r;
        if (i > 1)
            kernel_snapshot_restore(m.k); /* back at the last point, then on to this one */
        kernel_pause_at(m.k, point);
        kernel_run(m.k, &r);
        cr_assert_eq(r.outcome, KERNEL_PAUSED, "%s: no pause at iteration %llu", arch,
                     (unsigned long long)point);
        kernel_snapshot_take(m.k);
        for (int again = 0; again < 3; again++) {
            if (again)
                kernel_snapshot_restore(m.k);
            size_t bad = 0;
            if (again)
                cr_expect(arena_snapshot_verify(m.k->arena, &bad),
                          "%s: arena byte %zu not restored (iteration %llu)", arch, bad,
                          (unsigned long long)point);
            kernel_run(m.k, &r);
            expect_same(&r, &straight, again ? "restored run" : "run on", point);
        }
    }
    kernel_snapshot_stats(m.k, &st);
    cr_expect_eq(st.restores, (uint64_t)(3 * npoints - 1));
    cr_expect_gt(st.pages_restored, 0);
    machine_close(&m);
}

Test(snapshot, x86_64_many_points, .timeout = 300) { check_points("x86_64", 2, 10); }
Test(snapshot, aarch64_many_points, .timeout = 300) { check_points("aarch64", 2, 10); }
Test(snapshot, x86_64_four_cpus, .timeout = 300) { check_points("x86_64", 4, 4); }
Test(snapshot, aarch64_four_cpus, .timeout = 300) { check_points("aarch64", 4, 4); }

/* A snapshot taken before the first instruction: every run from it is the whole run. */
Test(snapshot, before_start_restores_whole_run, .timeout = 300)
{
    for (int a = 0; a < 2; a++) {
        struct machine m;
        machine_open(&m, guest_arches[a], "snapshot_mix", 2);
        kernel_snapshot_take(m.k);
        struct kernel_result first, r;
        kernel_run(m.k, &first);
        cr_assert_eq(first.outcome, KERNEL_EXITED, "%s", first.message);
        for (int i = 0; i < 3; i++) {
            kernel_snapshot_restore(m.k);
            kernel_run(m.k, &r);
            expect_same(&r, &first, guest_arches[a], 0);
        }
        machine_close(&m);
    }
}

/* Observing a run (kernel_set_observer) splits it where it looks and goes on at once: the run
 * is the unobserved one, and what it sees is consistent (each step at the next position). */
struct seen {
    uint64_t entries, syscalls, slices, steps, last_step;
    bool steps_in_order;
};

static void seen_slice(void *ctx, int tid, uint64_t pos, uint64_t iter)
{
    (void)tid, (void)pos, (void)iter;
    ((struct seen *)ctx)->slices++;
}

static void seen_entry(void *ctx, int tid, uint64_t pos, uint64_t start, uint64_t end)
{
    (void)tid, (void)pos;
    cr_expect_lt(start, end);
    ((struct seen *)ctx)->entries++;
}

static void seen_syscall(void *ctx, int tid, uint64_t pos, uint64_t nr)
{
    (void)tid, (void)pos, (void)nr;
    ((struct seen *)ctx)->syscalls++;
}

static void seen_step(void *ctx, int tid, uint64_t pos, uint64_t ip)
{
    struct seen *s = ctx;
    (void)tid;
    cr_expect_neq(ip, 0);
    if (s->steps && pos != s->last_step && pos != s->last_step + 1)
        s->steps_in_order = false;
    s->last_step = pos;
    s->steps++;
}

Test(snapshot, observing_changes_nothing, .timeout = 300)
{
    for (int a = 0; a < 2; a++) {
        struct machine m;
        struct kernel_result plain, watched;
        machine_open(&m, guest_arches[a], "percpu_counter", 2);
        kernel_run(m.k, &plain);
        machine_close(&m);
        machine_open(&m, guest_arches[a], "percpu_counter", 2);
        struct seen s = {.steps_in_order = true};
        struct kernel_observer obs = {.ctx = &s,
                                      .slice = seen_slice,
                                      .cs_entry = seen_entry,
                                      .syscall = seen_syscall,
                                      .step = seen_step,
                                      .step_tid = 101,
                                      .step_from = 5000,
                                      .step_to = 7000};
        kernel_set_observer(m.k, &obs);
        kernel_run(m.k, &watched);
        machine_close(&m);
        cr_assert_eq(plain.outcome, KERNEL_EXITED, "%s", plain.message);
        expect_same(&watched, &plain, guest_arches[a], 0);
        cr_expect_gt(s.entries, 1000, "%s: %llu section entries seen", guest_arches[a],
                     (unsigned long long)s.entries);
        cr_expect_gt(s.syscalls, 0);
        cr_expect_gt(s.slices, 0);
        cr_expect(s.steps >= 2000 && s.steps_in_order, "%s: %llu steps", guest_arches[a],
                  (unsigned long long)s.steps);
    }
}
