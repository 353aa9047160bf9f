/* Deliberately wrong: the fallback the cpu_opv RFC warns against in its point 11, "inability to
 * mix rseq and non-rseq atomic operations on percpu data". Threads take samples into per-CPU
 * buffers (the RFC's use case 6): the fast path is an rseq section on the buffer of the CPU the
 * thread runs on, which compares the buffer's count with the one read before, copies the sample
 * into the slot it names, and stores the count plus one. When the section aborts, the sample
 * falls back on what one did before rseq: reserve a slot with a plain atomic,
 * __atomic_fetch_add on the count of the buffer of the CPU the thread read, and copy.
 *
 * But an abort is often a migration: the atomic then runs on another CPU than the buffer's,
 * while a thread on the buffer's own CPU may be inside its section, between its compare and its
 * store. The section is atomic only against what runs on its own CPU (the kernel aborts it when
 * it is preempted there), not against another CPU's stores: its store overwrites the atomic's
 * increment, and a sample is lost. cpu_opv would run the fallback as an IPI on the buffer's CPU,
 * which aborts that section instead (examples/opv_counter.c, opv_ring.c).
 *
 * The copy of a 512-byte sample is what makes the window between the compare and the store wide
 * enough to be hit: rseqemu runs its CPUs in turns of a few thousand instructions that end on
 * exact instructions, and with most of the threads' time spent copying, a turn often ends inside
 * a section while the other CPUs take theirs. The program prints the total count; when samples
 * are lost it exits 1 after naming the operation, each buffer that lost some and the CPUs whose
 * atomics raced with it. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "opv_common.h"

#define THREADS 8   /* as many as the most CPUs tested: a CPU a thread leaves mostly runs another */
#define SAMPLES 400 /* per thread */
#define RING    4   /* the last samples a buffer keeps */

/* What a profiler's sample might hold: who, when, and a call chain. */
struct sample {
    uint64_t thread, seq;
    uint64_t chain[62];
};

static struct buffer {
    intptr_t count; /* samples taken on this CPU; the next goes to ring[count % RING] */
    char pad[64 - sizeof(intptr_t)];
    struct sample ring[RING];
} buf[CPUS_MAX] __attribute__((aligned(64)));

/* What each thread did, to explain a loss: the samples it meant for each buffer, and its
 * fallbacks by (buffer CPU, CPU it ran on). */
static struct tally {
    long meant[CPUS_MAX];
    long fallback[CPUS_MAX][CPUS_MAX];
} tally[THREADS];

static void take(struct rseq_area *area, struct tally *t, const struct sample *s)
{
    for (;;) {
        int cpu = rseq_cpu(area);
        intptr_t c = RSEQ_GUEST_READ(buf[cpu].count);
        int ret = rseq_guest_cmpeqv_trymemcpy_storev(
            area, &buf[cpu].count, c, &buf[cpu].ring[c % RING], s, sizeof(*s), c + 1, cpu);
        if (ret == 2)
            continue; /* the count moved since it was read: read it again */
        t->meant[cpu]++;
        if (ret == 0)
            return;
        /* The bug: an atomic is atomic against other atomics, not against an rseq section on
         * the buffer's CPU. (The CPU read here is where the atomic most likely runs: a migration
         * in between is possible, but rare.) */
        int running = rseq_cpu(area);
        intptr_t slot = __atomic_fetch_add(&buf[cpu].count, 1, __ATOMIC_SEQ_CST);
        memcpy(&buf[cpu].ring[slot % RING], s, sizeof(*s));
        t->fallback[cpu][running]++;
        return;
    }
}

static void *worker(void *arg)
{
    struct tally *t = arg;
    struct rseq_area *area = rseq_area_or_fail();
    struct sample s = {.thread = (uint64_t)(t - tally)};
    for (int i = 0; i < SAMPLES; i++) {
        s.seq = (uint64_t)i;
        for (int f = 0; f < 62; f++)
            s.chain[f] = 0x400000 + (uint64_t)(i % 7 + f) * 0x40;
        take(area, t, &s);
    }
    return NULL;
}

static long cross_cpu(int s, int r)
{
    long n = 0;
    for (int i = 0; i < THREADS && r != s; i++)
        n += tally[i].fallback[s][r];
    return n;
}

/* Which buffers came up short, and the atomics from other CPUs that raced with their sections. */
static void report(long lost)
{
    long cross = 0;
    for (int s = 0; s < CPUS_MAX; s++)
        for (int r = 0; r < CPUS_MAX; r++)
            cross += cross_cpu(s, r);
    printf("%ld samples lost. The fallback, __atomic_fetch_add on the count of the buffer of the\n"
           "CPU read before the section aborted, ran on another CPU than the buffer's %ld times,\n"
           "racing with the rseq sections (compare, copy, store) on the buffer's CPU:\n",
           lost, cross);
    for (int s = 0; s < CPUS_MAX; s++) {
        long meant = 0;
        for (int i = 0; i < THREADS; i++)
            meant += tally[i].meant[s];
        if (meant == buf[s].count)
            continue;
        printf("  buffer of CPU %d: %ld of %ld samples lost; __atomic_fetch_add on its count from",
               s, meant - (long)buf[s].count, meant);
        const char *sep = " ";
        for (int r = 0; r < CPUS_MAX; r++)
            if (cross_cpu(s, r)) {
                printf("%sCPU %d (%ld)", sep, r, cross_cpu(s, r));
                sep = ", ";
            }
        /* Possible only if a thread moved between reading its CPU and its atomic. */
        printf("%s\n", *sep == ' ' ? " no other CPU seen" : "");
    }
}

int main(void)
{
    rseq_area_or_fail();
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, &tally[i]);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    intptr_t total = 0;
    for (int c = 0; c < CPUS_MAX; c++)
        total += buf[c].count;
    printf("samples counted = %ld of %d\n", (long)total, THREADS * SAMPLES);
    if (total == THREADS * SAMPLES)
        return 0;
    report(THREADS * SAMPLES - (long)total);
    return 1;
}
