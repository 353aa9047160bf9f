/* The scheduler: virtual time, timers, time slicing, yield, migration, the decision PRNG and
 * the determinism of whole runs (issue 2's machine). */
#include <criterion/criterion.h>
#include <string.h>

#include "guest_run.h"
#include "kernel-model/rng.h"

static struct guest_result r;

static void run(const char *arch, const char *scenario, int cpus, uint64_t seed)
{
    const char *args[] = {scenario, NULL};
    struct guest_opts o = {.cpus = cpus, .seed = seed, .max_insns = 400000000};
    cr_assert_eq(guest_run(arch, "sched_probe", args, &o, &r), 0, "%s", r.err);
    cr_assert_eq(r.outcome, KERNEL_EXITED, "%s %s: outcome %d\n%s", arch, scenario, r.outcome,
                 r.err);
    cr_assert_eq(r.status, 0, "%s", r.err);
}

Test(sched, yield_hands_the_cpu_to_the_other_thread)
{
    for (int a = 0; a < 2; a++) {
        run(guest_arches[a], "yield", 2, 3);
        cr_expect_str_eq(r.out, "ABABABABABABABAB\n", "%s", guest_arches[a]);
    }
}

Test(sched, nanosleep_lasts_its_virtual_duration)
{
    for (int a = 0; a < 2; a++) {
        run(guest_arches[a], "sleep", 4, 1);
        cr_expect_str_eq(r.out, "slept 50ms\n", "%s", guest_arches[a]);
    }
}

Test(sched, timers_fire_in_deadline_order)
{
    for (int a = 0; a < 2; a++)
        for (uint64_t seed = 1; seed <= 3; seed++) {
            run(guest_arches[a], "timers", 2, seed);
            cr_expect_str_eq(r.out, "woke in order 1234\n", "%s seed %llu", guest_arches[a],
                             (unsigned long long)seed);
        }
}

Test(sched, more_threads_than_cpus_all_make_progress)
{
    for (int a = 0; a < 2; a++)
        for (int cpus = 1; cpus <= 2; cpus++) {
            run(guest_arches[a], "progress", cpus, 5);
            cr_expect_str_eq(r.out, "all 6 threads finished\n");
        }
}

Test(sched, policy_migrates_threads_and_cpu_fields_follow)
{
    for (int a = 0; a < 2; a++) {
        run(guest_arches[a], "migrations", 4, 2);
        cr_expect_str_eq(r.out, "ran on more than one CPU, rseq cpu_id agrees with getcpu: yes\n",
                         "%s", guest_arches[a]);
    }
}

Test(sched, online_cpus_equal_the_configured_count)
{
    int counts[] = {1, 2, 3, 8, 64};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        run("x86_64", "cpus", counts[i], 1);
        char want[16];
        snprintf(want, sizeof(want), "%d\n", counts[i]);
        cr_expect_str_eq(r.out, want);
    }
}

Test(sched, same_seed_same_run_and_different_seeds_differ)
{
    for (int a = 0; a < 2; a++) {
        run(guest_arches[a], "progress", 3, 11);
        uint64_t d1 = r.digest, i1 = r.insns;
        run(guest_arches[a], "progress", 3, 11);
        cr_expect_eq(r.digest, d1, "%s: same seed, different digest", guest_arches[a]);
        cr_expect_eq(r.insns, i1);
        run(guest_arches[a], "progress", 3, 12);
        cr_expect_neq(r.digest, d1, "%s: different seeds, same digest", guest_arches[a]);
    }
}

Test(rng, streams_are_reproducible_and_independent)
{
    struct rng a, b, c;
    rng_init(&a, 42, RNG_STREAM_SCHED);
    rng_init(&b, 42, RNG_STREAM_SCHED);
    rng_init(&c, 42, RNG_STREAM_GETRANDOM);
    int same_as_c = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = rng_next(&a);
        cr_assert_eq(x, rng_next(&b));
        same_as_c += x == rng_next(&c);
    }
    cr_expect_eq(same_as_c, 0);
}

Test(rng, below_is_in_range_and_covers_it)
{
    struct rng g;
    rng_init(&g, 7, RNG_STREAM_SCHED);
    int hits[10] = {0};
    for (int i = 0; i < 10000; i++) {
        uint64_t v = rng_below(&g, 10);
        cr_assert_lt(v, 10);
        hits[v]++;
    }
    for (int i = 0; i < 10; i++)
        cr_expect(hits[i] > 800 && hits[i] < 1200, "bucket %d has %d", i, hits[i]);
    cr_expect_eq(rng_below(&g, 0), 0);
    cr_expect_eq(rng_below(&g, 1), 0);
}

/* --policy pct (README "Policies"). */
static void run_pct(const char *arch, const char *scenario, uint32_t depth, uint64_t seed)
{
    const char *args[] = {scenario, NULL};
    struct guest_opts o = {.cpus = 1,
                           .seed = seed,
                           .max_insns = 100000000,
                           .policy = POLICY_PCT,
                           .pct_depth = depth,
                           .pct_steps = 60};
    cr_assert_eq(guest_run(arch, "sched_probe", args, &o, &r), 0, "%s", r.err);
    cr_assert_eq(r.outcome, KERNEL_EXITED, "%s %s seed %llu: outcome %d\n%s", arch, scenario,
                 (unsigned long long)seed, r.outcome, r.err);
    cr_assert_eq(r.status, 0, "%s", r.err);
}

Test(pct, without_change_points_one_cpu_runs_each_thread_to_its_end_in_a_seeded_order)
{
    for (int a = 0; a < 2; a++) {
        char orders[20][16];
        int distinct = 0;
        for (uint64_t seed = 1; seed <= 20; seed++) {
            run_pct(guest_arches[a], "order", 1, seed);
            char *trace = orders[seed - 1];
            snprintf(trace, sizeof(orders[0]), "%.9s", r.out);
            /* Strict priorities: the running thread is the highest, and nothing lowers it. */
            for (int i = 0; i < 9; i++)
                cr_expect_eq(trace[i], trace[i - i % 3], "%s seed %llu: %s", guest_arches[a],
                             (unsigned long long)seed, trace);
            bool seen = false;
            for (uint64_t s = 1; s < seed; s++)
                seen |= !strcmp(orders[s - 1], trace);
            distinct += !seen;
        }
        cr_expect_geq(distinct, 4, "%s: %d orders of three threads in 20 seeds", guest_arches[a],
                      distinct);
    }
}

/* Most of the 60 steps are main's (start-up, thread creation): a change point splits a thread
 * in about one run of ten. */
Test(pct, change_points_interleave_threads)
{
    for (int a = 0; a < 2; a++) {
        int interleaved = 0;
        for (uint64_t seed = 1; seed <= 40; seed++) {
            run_pct(guest_arches[a], "order", 3, seed);
            bool split = false;
            for (int i = 0; i < 9; i++)
                split |= r.out[i] != r.out[i - i % 3];
            interleaved += split;
            cr_expect_geq(guest_stat(&r, "pct_steps"), 50, "the system calls are steps");
        }
        cr_expect_gt(interleaved, 0, "%s: two change points in 60 steps never split a thread",
                     guest_arches[a]);
    }
}

Test(pct, a_thread_that_spins_waiting_for_a_lower_one_lets_it_run)
{
    for (int a = 0; a < 2; a++)
        for (uint64_t seed = 1; seed <= 6; seed++) {
            run_pct(guest_arches[a], "yieldwait", 3, seed);
            cr_expect_str_eq(r.out, "the flag is set\n");
            /* Without sched_yield only the time slice ends the spinning (a few million
             * instructions), and it does. */
            run_pct(guest_arches[a], "spinwait", 3, seed);
            cr_expect_str_eq(r.out, "the flag is set\n");
        }
}

Test(pct, every_entry_into_a_section_is_one_step)
{
    for (int a = 0; a < 2; a++) {
        run_pct(guest_arches[a], "sectionloop", 3, 1);
        cr_expect_str_eq(r.out, "1000 passes\n");
        /* Even when the loop jumps straight back to the section's first instruction. */
        cr_expect_eq(guest_stat(&r, "pct_steps"), guest_stat(&r, "syscalls") + 1000, "%s\n%s",
                     guest_arches[a], r.stats);
    }
}

Test(pct, same_seed_same_run_and_different_seeds_differ)
{
    for (int a = 0; a < 2; a++) {
        run_pct(guest_arches[a], "order", 3, 27);
        uint64_t d1 = r.digest;
        run_pct(guest_arches[a], "order", 3, 27);
        cr_expect_eq(r.digest, d1, "%s", guest_arches[a]);
        run_pct(guest_arches[a], "order", 3, 28);
        cr_expect_neq(r.digest, d1, "%s", guest_arches[a]);
    }
}
