/* Watched code ranges of an address space (aspace_watch_*). */
#include "watch.h"

#include <string.h>

#include "arena.h"
#include "aspace.h"
#include "backend.h"

struct backend *aspace_backend(const struct aspace *as);

/* Index of the first range whose start is >= addr. */
static uint32_t first_at_or_after(const struct watch_table *w, guest_addr_t addr)
{
    uint32_t lo = 0, hi = w->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (w->ranges[mid].start < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

uint32_t watch_hits(const struct watch_table *w, guest_addr_t start, guest_addr_t end)
{
    uint32_t kinds = 0;
    for (uint32_t i = first_at_or_after(w, start); i < w->count && w->ranges[i].start < end; i++)
        kinds |= w->ranges[i].kinds;
    return kinds;
}

int aspace_watch_add(struct aspace *as, guest_addr_t start, guest_addr_t end, int kind)
{
    struct watch_table *w = aspace_watch_table(as);
    if (end <= start || end - start > WATCH_RANGE_LEN_MAX)
        return -LX_EINVAL;
    uint32_t i = first_at_or_after(w, start);
    for (uint32_t j = i; j < w->count && w->ranges[j].start == start; j++) {
        if (w->ranges[j].end == end) {
            bool known = w->ranges[j].kinds & (uint32_t)kind;
            w->ranges[j].kinds |= (uint32_t)kind;
            return known ? 1 : 0;
        }
    }
    if (w->count == WATCH_RANGES_MAX)
        return -LX_ENOMEM;
    memmove(&w->ranges[i + 1], &w->ranges[i], (w->count - i) * sizeof(w->ranges[0]));
    w->ranges[i] = (struct watch_range){.start = start, .end = end, .kinds = (uint32_t)kind};
    w->count++;
    arena_hwm_raise(&w->hwm, w->count);
    /* A translation block can start on the page before and run into the range. */
    w->pages[watch_page_slot(start)] = 1;
    w->pages[watch_page_slot(start - 4096)] = 1;
    backend_watch_changed(aspace_backend(as));
    return 0;
}

size_t aspace_watch_count(const struct aspace *as) { return aspace_watch_table(as)->count; }

void aspace_watch_at(const struct aspace *as, size_t index, guest_addr_t *start, guest_addr_t *end,
                     int *kinds)
{
    const struct watch_range *r = &aspace_watch_table(as)->ranges[index];
    *start = r->start;
    *end = r->end;
    *kinds = (int)r->kinds;
}

uint32_t *aspace_watch_find(struct aspace *as, guest_addr_t start, guest_addr_t end, int kind,
                            guest_addr_t *range_start, guest_addr_t *range_end)
{
    struct watch_table *w = aspace_watch_table(as);
    for (uint32_t i = first_at_or_after(w, start); i < w->count && w->ranges[i].start < end; i++) {
        if (w->ranges[i].kinds & (uint32_t)kind) {
            *range_start = w->ranges[i].start;
            *range_end = w->ranges[i].end;
            return &w->ranges[i].aux;
        }
    }
    return NULL;
}
