/* Inside emu/: an address space's mappings as aspace.c keeps them, for the files that snapshot
 * and restore them (snapshot.c). */
#ifndef RSEQEMU_EMU_ASPACE_INTERNAL_H
#define RSEQEMU_EMU_ASPACE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "aspace.h"
#include "emu_internal.h"
#include "store_watch.h"
#include "vma_tree.h"
#include "watch.h"
#include "windows.h"

struct backend;

/* The part of an address space that lives in the arena. Its tables are bounded (arena_bound):
 * each *_hwm is the most entries the table ever held. */
struct aspace_state {
    bool in_use;
    uint64_t next_backing_id; /* also numbers anon_vmas (vma_tree.h) */
    int ntime_sites;
    uint32_t time_hwm;
    struct time_site time_sites[ASPACE_TIME_SITES_MAX];
    struct watch_table watch;
    struct store_watch_table store_watch;
    struct vma_tree vmas;
};

/* Every slot an address space can take, in the arena. */
struct aspace_table {
    struct vma_pool *vma_pool; /* the mappings of every slot */
    uint32_t slots_hwm;
    struct aspace_state slots[EMU_ASPACE_MAX];
};

/* Memory mapped since the snapshot (snapshot.c). */
struct young_range {
    guest_addr_t start, end;
    bool shared, exec;
};

struct young_ranges {
    struct young_range *v;
    size_t n, cap;
};

struct aspace {
    struct emu *emu;
    int id;
    struct aspace_state *st;
    struct backend *be;
    struct window_set win;
    bool windows_full_noted, vma_pool_full_noted;
    struct young_ranges young;
};

struct backend *aspace_backend(const struct aspace *as);

/* Engine permissions (bits as UC_PROT_READ/WRITE/EXEC) of the page holding vaddr, or -1 when no
 * mapping covers it: the engine enforces these (fast_stores.c). */
int aspace_page_perms(const struct aspace *as, guest_addr_t vaddr);
/* An engine is filling a TLB entry for vaddr: a writable page is noted for the snapshot before
 * the access goes on. Returns aspace_page_perms(); *fast: the page is writable and cannot hold
 * code. */
int aspace_tlb_fill(struct aspace *as, guest_addr_t vaddr, bool *fast);

/* Frees an address space's engines and its memory now, whatever a snapshot says (snapshot.c
 * decides when that is right). */
void aspace_free(struct aspace *as);

#endif
