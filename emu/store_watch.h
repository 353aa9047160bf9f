/* Inside emu/: guest stores attributed to the instruction that made them. With
 * emu_config.store_watch every engine carries a memory-write hook (which sends every guest
 * load and store down the engine's slow path, so it is opt-in); the hook notes, for each
 * 4-byte word of a watched range, the address of the last instruction that stored to it. */
#ifndef RSEQEMU_EMU_STORE_WATCH_H
#define RSEQEMU_EMU_STORE_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/arch.h"

#define STORE_WATCH_MAX   64 /* ranges per address space */
#define STORE_WATCH_WORDS 8  /* a range covers at most 32 bytes */

struct store_watch_range {
    guest_addr_t start;
    uint32_t words;
    uint32_t stored; /* bit i: word i was stored to since it was last taken */
    guest_addr_t pc[STORE_WATCH_WORDS];
};

/* Lives in the arena with the rest of the address space; unsorted, a handful of entries. */
struct store_watch_table {
    uint32_t count;
    uint32_t hwm; /* ranges at or above have never been written (arena_bound) */
    struct store_watch_range ranges[STORE_WATCH_MAX];
};

/* Whether a store of size bytes at addr touches a watched range (the hook's cheap test). */
bool store_watch_covers(const struct store_watch_table *w, guest_addr_t addr, int size);
/* A guest store of size bytes at addr by the instruction at pc. */
void store_watch_note(struct store_watch_table *w, guest_addr_t addr, int size, guest_addr_t pc);

struct aspace;
struct store_watch_table *aspace_store_watch_table(const struct aspace *as);

#endif
