/* The state arena: every piece of mutable machine state above the engine lives here.
 *
 * The kernel model allocates its tables once, at start-up, from one page-aligned region.
 * Nothing in the arena points to the C heap, so the whole model can be copied out and back
 * in place (snapshot.h), and pointers inside it stay valid across a restore. */
#ifndef RSEQEMU_EMU_ARENA_H
#define RSEQEMU_EMU_ARENA_H

#include <stddef.h>

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

#endif
