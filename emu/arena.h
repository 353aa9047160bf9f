/* The state arena: every piece of mutable machine state above the engine lives here.
 *
 * The kernel model allocates its tables once, at start-up, from one page-aligned region.
 * Nothing in the arena points to the C heap (the few host pointers it holds name objects that
 * live as long as the snapshot that may bring them back, snapshot.h), so the whole model can be
 * copied out and back in place, and pointers inside it stay valid across a restore.
 *
 * The tables are sized for the worst case (a thousand threads, thousands of mappings) and a run
 * uses a sliver of each, so a snapshot copies only what a run can have written: the arena minus
 * the never-written tails of the tables its owners declare with arena_bound(). */
#ifndef RSEQEMU_EMU_ARENA_H
#define RSEQEMU_EMU_ARENA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;

/* Reserves address space only; pages become resident when first written. */
struct arena *arena_create(size_t reserve_bytes);
void arena_destroy(struct arena *arena);

/* Zeroed memory; exhausting the reservation is a configuration error and aborts with a
 * message naming the arena's size. */
void *arena_alloc(struct arena *arena, size_t size, size_t align);
#define ARENA_NEW_ARRAY(arena, type, n)                                                            \
    ((type *)arena_alloc((arena), sizeof(type) * (n), _Alignof(type)))

size_t arena_used(const struct arena *arena);
void *arena_base(const struct arena *arena);

/* Declares that the elements of the arena array at `array` (capacity elements of elem_size
 * bytes) from index *hwm on have never been written since the arena was created: they read as
 * zero, and a snapshot need not copy them. *hwm lives in the arena; the owner raises it before
 * (or as) it writes an element at or beyond it and never lowers it. Bounds may nest (an array
 * inside an element of another). Declared before the first snapshot. */
void arena_bound(struct arena *arena, const void *array, size_t elem_size, size_t capacity,
                 const uint32_t *hwm);
/* The owner's side of a bound: elements below n are (or are about to be) written. */
static inline void arena_hwm_raise(uint32_t *hwm, size_t n)
{
    if (n > *hwm)
        *hwm = (uint32_t)n;
}

/* Snapshots: take copies the written part of the arena aside (replacing an earlier snapshot),
 * restore puts it back in place, as many times as wanted, drop forgets it. */
void arena_snapshot_take(struct arena *arena);
void arena_snapshot_restore(struct arena *arena);
void arena_snapshot_drop(struct arena *arena);
/* Bytes a restore copies back. */
size_t arena_snapshot_bytes(const struct arena *arena);

/* For tests of the bounds themselves: with verification on, take also keeps the whole used
 * arena, and arena_snapshot_verify() compares it after a restore: false, with the offset of
 * the first byte that differs, when a bound left out something a run wrote. */
void arena_snapshot_set_verify(struct arena *arena, bool on);
bool arena_snapshot_verify(const struct arena *arena, size_t *bad_offset);

#endif
