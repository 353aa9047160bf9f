/* Snapshots of the machine, restored in place.
 *
 * Guest memory is copied lazily: after a snapshot every engine's TLB is empty, so the first
 * access to a writable page refills it through engine_pages.c, which saves the page before the
 * access goes on; the kernel model's own writes go through aspace.c, which does the same, and
 * so does an unmap, before it gives the host pages back. A restore copies back only the pages
 * touched since (and leaves their saved copies for the next time), then empties the TLBs again.
 * Translated code survives: only code pages that were written or remapped are invalidated.
 *
 * Mappings: each address space's windows (windows.h) last as long as it does, so its host
 * addresses never change. Memory mapped since the snapshot is recorded as young ranges; a
 * restore makes them zeros again (or private again where shared memory was placed), gives back
 * the shared memory made since, and places again the shared memory the snapshot's mappings
 * had. An address space that ends keeps its windows until a restore brings it back or the
 * snapshot is dropped. Each engine's CPU state is restored whole, so that nothing of a restored
 * run depends on the runs before it.
 *
 * The state arena (arena.h) is restored last, after the mappings, whose current list lives in
 * it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arena.h"
#include "aspace_internal.h"
#include "backend.h"
#include "emu.h"
#include "shm.h"

#define PAGE 4096ULL

struct saved_page {
    uint8_t *host;
    uint8_t *copy;
    guest_addr_t vaddr;
    int as_id;
    bool exec;
    bool touched; /* since the snapshot or the last restore */
};

/* An address space as the snapshot found it. */
struct slot_snap {
    struct aspace *obj; /* NULL: the slot was free */
    struct vma *vmas;   /* its shared mappings, whose memory a restore places again */
    size_t count, cap;
    struct cpu_ctx *loaded;
    /* It ended since: its windows still hold these mappings. */
    bool gone;
    struct vma *gone_vmas; /* its shared mappings when it ended */
    size_t gone_count, gone_cap;
};

struct emu_snap {
    bool active;
    struct saved_page *pages;
    size_t npages, cap_pages;
    uint32_t *index; /* open addressing on the host page: 1 + index into pages, 0 empty */
    size_t index_cap;
    uint32_t *touched;
    size_t ntouched, cap_touched;
    uint64_t shm_size; /* shared memory made before the snapshot (shm.h) */
    struct slot_snap slots[EMU_ASPACE_MAX];
    struct vma *now; /* an address space's mappings at a restore */
    size_t now_count, now_cap;
    struct aspace *young_as[EMU_ASPACE_MAX];
    struct emu_snapshot_stats stats;
};

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "rseqemu: internal error: out of memory for a snapshot\n");
        abort();
    }
    return q;
}

#define GROW(ptr, n, cap)                                                                          \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            (cap) = (cap) ? 2 * (cap) : 64;                                                        \
            (ptr) = xrealloc((ptr), (cap) * sizeof(*(ptr)));                                       \
        }                                                                                          \
    } while (0)

static struct emu_snap *snap_of(struct emu *emu)
{
    if (!emu->snap) {
        emu->snap = calloc(1, sizeof(*emu->snap));
        if (!emu->snap) {
            fprintf(stderr, "rseqemu: internal error: out of memory for a snapshot\n");
            abort();
        }
    }
    return emu->snap;
}

/* ---- saved pages ---- */

static size_t page_hash(const uint8_t *host, size_t cap)
{
    uint64_t x = (uint64_t)(uintptr_t)host >> 12;
    x *= 0x9e3779b97f4a7c15ULL;
    return (size_t)(x >> 20) & (cap - 1);
}

static void index_grow(struct emu_snap *s)
{
    size_t cap = s->index_cap ? 2 * s->index_cap : 1024;
    free(s->index);
    s->index = calloc(cap, sizeof(*s->index));
    if (!s->index) {
        fprintf(stderr, "rseqemu: internal error: out of memory for a snapshot\n");
        abort();
    }
    s->index_cap = cap;
    for (size_t i = 0; i < s->npages; i++) {
        size_t h = page_hash(s->pages[i].host, cap);
        while (s->index[h])
            h = (h + 1) & (cap - 1);
        s->index[h] = (uint32_t)i + 1;
    }
}

static struct saved_page *page_find(struct emu_snap *s, const uint8_t *host, size_t *slot)
{
    size_t h = page_hash(host, s->index_cap);
    for (; s->index[h]; h = (h + 1) & (s->index_cap - 1))
        if (s->pages[s->index[h] - 1].host == host)
            return &s->pages[s->index[h] - 1];
    *slot = h;
    return NULL;
}

static void page_touch(struct emu_snap *s, struct saved_page *p)
{
    if (p->touched)
        return;
    p->touched = true;
    GROW(s->touched, s->ntouched, s->cap_touched);
    s->touched[s->ntouched++] = (uint32_t)(p - s->pages);
}

void snap_page_write(struct emu *emu, uint8_t *host, int prot, int as_id, guest_addr_t vaddr)
{
    struct emu_snap *s = emu->snap;
    if (!s || !s->active)
        return;
    if (2 * (s->npages + 1) > s->index_cap)
        index_grow(s);
    size_t slot;
    struct saved_page *p = page_find(s, host, &slot);
    if (!p) {
        GROW(s->pages, s->npages, s->cap_pages);
        p = &s->pages[s->npages];
        *p = (struct saved_page){.host = host, .vaddr = vaddr, .as_id = as_id};
        p->copy = malloc(PAGE);
        if (!p->copy) {
            fprintf(stderr, "rseqemu: internal error: out of memory for a snapshot\n");
            abort();
        }
        memcpy(p->copy, host, PAGE);
        s->index[slot] = (uint32_t)++s->npages;
        s->stats.pages_saved++;
    }
    p->exec |= (prot & LX_PROT_EXEC) != 0;
    page_touch(s, p);
}

/* ---- memory mapped since ---- */

bool snap_shm_young(const struct emu *emu, uint64_t off)
{
    return emu->snap && emu->snap->active && off >= emu->snap->shm_size;
}

void snap_young_range(struct aspace *as, guest_addr_t start, uint64_t len, bool shared, bool exec)
{
    if (!emu_snapshot_active(as->emu) || len == 0)
        return;
    struct young_ranges *y = &as->young;
    /* Mappings are mostly made next to the one before: extend it. */
    if (y->n > 0) {
        struct young_range *last = &y->v[y->n - 1];
        if (last->shared == shared && (last->end == start || start + len == last->start)) {
            last->start = last->start < start ? last->start : start;
            last->end = last->end > start + len ? last->end : start + len;
            last->exec |= exec;
            return;
        }
    }
    GROW(y->v, y->n, y->cap);
    y->v[y->n++] = (struct young_range){start, start + len, shared, exec};
}

static void discard_cb(void *ctx, uint8_t *host, uint64_t len)
{
    (void)ctx;
    madvise(host, len, MADV_DONTNEED);
}

static void unplace_cb(void *ctx, uint8_t *host, uint64_t len)
{
    (void)ctx;
    shm_unplace(host, len);
}

struct place_cb_ctx {
    const struct emu *emu;
    uint64_t off;
};

static void place_cb(void *ctx, uint8_t *host, uint64_t len)
{
    struct place_cb_ctx *c = ctx;
    shm_place(c->emu, host, len, c->off);
    c->off += len;
}

/* The memory of as mapped since the snapshot reads as zeros again. */
static void young_restore(struct emu_snap *s, struct aspace *as)
{
    for (size_t i = 0; i < as->young.n; i++) {
        const struct young_range *r = &as->young.v[i];
        windows_for_each_piece(as, r->start, r->end, r->shared ? unplace_cb : discard_cb, NULL);
        if (r->exec)
            backend_code_changed(as->be, r->start, r->end - r->start);
        s->stats.regions_changed++;
    }
    as->young.n = 0;
    windows_young_forget(as);
}

/* ---- address spaces ---- */

struct vma_list {
    struct vma *v;
    size_t n;
};

static void list_vma_cb(void *ctx, const struct vma *v)
{
    struct vma_list *l = ctx;
    if (v->flags & ASPACE_MAP_SHARED)
        l->v[l->n++] = *v;
}

/* The shared mappings of as, in address order, into *dst: the only ones whose memory a
 * restore must place again (placements_restore()). */
static void copy_vmas(const struct aspace *as, struct vma **dst, size_t *count, size_t *cap)
{
    size_t n = vma_tree_count(&as->st->vmas);
    if (n > *cap) {
        *cap = n;
        *dst = xrealloc(*dst, *cap * sizeof(**dst));
    }
    struct vma_list l = {*dst, 0};
    vma_tree_walk(&as->st->vmas, list_vma_cb, &l);
    *count = l.n;
}

void snap_aspace_created(struct emu *emu, struct aspace *as)
{
    struct emu_snap *s = emu->snap;
    if (s && s->active)
        s->young_as[as->id] = as;
}

bool snap_aspace_release(struct emu *emu, struct aspace *as)
{
    struct emu_snap *s = emu->snap;
    if (!s || !s->active)
        return true;
    if (s->young_as[as->id] == as) {
        s->young_as[as->id] = NULL;
        return true; /* its memory is freed at the restore, with the rest made since */
    }
    struct slot_snap *ss = NULL;
    for (int i = 0; i < EMU_ASPACE_MAX && !ss; i++)
        if (s->slots[i].obj == as)
            ss = &s->slots[i];
    if (!ss)
        return true;
    /* Its engines keep their regions: what they map is what a restore compares. */
    ss->gone = true;
    copy_vmas(as, &ss->gone_vmas, &ss->gone_count, &ss->gone_cap);
    windows_uncharge_all(as); /* its memory is the guest's no more, but kept for a restore */
    vma_tree_clear(&as->st->vmas);
    as->st->in_use = false;
    emu->aspaces[as->id] = NULL;
    return false;
}

static bool same_placement(const struct vma *a, const struct vma *b)
{
    return a->start == b->start && a->end == b->end && a->flags == b->flags &&
           a->shm_off == b->shm_off;
}

static bool vma_listed(const struct vma *v, const struct vma *list, size_t n)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (list[mid].start < v->start)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && same_placement(&list[lo], v);
}

/* The windows of as hold the mappings `now`: place the shared memory of the snapshot's
 * mappings `then` where it is not placed any more. */
static void placements_restore(struct emu_snap *s, struct aspace *as, const struct vma *now,
                               size_t nnow, const struct vma *then, size_t nthen)
{
    for (size_t i = 0; i < nthen; i++) {
        const struct vma *v = &then[i];
        if (!(v->flags & ASPACE_MAP_SHARED) || vma_listed(v, now, nnow))
            continue;
        struct place_cb_ctx c = {as->emu, v->shm_off};
        windows_for_each_piece(as, v->start, v->end, place_cb, &c);
        s->stats.regions_changed++;
    }
}

/* ---- the snapshot ---- */

static void forget_pages(struct emu_snap *s)
{
    for (size_t i = 0; i < s->npages; i++)
        free(s->pages[i].copy);
    s->npages = 0;
    s->ntouched = 0;
    if (s->index)
        memset(s->index, 0, s->index_cap * sizeof(*s->index));
}

static void tlb_flush_all(struct emu *emu)
{
    for (int i = 0; i < EMU_ASPACE_MAX; i++)
        if (emu->aspaces[i])
            backend_tlb_flush(aspace_backend(emu->aspaces[i]));
}

void emu_snapshot_drop(struct emu *emu)
{
    struct emu_snap *s = emu->snap;
    if (!s || !s->active)
        return;
    s->active = false;
    for (int i = 0; i < EMU_ASPACE_MAX; i++) {
        struct slot_snap *ss = &s->slots[i];
        if (ss->obj && ss->gone)
            aspace_free(ss->obj);
        ss->obj = NULL;
        ss->gone = false;
        s->young_as[i] = NULL;
    }
    for (int i = 0; i < EMU_ASPACE_MAX; i++) {
        if (emu->aspaces[i]) {
            emu->aspaces[i]->young.n = 0;
            windows_young_forget(emu->aspaces[i]);
        }
    }
    forget_pages(s);
    arena_snapshot_drop(emu->arena);
}

void emu_snapshot_take(struct emu *emu)
{
    emu_snapshot_drop(emu);
    struct emu_snap *s = snap_of(emu);
    s->active = true;
    s->shm_size = emu->shm_size;
    emu->mem_pages_snap = emu->mem_pages;
    for (int i = 0; i < EMU_ASPACE_MAX; i++) {
        struct aspace *as = emu->aspaces[i];
        struct slot_snap *ss = &s->slots[i];
        ss->obj = as;
        if (!as)
            continue;
        struct backend *b = aspace_backend(as);
        copy_vmas(as, &ss->vmas, &ss->count, &ss->cap);
        windows_charge_save(as);
        ss->loaded = backend_loaded(b);
        backend_env_save(b);
    }
    /* Every page a run writes from now on first refills a TLB entry, and is saved then. */
    tlb_flush_all(emu);
    arena_snapshot_take(emu->arena);
}

void emu_snapshot_restore(struct emu *emu)
{
    struct emu_snap *s = emu->snap;
    if (!s || !s->active)
        return;
    s->stats.restores++;
    for (int i = 0; i < EMU_ASPACE_MAX; i++) {
        if (s->young_as[i]) {
            aspace_free(s->young_as[i]);
            s->young_as[i] = NULL;
        }
    }
    for (int i = 0; i < EMU_ASPACE_MAX; i++) {
        struct slot_snap *ss = &s->slots[i];
        struct aspace *as = ss->obj;
        if (!as)
            continue;
        young_restore(s, as);
        windows_charge_restore(as);
        if (ss->gone) {
            placements_restore(s, as, ss->gone_vmas, ss->gone_count, ss->vmas, ss->count);
            ss->gone = false;
            emu->aspaces[i] = as;
        } else if (ss->count) {
            copy_vmas(as, &s->now, &s->now_count, &s->now_cap);
            placements_restore(s, as, s->now, s->now_count, ss->vmas, ss->count);
        }
        backend_env_restore(as->be);
        backend_set_loaded(as->be, ss->loaded);
    }
    emu->mem_pages = emu->mem_pages_snap;
    if (emu->shm_size > s->shm_size) {
        shm_discard(emu, s->shm_size, emu->shm_size - s->shm_size);
        emu->shm_size = s->shm_size;
    }
    for (size_t i = 0; i < s->ntouched; i++) {
        struct saved_page *p = &s->pages[s->touched[i]];
        memcpy(p->host, p->copy, PAGE);
        p->touched = false;
        if (p->exec && emu->aspaces[p->as_id])
            backend_code_changed(aspace_backend(emu->aspaces[p->as_id]), p->vaddr, PAGE);
    }
    s->stats.pages_restored += s->ntouched;
    s->stats.last_pages = s->ntouched;
    s->ntouched = 0;
    tlb_flush_all(emu);
    arena_snapshot_restore(emu->arena);
    for (int i = 0; i < EMU_ASPACE_MAX; i++)
        if (emu->aspaces[i])
            backend_watch_refresh(aspace_backend(emu->aspaces[i]));
}

bool emu_snapshot_active(const struct emu *emu) { return emu->snap && emu->snap->active; }

void emu_snapshot_stats(const struct emu *emu, struct emu_snapshot_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!emu->snap)
        return;
    *out = emu->snap->stats;
    out->arena_bytes = arena_snapshot_bytes(emu->arena);
    out->pages_kept = emu->snap->npages;
}

void snap_destroy(struct emu *emu)
{
    struct emu_snap *s = emu->snap;
    if (!s)
        return;
    emu_snapshot_drop(emu);
    for (int i = 0; i < EMU_ASPACE_MAX; i++) {
        free(s->slots[i].vmas);
        free(s->slots[i].gone_vmas);
    }
    free(s->now);
    free(s->pages);
    free(s->index);
    free(s->touched);
    free(s);
    emu->snap = NULL;
}
