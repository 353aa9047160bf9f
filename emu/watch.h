/* Inside emu/: the code an address space watches. A block "runs" a watched range when it
 * contains the range's first instruction: for a critical section that is its entry, for a
 * point its only instruction. The fast engine's block hook tests one byte per block (a page
 * hash) and only blocks on marked pages look at the ranges, so watching costs nothing where
 * there is nothing to watch. */
#ifndef RSEQEMU_EMU_WATCH_H
#define RSEQEMU_EMU_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/arch.h"

#define WATCH_PAGE_SLOTS    4096u /* a hash of page numbers: collisions only cost a range lookup */
#define WATCH_RANGES_MAX    1024u
#define WATCH_RANGE_LEN_MAX (1u << 16)

struct watch_range {
    guest_addr_t start, end;
    uint32_t kinds; /* enum aspace_watch_kind bits */
    uint32_t aux;   /* the owner's note (aspace_watch_find) */
};

/* Lives in the arena with the rest of the address space. Ranges are sorted by start. */
struct watch_table {
    uint32_t count;
    uint32_t hwm; /* ranges at or above have never been written (arena_bound) */
    uint8_t pages[WATCH_PAGE_SLOTS];
    struct watch_range ranges[WATCH_RANGES_MAX];
};

static inline uint32_t watch_page_slot(guest_addr_t addr)
{
    return (uint32_t)(addr >> 12) & (WATCH_PAGE_SLOTS - 1);
}

/* Kinds of the ranges whose first instruction is in [start, end), 0 if none. */
uint32_t watch_hits(const struct watch_table *w, guest_addr_t start, guest_addr_t end);

struct aspace;
struct watch_table *aspace_watch_table(const struct aspace *as);

#endif
