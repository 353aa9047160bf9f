/* Fake guest memory for unit tests: one byte array covering [base, base + size) behind the
 * struct guest_mem callbacks. Anything outside the array is unmapped (-LX_EFAULT), and the
 * whole array can be made read-only to model a stack that cannot take a frame. */
#ifndef RSEQEMU_TESTS_FAKE_MEM_H
#define RSEQEMU_TESTS_FAKE_MEM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"

/* Fresh memory holds this byte, so a test can tell untouched bytes from written zeros. */
#define FAKE_MEM_FILL 0xa5

struct fake_mem {
    guest_addr_t base;
    size_t size;
    uint8_t *bytes;
    bool readonly;
    unsigned writes; /* successful write calls, to check that a refusal wrote nothing */
    struct guest_mem iface;
};

static inline bool fake_mem_covers(const struct fake_mem *fm, guest_addr_t addr, size_t len)
{
    return addr >= fm->base && addr - fm->base <= fm->size && len <= fm->size - (addr - fm->base);
}

static inline int fake_mem_read(void *ctx, guest_addr_t addr, void *dst, size_t len)
{
    const struct fake_mem *fm = ctx;
    if (!fake_mem_covers(fm, addr, len))
        return -LX_EFAULT;
    memcpy(dst, fm->bytes + (addr - fm->base), len);
    return 0;
}

static inline int fake_mem_write(void *ctx, guest_addr_t addr, const void *src, size_t len)
{
    struct fake_mem *fm = ctx;
    if (fm->readonly || !fake_mem_covers(fm, addr, len))
        return -LX_EFAULT;
    memcpy(fm->bytes + (addr - fm->base), src, len);
    fm->writes++;
    return 0;
}

static inline void fake_mem_init(struct fake_mem *fm, guest_addr_t base, size_t size)
{
    *fm = (struct fake_mem){.base = base, .size = size, .bytes = malloc(size)};
    if (!fm->bytes)
        abort();
    memset(fm->bytes, FAKE_MEM_FILL, size);
    fm->iface = (struct guest_mem){.ctx = fm, .read = fake_mem_read, .write = fake_mem_write};
}

static inline void fake_mem_fini(struct fake_mem *fm)
{
    free(fm->bytes);
    fm->bytes = NULL;
}

/* Host pointer to guest bytes [addr, addr + len); a test bug if they are not all mapped. */
static inline uint8_t *fake_mem_at(struct fake_mem *fm, guest_addr_t addr, size_t len)
{
    if (!fake_mem_covers(fm, addr, len)) {
        fprintf(stderr, "fake_mem: %#llx+%zu is outside the fake memory\n",
                (unsigned long long)addr, len);
        abort();
    }
    return fm->bytes + (addr - fm->base);
}

/* Little-endian unsigned integer of `width` bytes at addr, assembled byte by byte so the test
 * does not depend on the host's byte order either. */
static inline uint64_t fake_mem_get(struct fake_mem *fm, guest_addr_t addr, size_t width)
{
    const uint8_t *p = fake_mem_at(fm, addr, width);
    uint64_t v = 0;
    for (size_t i = width; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

static inline void fake_mem_put(struct fake_mem *fm, guest_addr_t addr, size_t width, uint64_t v)
{
    uint8_t *p = fake_mem_at(fm, addr, width);
    for (size_t i = 0; i < width; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t fake_mem_u64(struct fake_mem *fm, guest_addr_t addr)
{
    return fake_mem_get(fm, addr, 8);
}

static inline uint32_t fake_mem_u32(struct fake_mem *fm, guest_addr_t addr)
{
    return (uint32_t)fake_mem_get(fm, addr, 4);
}

static inline uint16_t fake_mem_u16(struct fake_mem *fm, guest_addr_t addr)
{
    return (uint16_t)fake_mem_get(fm, addr, 2);
}

/* True when every byte of [addr, addr + len) still holds FAKE_MEM_FILL. */
static inline bool fake_mem_untouched(struct fake_mem *fm, guest_addr_t addr, size_t len)
{
    const uint8_t *p = fake_mem_at(fm, addr, len);
    for (size_t i = 0; i < len; i++)
        if (p[i] != FAKE_MEM_FILL)
            return false;
    return true;
}

/* True when every byte of [addr, addr + len) is zero. */
static inline bool fake_mem_zero(struct fake_mem *fm, guest_addr_t addr, size_t len)
{
    const uint8_t *p = fake_mem_at(fm, addr, len);
    for (size_t i = 0; i < len; i++)
        if (p[i] != 0)
            return false;
    return true;
}

#endif
