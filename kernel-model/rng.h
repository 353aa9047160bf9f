/* The one source of randomness: xoshiro256** streams derived from the run's seed.
 *
 * Each consumer (the scheduler's decisions, getrandom, AT_RANDOM) has its own stream, so that
 * the bytes a guest reads from getrandom do not shift when a schedule changes and vice versa. */
#ifndef RSEQEMU_KERNEL_MODEL_RNG_H
#define RSEQEMU_KERNEL_MODEL_RNG_H

#include <stddef.h>
#include <stdint.h>

struct rng {
    uint64_t s[4];
};

enum rng_stream {
    RNG_STREAM_SCHED = 1,
    RNG_STREAM_GETRANDOM = 2,
    RNG_STREAM_AT_RANDOM = 3,
};

void rng_init(struct rng *r, uint64_t seed, enum rng_stream stream);
uint64_t rng_next(struct rng *r);
/* Uniform in [0, bound); 0 when bound is 0. */
uint64_t rng_below(struct rng *r, uint64_t bound);
void rng_fill(struct rng *r, void *buf, size_t len);

#endif
