/* Little-endian encoding of guest ABI structures, field by field: a host structure is never
 * copied into guest memory. */
#ifndef RSEQEMU_ARCH_LE_H
#define RSEQEMU_ARCH_LE_H

#include <stdint.h>

#include "lx.h"

static inline void le_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void le_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void le_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t le_get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static inline uint32_t le_get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static inline uint64_t le_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* stack_t (24 bytes, both arches): ss_sp @0, ss_flags (s32) @8, padding, ss_size @16. */
#define LX_STACK_SIZE 24

static inline void lx_stack_put(uint8_t *p, const struct lx_stack *ss)
{
    le_put64(p, ss->ss_sp);
    le_put32(p + 8, (uint32_t)ss->ss_flags);
    le_put32(p + 12, 0);
    le_put64(p + 16, ss->ss_size);
}

static inline struct lx_stack lx_stack_get(const uint8_t *p)
{
    return (struct lx_stack){
        .ss_sp = le_get64(p),
        .ss_flags = (int32_t)le_get32(p + 8),
        .ss_size = le_get64(p + 16),
    };
}

#endif
