/* Guest A, "stores": a store-heavy kernel. Each inner step advances an LCG and updates four
 * small arrays on the stack (a 4 KiB counter table, two 2 KiB rings and a 512-byte histogram):
 * four stores per 12 (x86-64) or 15 (aarch64) instructions of the inner loop. */
#include "bench_kernel.h"

#define COUNTERS 1024
#define STEPS    256
#define HIST     64

uint64_t bench_kernel(uint64_t iterations)
{
    uint32_t counters[COUNTERS];
    uint64_t ring[STEPS], ring2[STEPS];
    uint64_t hist[HIST];
    for (uint32_t i = 0; i < COUNTERS; i++)
        counters[i] = i * 2654435761u;
    for (uint32_t i = 0; i < STEPS; i++)
        ring[i] = ring2[i] = i ^ 0x5a5a5a5au;
    for (uint32_t i = 0; i < HIST; i++)
        hist[i] = (uint64_t)i << 32 | 0x9e37u;
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (uint64_t it = 0; it < iterations; it++) {
        uint64_t *r = ring, *r2 = ring2;
        for (uint32_t k = 0; k < STEPS / HIST; k++) {
            for (uint32_t j = 0; j < HIST; j++) {
                x = x * 6364136223846793005u + 1442695040888963407u;
                counters[x >> 54] += 1;
                *r++ = x;
                *r2++ = x + it;
                hist[j] ^= x;
            }
        }
        x ^= ring[x & (STEPS - 1)] + ring2[(x >> 8) & (STEPS - 1)];
    }
    uint64_t sum = x;
    for (uint32_t i = 0; i < COUNTERS; i++)
        sum = sum * 31 + counters[i];
    for (uint32_t i = 0; i < STEPS; i++)
        sum = sum * 37 + ring[i] + (ring2[i] >> 3);
    for (uint32_t i = 0; i < HIST; i++)
        sum ^= hist[i] + (sum << 7);
    return sum;
}
