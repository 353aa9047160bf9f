/* Stores to watched words of an address space (aspace_store_watch_*). */
#include "store_watch.h"

#include "arena.h"
#include "aspace.h"

static bool overlaps(const struct store_watch_range *r, guest_addr_t addr, guest_addr_t end)
{
    return end > r->start && addr < r->start + 4 * (guest_addr_t)r->words;
}

bool store_watch_covers(const struct store_watch_table *w, guest_addr_t addr, int size)
{
    for (uint32_t i = 0; i < w->count; i++)
        if (overlaps(&w->ranges[i], addr, addr + (guest_addr_t)size))
            return true;
    return false;
}

void store_watch_note(struct store_watch_table *w, guest_addr_t addr, int size, guest_addr_t pc)
{
    guest_addr_t end = addr + (guest_addr_t)size;
    for (uint32_t i = 0; i < w->count; i++) {
        struct store_watch_range *r = &w->ranges[i];
        if (!overlaps(r, addr, end))
            continue;
        guest_addr_t rend = r->start + 4 * (guest_addr_t)r->words;
        guest_addr_t lo = addr > r->start ? addr : r->start, hi = end < rend ? end : rend;
        for (guest_addr_t a = lo & ~(guest_addr_t)3; a < hi; a += 4) {
            uint32_t word = (uint32_t)((a - r->start) / 4);
            r->pc[word] = pc;
            r->stored |= 1u << word;
        }
    }
}

static struct store_watch_range *range_at(struct store_watch_table *w, guest_addr_t start)
{
    for (uint32_t i = 0; i < w->count; i++)
        if (w->ranges[i].start == start)
            return &w->ranges[i];
    return NULL;
}

int aspace_store_watch_add(struct aspace *as, guest_addr_t start, uint32_t len)
{
    struct store_watch_table *w = aspace_store_watch_table(as);
    if ((start & 3) || len == 0 || len > 4 * STORE_WATCH_WORDS)
        return -LX_EINVAL;
    struct store_watch_range *r = range_at(w, start);
    if (!r) {
        if (w->count == STORE_WATCH_MAX)
            return -LX_ENOMEM;
        r = &w->ranges[w->count++];
        arena_hwm_raise(&w->hwm, w->count);
    }
    *r = (struct store_watch_range){.start = start, .words = (len + 3) / 4};
    return 0;
}

void aspace_store_watch_remove(struct aspace *as, guest_addr_t start)
{
    struct store_watch_table *w = aspace_store_watch_table(as);
    struct store_watch_range *r = range_at(w, start);
    if (r)
        *r = w->ranges[--w->count];
}

bool aspace_store_watch_take(struct aspace *as, guest_addr_t addr, guest_addr_t *pc)
{
    struct store_watch_table *w = aspace_store_watch_table(as);
    for (uint32_t i = 0; i < w->count; i++) {
        struct store_watch_range *r = &w->ranges[i];
        if (addr < r->start || addr - r->start >= 4 * (guest_addr_t)r->words)
            continue;
        uint32_t bit = 1u << ((addr - r->start) / 4);
        if (!(r->stored & bit))
            return false;
        r->stored &= ~bit;
        *pc = r->pc[(addr - r->start) / 4];
        return true;
    }
    return false;
}
