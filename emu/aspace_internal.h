/* Inside emu/: an address space's mappings as aspace.c keeps them, for the files that snapshot
 * and restore them (snapshot.c). */
#ifndef RSEQEMU_EMU_ASPACE_INTERNAL_H
#define RSEQEMU_EMU_ASPACE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "aspace.h"
#include "emu_internal.h"
#include "store_watch.h"
#include "watch.h"

struct backend;

struct vma {
    guest_addr_t start, end;
    int prot, flags;
    uint8_t *host; /* host address of start */
    uint64_t backing_id, backing_off;
    uint32_t epoch; /* the snapshot epoch its host memory was allocated in (snapshot.c) */
};

/* The part of an address space that lives in the arena. Its tables are bounded (arena_bound):
 * each *_hwm is the most entries the table ever held. */
struct aspace_state {
    bool in_use;
    size_t count;
    size_t find_hint; /* index of the VMA vma_find() found last */
    uint64_t next_backing_id;
    int ntime_sites;
    uint32_t vma_hwm, time_hwm;
    struct time_site time_sites[ASPACE_TIME_SITES_MAX];
    struct watch_table watch;
    struct store_watch_table store_watch;
    struct vma vmas[ASPACE_VMA_MAX];
};

/* Every slot an address space can take, in the arena. */
struct aspace_table {
    uint32_t slots_hwm;
    struct aspace_state slots[EMU_ASPACE_MAX];
};

struct aspace {
    struct emu *emu;
    int id;
    struct aspace_state *st;
    struct backend *be;
};

struct backend *aspace_backend(const struct aspace *as);

/* An engine is filling a TLB entry for vaddr: a writable page is noted for the snapshot before
 * the access goes on. True when the page is writable and cannot hold code. */
bool aspace_tlb_fill(struct aspace *as, guest_addr_t vaddr);

/* Frees an address space's engines and its memory now, whatever a snapshot says (snapshot.c
 * decides when that is right). */
void aspace_free(struct aspace *as);

#endif
