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
