/* Inside emu/: an address space's mappings (VMAs), ordered by address, in the state arena.
 *
 * A treap keyed by start address whose nodes come from a pool in the arena that all the
 * machine's address spaces share, linked by index, so that a snapshot copies the trees with
 * the arena and a restore brings them back in place. Every operation is O(log n) expected: guests
 * make tens of thousands of mappings. Each subtree keeps its lowest start, highest end and largest
 * gap between two of its mappings, so that the highest free range of a given size is found without
 * a scan. Priorities come from a sequence number, never from the host. */
#ifndef RSEQEMU_EMU_VMA_TREE_H
#define RSEQEMU_EMU_VMA_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/arch.h"

struct arena;

/* Mappings of all address spaces together: one process at Linux's default vm.max_map_count
 * (65,530, which its checks let the count pass by a few) and as many again for the others. */
#define VMA_POOL_CAP 131072

struct vma {
    guest_addr_t start, end;
    int prot, flags;
    uint64_t backing_id, backing_off;
    uint64_t shm_off; /* ASPACE_MAP_SHARED: where start lies in the shared memory file (shm.h) */
    /* Private memory: which anon_vma its pages belong to once one was written (0: none yet),
     * for Linux's rule on which neighbours may merge (aspace.c). */
    uint64_t anon;
};

struct vma_node {
    struct vma v; /* first: a struct vma * from the tree is its node */
    uint32_t left, right, prio;
    uint32_t owner;      /* the tree's id, 0 while free */
    guest_addr_t lo, hi; /* the subtree's lowest start and highest end */
    uint64_t gap;        /* the subtree's largest gap between two consecutive mappings */
};

struct vma_pool {
    uint32_t free_list, fresh;
    uint32_t hwm;                            /* arena bound of nodes */
    struct vma_node nodes[VMA_POOL_CAP + 1]; /* index 0 is "none" */
};

struct vma_tree {
    struct vma_pool *pool;
    uint32_t id; /* non-zero, different for each tree of a pool */
    uint32_t root, count, seq;
    uint32_t hint; /* the node vma_tree_find() found last */
};

/* A pool in the arena, its never-written tail declared (arena_bound()). */
struct vma_pool *vma_pool_create(struct arena *arena);
/* An empty tree taking its nodes from pool; id (non-zero) tells its nodes from the others'. */
void vma_tree_init(struct vma_tree *t, struct vma_pool *pool, uint32_t id);
/* Gives every node back to the pool: the tree is empty. */
void vma_tree_clear(struct vma_tree *t);
size_t vma_tree_count(const struct vma_tree *t);

/* The mapping containing addr, or NULL. */
struct vma *vma_tree_find(const struct vma_tree *t, guest_addr_t addr);
/* The first mapping that ends above addr, or NULL. */
struct vma *vma_tree_ceil(const struct vma_tree *t, guest_addr_t addr);
/* The last mapping that starts below addr, or NULL. */
struct vma *vma_tree_below(const struct vma_tree *t, guest_addr_t addr);

/* Adds v, which overlaps no mapping: its node, or NULL when the pool is full. */
struct vma *vma_tree_insert(struct vma_tree *t, const struct vma *v);
/* Removes v, a mapping of the tree. */
void vma_tree_erase(struct vma_tree *t, struct vma *v);
/* v's start or end changed in place, overlapping nothing and keeping its order. */
void vma_tree_changed(struct vma_tree *t, const struct vma *v);

/* Highest page-aligned start of a free range of len bytes with end <= top and start >=
 * bottom; 0 if there is none. */
guest_addr_t vma_tree_gap_topdown(const struct vma_tree *t, uint64_t len, guest_addr_t bottom,
                                  guest_addr_t top);

/* Calls fn for every mapping in address order. */
void vma_tree_walk(const struct vma_tree *t, void (*fn)(void *ctx, const struct vma *v), void *ctx);

#endif
