#include "arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* An array whose elements from *hwm on read as zero (arena_bound). */
struct bound {
    size_t off, elem, cap;
    const uint32_t *hwm;
    uint32_t saved; /* *hwm when the snapshot was taken */
};

/* A run of bytes to copy, as an offset into the arena. */
struct span {
    size_t off, len;
};

struct spans {
    struct span *v;
    size_t n, cap;
};

struct arena {
    uint8_t *base;
    size_t reserved;
    size_t used;
    struct bound *bounds;
    size_t nbounds, cap_bounds;
    /* The snapshot: the arena's written spans and their bytes, one after the other. */
    bool snap;
    size_t snap_used;
    struct spans live;
    uint8_t *data;
    size_t data_cap, data_len;
    struct spans scratch[2]; /* restore's work lists, kept to avoid allocating */
    bool verify;
    uint8_t *whole; /* with verification: the whole used arena */
};

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "rseqemu: internal error: out of memory for the state arena's snapshot\n");
        abort();
    }
    return q;
}

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
    free(arena->bounds);
    free(arena->live.v);
    free(arena->scratch[0].v);
    free(arena->scratch[1].v);
    free(arena->data);
    free(arena->whole);
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

void arena_bound(struct arena *arena, const void *array, size_t elem_size, size_t capacity,
                 const uint32_t *hwm)
{
    if (arena->snap) {
        fprintf(stderr, "rseqemu: internal error: arena bound declared during a snapshot\n");
        abort();
    }
    if (arena->nbounds == arena->cap_bounds) {
        arena->cap_bounds = arena->cap_bounds ? 2 * arena->cap_bounds : 64;
        arena->bounds = xrealloc(arena->bounds, arena->cap_bounds * sizeof(*arena->bounds));
    }
    arena->bounds[arena->nbounds++] = (struct bound){
        .off = (size_t)((const uint8_t *)array - arena->base),
        .elem = elem_size,
        .cap = capacity,
        .hwm = hwm,
    };
}

static void spans_push(struct spans *s, size_t off, size_t len)
{
    if (len == 0)
        return;
    if (s->n && s->v[s->n - 1].off + s->v[s->n - 1].len == off) {
        s->v[s->n - 1].len += len;
        return;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = (struct span){off, len};
}

static int span_order(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* The written part of [0, used): everything but the tails of the bounded arrays, each cut at
 * hwm(i) elements. */
static void live_spans(struct arena *arena, size_t used, uint32_t (*hwm)(const struct bound *),
                       struct spans *out)
{
    struct spans *dead = &arena->scratch[1];
    dead->n = 0;
    for (size_t i = 0; i < arena->nbounds; i++) {
        const struct bound *b = &arena->bounds[i];
        uint32_t h = hwm(b);
        size_t from = b->off + (h < b->cap ? h : b->cap) * b->elem, to = b->off + b->cap * b->elem;
        if (from < to)
            spans_push(dead, from, to - from);
    }
    qsort(dead->v, dead->n, sizeof(*dead->v), span_order);
    out->n = 0;
    size_t at = 0;
    for (size_t i = 0; i < dead->n && at < used; i++) {
        size_t from = dead->v[i].off, to = from + dead->v[i].len;
        if (from > at)
            spans_push(out, at, (from < used ? from : used) - at);
        if (to > at)
            at = to;
    }
    if (at < used)
        spans_push(out, at, used - at);
}

static uint32_t hwm_now(const struct bound *b) { return *b->hwm; }
static uint32_t hwm_saved(const struct bound *b) { return b->saved; }

void arena_snapshot_take(struct arena *arena)
{
    arena_snapshot_drop(arena);
    for (size_t i = 0; i < arena->nbounds; i++)
        arena->bounds[i].saved = *arena->bounds[i].hwm;
    live_spans(arena, arena->used, hwm_saved, &arena->live);
    size_t total = 0;
    for (size_t i = 0; i < arena->live.n; i++)
        total += arena->live.v[i].len;
    if (total > arena->data_cap) {
        arena->data = xrealloc(arena->data, total);
        arena->data_cap = total;
    }
    uint8_t *d = arena->data;
    for (size_t i = 0; i < arena->live.n; i++) {
        memcpy(d, arena->base + arena->live.v[i].off, arena->live.v[i].len);
        d += arena->live.v[i].len;
    }
    arena->data_len = total;
    arena->snap_used = arena->used;
    if (arena->verify) {
        arena->whole = xrealloc(arena->whole, arena->used);
        memcpy(arena->whole, arena->base, arena->used);
    }
    arena->snap = true;
}

/* Bytes written since the snapshot where it had none: in the live part now, not then. They
 * read as zero in the snapshot. */
static void zero_new_spans(struct arena *arena)
{
    bool grew = arena->used > arena->snap_used;
    for (size_t i = 0; i < arena->nbounds && !grew; i++)
        grew = *arena->bounds[i].hwm > arena->bounds[i].saved;
    if (!grew)
        return;
    struct spans *now = &arena->scratch[0];
    live_spans(arena, arena->used, hwm_now, now);
    const struct spans *then = &arena->live;
    size_t j = 0;
    for (size_t i = 0; i < now->n; i++) {
        size_t at = now->v[i].off, end = at + now->v[i].len;
        while (at < end) {
            while (j < then->n && then->v[j].off + then->v[j].len <= at)
                j++;
            size_t next = j < then->n ? then->v[j].off : end;
            if (next > at) { /* [at, next) was not live then */
                size_t stop = next < end ? next : end;
                memset(arena->base + at, 0, stop - at);
                at = stop;
            } else { /* inside then's span j */
                size_t stop = then->v[j].off + then->v[j].len;
                at = stop < end ? stop : end;
            }
        }
    }
}

void arena_snapshot_restore(struct arena *arena)
{
    if (!arena->snap)
        return;
    zero_new_spans(arena);
    arena->used = arena->snap_used;
    const uint8_t *d = arena->data;
    for (size_t i = 0; i < arena->live.n; i++) {
        memcpy(arena->base + arena->live.v[i].off, d, arena->live.v[i].len);
        d += arena->live.v[i].len;
    }
}

void arena_snapshot_drop(struct arena *arena)
{
    arena->snap = false;
    arena->live.n = 0;
    arena->data_len = 0;
}

size_t arena_snapshot_bytes(const struct arena *arena) { return arena->data_len; }

void arena_snapshot_set_verify(struct arena *arena, bool on) { arena->verify = on; }

bool arena_snapshot_verify(const struct arena *arena, size_t *bad_offset)
{
    if (!arena->snap || !arena->verify || !arena->whole ||
        memcmp(arena->base, arena->whole, arena->snap_used) == 0)
        return true;
    for (size_t i = 0; i < arena->snap_used; i++) {
        if (arena->base[i] != arena->whole[i]) {
            if (bad_offset)
                *bad_offset = i;
            return false;
        }
    }
    return true;
}
