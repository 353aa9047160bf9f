#include "rng.h"

#include "emu/hash.h"

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void rng_init(struct rng *r, uint64_t seed, enum rng_stream stream)
{
    uint64_t x = seed ^ ((uint64_t)stream * 0xd1342543de82ef95ULL);
    for (int i = 0; i < 4; i++) {
        x += 0x9e3779b97f4a7c15ULL;
        r->s[i] = hash64_mix(x);
    }
}

uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t rng_below(struct rng *r, uint64_t bound)
{
    if (bound == 0)
        return 0;
    /* Rejection sampling keeps the distribution exact. */
    uint64_t limit = -bound % bound;
    for (;;) {
        uint64_t x = rng_next(r);
        if (x >= limit)
            return x % bound;
    }
}

void rng_fill(struct rng *r, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        uint64_t x = rng_next(r);
        for (int i = 0; i < 8 && len > 0; i++, len--) {
            *p++ = (uint8_t)x;
            x >>= 8;
        }
    }
}
