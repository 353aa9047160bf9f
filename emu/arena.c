#include "arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

struct arena {
    uint8_t *base;
    size_t reserved;
    size_t used;
};

struct arena *arena_create(size_t reserve_bytes)
{
    struct arena *arena = calloc(1, sizeof(*arena));
    if (!arena)
        return NULL;
    reserve_bytes = (reserve_bytes + 4095) & ~(size_t)4095;
    void *p = mmap(NULL, reserve_bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        free(arena);
        return NULL;
    }
    arena->base = p;
    arena->reserved = reserve_bytes;
    return arena;
}

void arena_destroy(struct arena *arena)
{
    if (!arena)
        return;
    munmap(arena->base, arena->reserved);
    free(arena);
}

void *arena_alloc(struct arena *arena, size_t size, size_t align)
{
    size_t start = (arena->used + align - 1) & ~(align - 1);
    if (start > arena->reserved || size > arena->reserved - start) {
        fprintf(stderr, "rseqemu: internal error: state arena of %zu bytes exhausted\n",
                arena->reserved);
        abort();
    }
    arena->used = start + size;
    return arena->base + start; /* fresh anonymous pages read as zero */
}

size_t arena_used(const struct arena *arena) { return arena->used; }
void *arena_base(const struct arena *arena) { return arena->base; }
