/* A per-CPU ring buffer in the manner of a tracer's (the RFC's justification 8 and use case 7):
 * a producer reserves a slot on the ring of the CPU it runs on, serializes its record, then
 * commits it, and the commit must be made on the ring it reserved on, even when the thread has
 * been migrated in between. Records are committed in reservation order (the commit index must
 * equal the reserved index), so a consumer reading up to the commit index sees whole records, in
 * order.
 *
 * The reserve is an rseq section on the thread's own CPU. The commit is one too when the thread
 * is still there: copy the record into its slot, then compare and advance the commit index. When
 * it has moved (or the section keeps aborting, and every 8th record regardless), one cpu_opv on
 * the reserving CPU compares the commit index, copies the record and advances the index, as an
 * IPI there: no rseq section can do this, and a thread must not change its affinity just to
 * commit (a tracer runs inside programs that own their threads' affinity).
 *
 * The consumer (the main thread) checks that every record arrives once, intact, at the index it
 * was reserved at, and in each producer's order on every ring. Without cpu_opv (Linux answers
 * ENOSYS) a migrated producer moves back with sched_setaffinity() to commit. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "opv_common.h"

#define PRODUCERS   3
#define RECORDS     1500 /* per producer */
#define RING        16   /* records per CPU */
#define SLOW_COMMIT 8    /* every 8th record commits with cpu_opv on purpose */

struct record {
    uint32_t producer, seq;
    intptr_t index; /* where it was reserved */
    uint32_t cpu, pad;
    uint64_t payload[4];
    uint64_t check;
};

static struct ring {
    intptr_t reserve; /* the next index to hand out: rseq on the ring's CPU */
    intptr_t commit;  /* records below it are complete: advanced only on the ring's CPU */
    intptr_t consumed;
    char pad[64 - 3 * sizeof(intptr_t)];
    struct record slot[RING];
} rings[CPUS_MAX] __attribute__((aligned(64)));

static int have_cpu_opv;

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    return x ^ x >> 29;
}

static uint64_t checksum(const struct record *r)
{
    uint64_t h = mix(r->producer ^ (uint64_t)r->seq << 32) ^ mix((uint64_t)r->index) ^ r->cpu;
    for (int i = 0; i < 4; i++)
        h = mix(h ^ r->payload[i]);
    return h;
}

/* A slot on the ring of the CPU the thread runs on: the index, and the CPU in *cpu. */
static intptr_t reserve(struct rseq_area *area, int *cpu)
{
    for (;;) {
        int x = rseq_cpu(area);
        intptr_t r = RSEQ_GUEST_READ(rings[x].reserve);
        /* A stale consumed index only makes the ring look fuller than it is. */
        if (r - __atomic_load_n(&rings[x].consumed, __ATOMIC_ACQUIRE) >= RING) {
            sched_yield();
            continue;
        }
        if (rseq_guest_cmpeqv_storev(area, &rings[x].reserve, r, r + 1, x) == 0) {
            *cpu = x;
            return r;
        }
    }
}

/* On CPU x with rseq: 0 committed, 1 aborted (perhaps migrated), 2 an earlier reservation on
 * the ring is not committed yet. */
static int commit_rseq(struct rseq_area *area, int x, intptr_t r, const struct record *rec)
{
    memcpy(&rings[x].slot[r % RING], rec, sizeof(*rec)); /* the slot is ours since the reserve */
    __atomic_thread_fence(__ATOMIC_RELEASE);             /* the record before the index */
    return rseq_guest_cmpeqv_storev(area, &rings[x].commit, r, r + 1, x);
}

static void commit(struct rseq_area *area, int x, intptr_t r, const struct record *rec, int slow)
{
    int aborts = 0;
    for (;;) {
        if (!slow && aborts < 2 && rseq_cpu(area) == x) {
            int ret = commit_rseq(area, x, r, rec);
            if (ret == 0)
                return;
            if (ret == 2)
                sched_yield();
            else
                aborts++;
            continue;
        }
        if (!have_cpu_opv) {
            cpu_set_t saved;
            if (pin_to_cpu(x, &saved))
                FAIL("cannot move to CPU %d to commit\n", x);
            int ret;
            while ((ret = commit_rseq(area, x, r, rec)) != 0)
                if (ret == 2)
                    sched_yield();
            unpin(&saved);
            return;
        }
        /* Compare, copy, advance: on CPU x, where no section of the ring's can be halfway. */
        intptr_t expect = r;
        struct cpu_op ops[3] = {
            cpu_op_compare(CPU_COMPARE_EQ_OP, &rings[x].commit, &expect, sizeof(expect)),
            cpu_op_memcpy(CPU_MEMCPY_OP, &rings[x].slot[r % RING], rec, sizeof(*rec)),
            cpu_op_add(CPU_ADD_RELEASE_OP, &rings[x].commit, 1, sizeof(intptr_t)),
        };
        int ret = cpu_opv(ops, 3, x, 0);
        if (ret == 0)
            return;
        if (ret != 1)
            FAIL("cpu_opv commit on CPU %d: %d\n", x, ret);
        sched_yield(); /* an earlier reservation is not committed yet */
    }
}

static void *producer(void *arg)
{
    uint32_t p = (uint32_t)(uintptr_t)arg;
    struct rseq_area *area = rseq_area_or_fail();
    for (uint32_t seq = 0; seq < RECORDS; seq++) {
        int x;
        struct record rec = {.producer = p, .seq = seq};
        rec.index = reserve(area, &x);
        rec.cpu = (uint32_t)x;
        /* Serializing takes a while, and the thread may be migrated meanwhile. */
        for (int i = 0; i < 4; i++)
            rec.payload[i] = mix((uint64_t)p << 48 ^ (uint64_t)seq << 8 ^ (uint64_t)i);
        rec.check = checksum(&rec);
        commit(area, x, rec.index, &rec, seq % SLOW_COMMIT == 0);
    }
    return NULL;
}

static unsigned char seen[PRODUCERS][RECORDS];
static long last_seq[CPUS_MAX][PRODUCERS];

static void check(int x, intptr_t index, const struct record *rec)
{
    if (rec->producer >= PRODUCERS || rec->seq >= RECORDS)
        FAIL("CPU %d index %ld: producer %u seq %u is no record\n", x, (long)index, rec->producer,
             rec->seq);
    if (rec->index != index || rec->cpu != (uint32_t)x || rec->check != checksum(rec))
        FAIL("CPU %d index %ld: record of producer %u seq %u is damaged or misplaced\n", x,
             (long)index, rec->producer, rec->seq);
    for (int i = 0; i < 4; i++)
        if (rec->payload[i] !=
            mix((uint64_t)rec->producer << 48 ^ (uint64_t)rec->seq << 8 ^ (uint64_t)i))
            FAIL("CPU %d index %ld: payload damaged\n", x, (long)index);
    if ((long)rec->seq <= last_seq[x][rec->producer])
        FAIL("CPU %d: producer %u's record %u after its %ld\n", x, rec->producer, rec->seq,
             last_seq[x][rec->producer]);
    last_seq[x][rec->producer] = rec->seq;
    if (seen[rec->producer][rec->seq]++)
        FAIL("producer %u's record %u arrived twice\n", rec->producer, rec->seq);
}

int main(void)
{
    rseq_area_or_fail();
    have_cpu_opv = cpu_opv_available();
    for (int x = 0; x < CPUS_MAX; x++)
        for (int p = 0; p < PRODUCERS; p++)
            last_seq[x][p] = -1;
    pthread_t t[PRODUCERS];
    for (long p = 0; p < PRODUCERS; p++)
        pthread_create(&t[p], NULL, producer, (void *)(uintptr_t)p);
    long consumed = 0;
    while (consumed < PRODUCERS * RECORDS) {
        long before = consumed;
        for (int x = 0; x < CPUS_MAX; x++) {
            intptr_t c = __atomic_load_n(&rings[x].commit, __ATOMIC_ACQUIRE);
            intptr_t i = rings[x].consumed;
            for (; i < c; i++, consumed++)
                check(x, i, &rings[x].slot[i % RING]);
            /* The slots are read before producers may reuse them. */
            __atomic_store_n(&rings[x].consumed, i, __ATOMIC_RELEASE);
        }
        if (consumed == before)
            sched_yield();
    }
    for (long p = 0; p < PRODUCERS; p++)
        pthread_join(t[p], NULL);
    for (int x = 0; x < CPUS_MAX; x++)
        if (rings[x].reserve != rings[x].commit || rings[x].commit != rings[x].consumed)
            FAIL("CPU %d: reserved %ld, committed %ld, consumed %ld\n", x, (long)rings[x].reserve,
                 (long)rings[x].commit, (long)rings[x].consumed);
    printf("%d records from %d producers: each arrived once, intact, in order\n",
           PRODUCERS * RECORDS, PRODUCERS);
    return 0;
}
