/* A small, fast, well-mixed 64-bit hash for digests and content identity (not cryptographic).
 * Streams of the same bytes hash the same on every host: only fixed-width little-endian values
 * go in, never host pointers. */
#ifndef RSEQEMU_EMU_HASH_H
#define RSEQEMU_EMU_HASH_H

#include <stddef.h>
#include <stdint.h>

struct hash64 {
    uint64_t h;
};

#define HASH64_INIT                                                                                \
    {                                                                                              \
        0x9e3779b97f4a7c15ULL                                                                      \
    }

static inline uint64_t hash64_mix(uint64_t x)
{
    /* splitmix64 finalizer */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static inline void hash64_u64(struct hash64 *s, uint64_t v)
{
    s->h = hash64_mix(s->h ^ hash64_mix(v + 0x632be59bd9b4e019ULL));
}

static inline void hash64_bytes(struct hash64 *s, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len >= 8) {
        uint64_t v = (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
                     (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
                     (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
        hash64_u64(s, v);
        p += 8;
        len -= 8;
    }
    uint64_t tail = 0x80;
    for (size_t i = 0; i < len; i++)
        tail = tail << 8 | p[i];
    hash64_u64(s, tail ^ (uint64_t)len << 56);
}

#endif
