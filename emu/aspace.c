/* Guest mappings kept as a tree of VMAs in the state arena (vma_tree.h), backed by the address
 * space's windows (windows.h), whose host memory the engine uses directly; the protections are
 * the VMAs', which the engine asks for (aspace_page_perms()). Mappings are split, merged and
 * counted as Linux 6.1's mm/mmap.c and mm/mprotect.c do it, so that a guest sees the same
 * /proc/self/maps and meets vm.max_map_count at the same call. */
#include "aspace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arena.h"
#include "aspace_internal.h"
#include "backend.h"
#include "shm.h"

#define PAGE 4096ULL

static bool page_aligned(uint64_t v) { return (v & (PAGE - 1)) == 0; }

/* Host address of addr inside v, and in *avail the contiguous bytes from there. Shared memory
 * is reached through its canonical view, the same page whichever address space maps it. */
static uint8_t *vma_host(const struct aspace *as, const struct vma *v, guest_addr_t addr,
                         uint64_t *avail)
{
    if (v->flags & ASPACE_MAP_SHARED) {
        if (avail)
            *avail = v->end - addr;
        return shm_view(as->emu, v->shm_off + (addr - v->start));
    }
    return windows_host(as, addr, avail);
}

/* Memory made since the snapshot goes away whole at a restore: its pages need no copy.
 * Shared memory is young when the file grew since; private memory when it was mapped since. */
static bool page_young(const struct aspace *as, const struct vma *v, guest_addr_t pg)
{
    if (v->flags & ASPACE_MAP_SHARED)
        return snap_shm_young(as->emu, v->shm_off + (pg - v->start));
    return windows_young(as, pg);
}

/* Pages about to change: the snapshot keeps what they held (snapshot.c). */
static void snap_note(const struct aspace *as, const struct vma *v, guest_addr_t addr, size_t len,
                      int prot)
{
    if (!emu_snapshot_active(as->emu) || len == 0)
        return;
    for (guest_addr_t pg = addr & ~(PAGE - 1); pg < addr + len; pg += PAGE)
        if (!page_young(as, v, pg))
            snap_page_write(as->emu, vma_host(as, v, pg, NULL), prot, as->id, pg);
}

/* Code is about to be made in [s, e) of v: its translations must not outlive a restore of the
 * bytes under it. Old pages are kept with the mark; young ones are given back whole anyway,
 * and marked so that their translations go too. */
static void snap_note_code(struct aspace *as, const struct vma *v, guest_addr_t s, guest_addr_t e)
{
    if (!emu_snapshot_active(as->emu))
        return;
    guest_addr_t run = 0; /* start of the current run of young pages, 0: none */
    for (guest_addr_t pg = s; pg <= e; pg += PAGE) {
        bool young = pg < e && page_young(as, v, pg);
        if (young && !run)
            run = pg;
        if (!young && run) {
            snap_young_range(as, run, pg - run, v->flags & ASPACE_MAP_SHARED, true);
            run = 0;
        }
        if (pg < e && !young)
            snap_page_write(as->emu, vma_host(as, v, pg, NULL), LX_PROT_EXEC, as->id, pg);
    }
}

/* Private memory gets its anon_vma at its first write (Linux's anon_vma_prepare()); the engine
 * does not tell a read from a write, so the first touch of a writable mapping stands for it. */
static void vma_touch(struct aspace *as, const struct vma *v)
{
    if (!v->anon && !(v->flags & ASPACE_MAP_SHARED))
        ((struct vma *)v)->anon = as->st->next_backing_id++;
}

/* Pages about to be written: they count towards the guest's memory use (windows.h) too. */
static void note_write(const struct aspace *as, const struct vma *v, guest_addr_t addr, size_t len)
{
    if (len == 0)
        return;
    windows_charge((struct aspace *)as, addr, len);
    vma_touch((struct aspace *)as, v);
    snap_note(as, v, addr, len, v->prot);
}

/* Calls fn for each resident host page of [p, p+len) (page-aligned), in order. Pages never
 * touched read as zeros and need nothing. */
static void for_each_resident(uint8_t *p, uint64_t len, void (*fn)(void *ctx, uint64_t off),
                              void *ctx)
{
    unsigned char vec[256];
    for (uint64_t off = 0; off < len; off += PAGE * sizeof(vec)) {
        uint64_t chunk = len - off < PAGE * sizeof(vec) ? len - off : PAGE * sizeof(vec);
        bool known = mincore(p + off, chunk, vec) == 0;
        for (uint64_t pg = 0; pg * PAGE < chunk; pg++)
            if (!known || (vec[pg] & 1))
                fn(ctx, off + pg * PAGE);
    }
}

void aspace_table_init(struct emu *emu)
{
    struct aspace_table *t = ARENA_NEW_ARRAY(emu->arena, struct aspace_table, 1);
    emu->aspace_table = t;
    t->vma_pool = vma_pool_create(emu->arena);
    arena_bound(emu->arena, t->slots, sizeof(struct aspace_state), EMU_ASPACE_MAX, &t->slots_hwm);
    for (int i = 0; i < EMU_ASPACE_MAX; i++) {
        struct aspace_state *st = &t->slots[i];
        arena_bound(emu->arena, st->time_sites, sizeof(struct time_site), ASPACE_TIME_SITES_MAX,
                    &st->time_hwm);
        arena_bound(emu->arena, st->watch.ranges, sizeof(struct watch_range), WATCH_RANGES_MAX,
                    &st->watch.hwm);
        arena_bound(emu->arena, st->store_watch.ranges, sizeof(struct store_watch_range),
                    STORE_WATCH_MAX, &st->store_watch.hwm);
    }
}

struct aspace *aspace_create(struct emu *emu, const char **err)
{
    struct aspace_table *t = emu->aspace_table;
    int slot = -1;
    for (int i = 0; i < EMU_ASPACE_MAX; i++) {
        if (!t->slots[i].in_use && !emu->aspaces[i]) {
            slot = i;
            break;
        }
    }
    if (slot < 0) {
        *err = "too many address spaces";
        return NULL;
    }
    struct aspace *as = calloc(1, sizeof(*as));
    if (!as) {
        *err = "out of memory";
        return NULL;
    }
    as->emu = emu;
    as->id = slot;
    as->st = &t->slots[slot];
    arena_hwm_raise(&t->slots_hwm, (size_t)slot + 1);
    /* A slot used before keeps stale entries in its tables, below their high-water marks,
     * where nothing reads them. */
    as->st->in_use = true;
    vma_tree_init(&as->st->vmas, t->vma_pool, (uint32_t)slot + 1);
    as->st->ntime_sites = 0;
    as->st->watch.count = 0;
    memset(as->st->watch.pages, 0, sizeof(as->st->watch.pages));
    as->st->store_watch.count = 0;
    as->st->next_backing_id = ((uint64_t)slot << 48) + 1;
    as->be = backend_open(emu, as, err);
    if (!as->be) {
        as->st->in_use = false;
        free(as);
        return NULL;
    }
    emu->aspaces[slot] = as;
    snap_aspace_created(emu, as);
    return as;
}

static void save_resident(const struct aspace *as, const struct vma *v, guest_addr_t s,
                          guest_addr_t e);

static void discard_piece(void *ctx, uint8_t *host, uint64_t len)
{
    (void)ctx;
    madvise(host, len, MADV_DONTNEED);
}

static void unplace_piece(void *ctx, uint8_t *host, uint64_t len)
{
    (void)ctx;
    shm_unplace(host, len);
}

/* The guest no longer maps [start, end) of v: its pages read as zeros again, after the
 * snapshot kept what they held at the snapshot. */
static void host_release(struct aspace *as, const struct vma *v, guest_addr_t start,
                         guest_addr_t end)
{
    if (emu_snapshot_active(as->emu))
        save_resident(as, v, start, end);
    windows_for_each_piece(as, start, end,
                           v->flags & ASPACE_MAP_SHARED ? unplace_piece : discard_piece, NULL);
    windows_uncharge(as, start, end);
}

void aspace_free(struct aspace *as)
{
    backend_close(as->be);
    if (as->emu->aspaces[as->id] == as)
        windows_uncharge_all(as); /* one that ended under a snapshot was uncharged then */
    windows_free(&as->win);
    free(as->young.v);
    if (as->emu->aspaces[as->id] == as)
        as->emu->aspaces[as->id] = NULL;
    free(as);
}

static void release_cb(void *ctx, const struct vma *v) { host_release(ctx, v, v->start, v->end); }

void aspace_destroy(struct aspace *as)
{
    if (!as || !snap_aspace_release(as->emu, as))
        return;
    vma_tree_walk(&as->st->vmas, release_cb, as);
    vma_tree_clear(&as->st->vmas);
    as->st->in_use = false;
    aspace_free(as);
}

struct emu *aspace_emu(const struct aspace *as) { return as->emu; }
int aspace_id(const struct aspace *as) { return as->id; }
struct backend *aspace_backend(const struct aspace *as) { return as->be; }
struct watch_table *aspace_watch_table(const struct aspace *as) { return &as->st->watch; }
struct store_watch_table *aspace_store_watch_table(const struct aspace *as)
{
    return &as->st->store_watch;
}

static struct vma *vma_find(const struct aspace *as, guest_addr_t addr)
{
    return vma_tree_find(&as->st->vmas, addr);
}

/* UC_PROT_* values, which are also the engine's PAGE_* TLB bits. */
enum { ENGINE_READ = 1, ENGINE_WRITE = 2, ENGINE_EXEC = 4 };

static int engine_perms(int prot)
{
    int p = 0;
    /* A guest page that is writable or executable is readable on both arches. */
    if (prot & (LX_PROT_READ | LX_PROT_WRITE | LX_PROT_EXEC))
        p |= ENGINE_READ;
    if (prot & LX_PROT_WRITE)
        p |= ENGINE_WRITE;
    if (prot & LX_PROT_EXEC)
        p |= ENGINE_EXEC;
    return p;
}

int aspace_page_perms(const struct aspace *as, guest_addr_t vaddr)
{
    const struct vma *v = vma_find(as, vaddr);
    return v ? engine_perms(v->prot) : -1;
}

int aspace_tlb_fill(struct aspace *as, guest_addr_t vaddr, bool *fast)
{
    const struct vma *v = vma_find(as, vaddr);
    *fast = false;
    if (!v)
        return -1;
    if (v->prot & LX_PROT_WRITE) {
        /* The engine can write the page without asking again until its TLB is flushed. */
        note_write(as, v, vaddr, 1);
        *fast = !(v->prot & LX_PROT_EXEC);
    }
    return engine_perms(v->prot);
}

/* ---- splitting and merging, as Linux does it ---- */

/* The pool of mappings is shared by the machine's processes: one at vm.max_map_count never
 * fills it, several near it could. */
static struct vma *vma_add(struct aspace *as, const struct vma *v)
{
    struct vma *in = vma_tree_insert(&as->st->vmas, v);
    if (!in && !as->vma_pool_full_noted) {
        as->vma_pool_full_noted = true;
        fprintf(stderr,
                "rseqemu: notice: the guest's processes hold %d mappings in all, as many as "
                "rseqemu keeps; mappings beyond them get ENOMEM\n",
                VMA_POOL_CAP);
    }
    return in;
}

/* Whether a, directly below b, may be one mapping: Linux's is_mergeable_vma() and
 * is_mergeable_anon_vma() (mm/mmap.c). The same protection and kind; private pages written
 * under two different anon_vmas stay apart; shared memory must be one object, contiguous. */
static bool vma_mergeable(const struct vma *a, const struct vma *b)
{
    if (a->end != b->start || a->prot != b->prot || a->flags != b->flags)
        return false;
    uint64_t len = a->end - a->start;
    if (a->flags & ASPACE_MAP_SHARED)
        return a->backing_id == b->backing_id && a->backing_off + len == b->backing_off &&
               a->shm_off + len == b->shm_off;
    if ((a->flags & ASPACE_MAP_FILE) &&
        (a->backing_id != b->backing_id || a->backing_off + len != b->backing_off))
        return false;
    return !a->anon || !b->anon || a->anon == b->anon;
}

/* b, directly above a, becomes part of a. */
static void vma_absorb_next(struct aspace_state *st, struct vma *a, struct vma *b)
{
    guest_addr_t end = b->end;
    if (!a->anon)
        a->anon = b->anon;
    vma_tree_erase(&st->vmas, b);
    a->end = end;
    vma_tree_changed(&st->vmas, a);
}

/* The mapping directly above v (starting at its end), or NULL. */
static struct vma *vma_above(const struct aspace_state *st, const struct vma *v)
{
    struct vma *n = vma_tree_ceil(&st->vmas, v->end);
    return n && n->start == v->end ? n : NULL;
}

/* The mapping directly below v (ending at its start), or NULL. */
static struct vma *vma_under(const struct aspace_state *st, const struct vma *v)
{
    struct vma *p = vma_tree_below(&st->vmas, v->start);
    return p && p->end == v->start ? p : NULL;
}

/* v merged with whichever neighbours it may merge with (vma_merge()); what it became. */
static struct vma *vma_merge_around(struct aspace_state *st, struct vma *v)
{
    struct vma *p = vma_under(st, v), *n;
    if (p && vma_mergeable(p, v)) {
        vma_absorb_next(st, p, v);
        v = p;
    }
    if ((n = vma_above(st, v)) && vma_mergeable(v, n))
        vma_absorb_next(st, v, n);
    return v;
}

/* Splits the mapping containing addr so that one starts at addr. Linux refuses a split that
 * could take the count past vm.max_map_count where it checks (checked), and lets it go a
 * little above where it does not. */
static int vma_split_at(struct aspace *as, guest_addr_t addr, bool checked)
{
    struct aspace_state *st = as->st;
    struct vma *lo = vma_tree_find(&st->vmas, addr);
    if (!lo || lo->start == addr)
        return 0;
    if (checked && vma_tree_count(&st->vmas) >= ASPACE_MAX_MAP_COUNT)
        return -LX_ENOMEM;
    struct vma hi = *lo;
    uint64_t cut = addr - lo->start;
    hi.start = addr;
    hi.backing_off += cut;
    hi.shm_off += cut;
    lo->end = addr;
    vma_tree_changed(&st->vmas, lo);
    if (!vma_add(as, &hi)) {
        lo->end = hi.end;
        vma_tree_changed(&st->vmas, lo);
        return -LX_ENOMEM;
    }
    return 0;
}

/* do_mas_align_munmap(): the first split is checked only when the range lies inside one
 * mapping, the only case where the count grows. */
int aspace_unmap(struct aspace *as, guest_addr_t addr, uint64_t len)
{
    if (!page_aligned(addr) || !page_aligned(len) || addr + len < addr)
        return -LX_EINVAL;
    if (len == 0)
        return 0;
    struct aspace_state *st = as->st;
    guest_addr_t end = addr + len;
    struct vma *first = vma_tree_ceil(&st->vmas, addr);
    if (!first || first->start >= end)
        return 0;
    int rc = vma_split_at(as, addr, end < first->end);
    if (rc == 0)
        rc = vma_split_at(as, end, false);
    if (rc)
        return rc;
    bool code = false;
    struct vma *v;
    while ((v = vma_tree_ceil(&st->vmas, addr)) && v->start < end) {
        host_release(as, v, v->start, v->end);
        code |= (v->prot & LX_PROT_EXEC) != 0;
        vma_tree_erase(&st->vmas, v);
    }
    backend_forget(as->be, addr, len, code);
    return 0;
}

struct place_ctx {
    const struct emu *emu;
    uint64_t off;
    int rc;
};

static void place_piece(void *ctx, uint8_t *host, uint64_t len)
{
    struct place_ctx *c = ctx;
    if (c->rc == 0)
        c->rc = shm_place(c->emu, host, len, c->off);
    c->off += len;
}

/* The mapping v, whose range is free and covered by windows: its memory reads as zero, or is
 * the shared memory at v->shm_off. merge: joined with its neighbours where Linux would (a new
 * mapping); a copy for fork keeps its parent's mappings one for one. */
static int map_new(struct aspace *as, const struct vma *v, bool merge)
{
    uint64_t len = v->end - v->start;
    if (v->flags & ASPACE_MAP_SHARED) {
        struct place_ctx c = {as->emu, v->shm_off, 0};
        windows_for_each_piece(as, v->start, v->end, place_piece, &c);
        if (c.rc) {
            windows_for_each_piece(as, v->start, v->end, unplace_piece, NULL);
            return c.rc;
        }
    }
    struct vma *in = vma_add(as, v);
    if (!in) {
        if (v->flags & ASPACE_MAP_SHARED)
            windows_for_each_piece(as, v->start, v->end, unplace_piece, NULL);
        return -LX_ENOMEM;
    }
    if (emu_snapshot_active(as->emu)) {
        if (!(v->flags & ASPACE_MAP_SHARED))
            windows_young_mark(as, v->start, v->end);
        snap_young_range(as, v->start, len, v->flags & ASPACE_MAP_SHARED, v->prot & LX_PROT_EXEC);
    }
    if (merge)
        vma_merge_around(as->st, in);
    return 0;
}

static int map_range(struct aspace *as, struct vma *v)
{
    if (!page_aligned(v->start) || !page_aligned(v->end) || v->end <= v->start)
        return -LX_EINVAL;
    /* do_mmap() and do_brk_flags() (mm/mmap.c). */
    if (vma_tree_count(&as->st->vmas) > ASPACE_MAX_MAP_COUNT)
        return -LX_ENOMEM;
    int rc = windows_cover(as, v->start, v->end);
    if (rc == 0)
        rc = aspace_unmap(as, v->start, v->end - v->start);
    if (rc == 0 && (v->flags & ASPACE_MAP_SHARED))
        rc = shm_alloc(as->emu, v->end - v->start, &v->shm_off);
    return rc ? rc : map_new(as, v, true);
}

int aspace_map(struct aspace *as, guest_addr_t addr, uint64_t len, int prot, int flags)
{
    struct vma v = {.start = addr,
                    .end = addr + len,
                    .prot = prot,
                    .flags = flags & ~ASPACE_MAP_FILE,
                    .backing_id = as->st->next_backing_id++};
    return map_range(as, &v);
}

int aspace_map_file(struct aspace *as, guest_addr_t addr, uint64_t len, int prot, uint64_t id,
                    uint64_t off)
{
    struct vma v = {.start = addr,
                    .end = addr + len,
                    .prot = prot,
                    .flags = ASPACE_MAP_FILE,
                    .backing_id = id,
                    .backing_off = off};
    return map_range(as, &v);
}

bool aspace_range_mapped(const struct aspace *as, guest_addr_t addr, uint64_t len)
{
    guest_addr_t end = addr + len;
    if (end < addr)
        return false;
    for (guest_addr_t at = addr; at < end;) {
        const struct vma *v = vma_find(as, at);
        if (!v)
            return false;
        at = v->end;
    }
    return true;
}

bool aspace_range_free(const struct aspace *as, guest_addr_t addr, uint64_t len)
{
    const struct vma *v = vma_tree_ceil(&as->st->vmas, addr);
    return !v || v->start >= addr + len;
}

/* mprotect_fixup() on [s, e) of v (mm/mprotect.c): the piece joins the mapping below or
 * above it when it may (vma_merge()), or is split off, each split checked against
 * vm.max_map_count. */
static int protect_piece(struct aspace *as, struct vma *v, guest_addr_t s, guest_addr_t e, int prot)
{
    struct aspace_state *st = as->st;
    struct vma piece = *v;
    piece.start = s;
    piece.end = e;
    piece.prot = prot;
    piece.backing_off += s - v->start;
    piece.shm_off += s - v->start;
    struct vma *p = s == v->start ? vma_under(st, v) : NULL;
    struct vma *n = e == v->end ? vma_above(st, v) : NULL;
    bool to_p = p && vma_mergeable(p, &piece), to_n = n && vma_mergeable(&piece, n);
    if (prot & LX_PROT_EXEC)
        snap_note_code(as, v, s, e);
    if (!to_p && !to_n) {
        int rc = vma_split_at(as, s, true);
        if (rc == 0)
            rc = vma_split_at(as, e, true);
        if (rc)
            return rc;
        vma_find(as, s)->prot = prot;
        return 0;
    }
    /* v gives up [s, e) first, so that no two mappings ever overlap in the tree. */
    if (s == v->start && e == v->end) {
        vma_tree_erase(&st->vmas, v);
    } else if (to_p) {
        v->start = e;
        v->backing_off += e - s;
        v->shm_off += e - s;
        vma_tree_changed(&st->vmas, v);
    } else {
        v->end = s;
        vma_tree_changed(&st->vmas, v);
    }
    if (to_p) {
        if (!p->anon)
            p->anon = piece.anon;
        p->end = e;
        vma_tree_changed(&st->vmas, p);
        if (to_n && vma_mergeable(p, n))
            vma_absorb_next(st, p, n);
    } else {
        if (!n->anon)
            n->anon = piece.anon;
        n->start = s;
        n->backing_off -= e - s;
        n->shm_off -= e - s;
        vma_tree_changed(&st->vmas, n);
    }
    return 0;
}

int aspace_protect(struct aspace *as, guest_addr_t addr, uint64_t len, int prot)
{
    if (!page_aligned(addr))
        return -LX_EINVAL;
    len = (len + PAGE - 1) & ~(PAGE - 1);
    if (len == 0)
        return 0;
    if (!aspace_range_mapped(as, addr, len))
        return -LX_ENOMEM;
    guest_addr_t end = addr + len;
    bool code = false;
    int rc = 0;
    for (guest_addr_t at = addr; at < end && rc == 0;) {
        struct vma *v = vma_find(as, at);
        guest_addr_t e = v->end < end ? v->end : end;
        code |= ((v->prot | prot) & LX_PROT_EXEC) != 0;
        if (v->prot != prot)
            rc = protect_piece(as, v, at, e, prot);
        at = e;
    }
    /* What changed before a refused split stays changed, as on Linux. */
    backend_forget(as->be, addr, len, code);
    return rc;
}

struct resident_ctx {
    const struct aspace *as;
    const struct vma *v;
    guest_addr_t start;
};

static void save_page_cb(void *ctx, uint64_t off)
{
    struct resident_ctx *c = ctx;
    snap_note(c->as, c->v, c->start + off, PAGE, c->v->prot);
}

/* [s, e) of v is about to be zeroed or unmapped: the snapshot keeps what it held. */
static void save_resident(const struct aspace *as, const struct vma *v, guest_addr_t s,
                          guest_addr_t e)
{
    while (s < e) {
        uint64_t avail = 0;
        uint8_t *host = vma_host(as, v, s, &avail);
        uint64_t n = e - s < avail ? e - s : avail;
        if (!host)
            return;
        struct resident_ctx c = {as, v, s};
        for_each_resident(host, n, save_page_cb, &c);
        s += n;
    }
}

int aspace_discard(struct aspace *as, guest_addr_t addr, uint64_t len)
{
    if (!page_aligned(addr))
        return -LX_EINVAL;
    len = (len + PAGE - 1) & ~(PAGE - 1);
    if (!aspace_range_mapped(as, addr, len))
        return -LX_ENOMEM;
    guest_addr_t end = addr + len;
    for (guest_addr_t at = addr; at < end;) {
        const struct vma *v = vma_find(as, at);
        guest_addr_t s = at, e = v->end < end ? v->end : end;
        at = e;
        if (v->flags & ASPACE_MAP_SHARED)
            continue; /* shared memory keeps its contents, as with a shmem mapping */
        if (emu_snapshot_active(as->emu))
            save_resident(as, v, s, e);
        windows_for_each_piece(as, s, e, discard_piece, NULL);
        windows_uncharge(as, s, e);
        /* A page touched again is charged again at its next TLB fill. */
        backend_forget(as->be, s, e - s, v->prot & LX_PROT_EXEC);
    }
    return 0;
}

struct copy_ctx {
    struct aspace *dst;
    guest_addr_t dst_addr; /* where the piece's first byte goes */
    const uint8_t *src;
};

static void copy_page_cb(void *ctx, uint64_t off)
{
    struct copy_ctx *c = ctx;
    uint8_t *to = windows_host(c->dst, c->dst_addr + off, NULL);
    if (to) {
        memcpy(to, c->src + off, PAGE);
        windows_charge(c->dst, c->dst_addr + off, PAGE);
    }
}

/* Copies the resident pages of [addr, addr+len) of src's VMA v to dst_addr in dst's windows,
 * which hold zeros there: untouched parts of big reservations (thread stacks) stay free. */
static void copy_resident(struct aspace *dst, guest_addr_t dst_addr, const struct aspace *src,
                          const struct vma *v, guest_addr_t addr, uint64_t len)
{
    while (len > 0) {
        uint64_t avail = 0;
        const uint8_t *host = vma_host(src, v, addr, &avail);
        uint64_t n = len < avail ? len : avail;
        if (!host)
            return;
        struct copy_ctx c = {dst, dst_addr, host};
        for_each_resident((uint8_t *)host, n, copy_page_cb, &c);
        addr += n;
        dst_addr += n;
        len -= n;
    }
}

int aspace_move(struct aspace *as, guest_addr_t old_addr, uint64_t old_len, guest_addr_t new_addr,
                uint64_t new_len)
{
    const struct vma *found = vma_find(as, old_addr);
    if (!found || found->end < old_addr + old_len)
        return -LX_EFAULT;
    struct vma v = *found;
    uint64_t keep = old_len < new_len ? old_len : new_len;
    bool alias = (v.flags & ASPACE_MAP_SHARED) && new_len <= old_len;
    int rc = windows_cover(as, new_addr, new_addr + new_len);
    if (rc == 0)
        rc = aspace_unmap(as, new_addr, new_len);
    struct vma moved = {.start = new_addr,
                        .end = new_addr + new_len,
                        .prot = v.prot,
                        .flags = v.flags,
                        .anon = v.anon,
                        .shm_off = v.shm_off + (old_addr - v.start)};
    if (rc == 0 && (v.flags & ASPACE_MAP_SHARED) && !alias)
        rc = shm_alloc(as->emu, new_len, &moved.shm_off);
    if (rc)
        return rc;
    moved.backing_id = alias ? v.backing_id : as->st->next_backing_id++;
    moved.backing_off = alias ? v.backing_off + (old_addr - v.start) : 0;
    /* Joined with its new neighbours only once the old range is gone: the moved pages keep
     * their anon_vma, as move_vma() keeps it. */
    rc = map_new(as, &moved, false);
    if (rc)
        return rc;
    if (!alias) {
        const struct vma *nv = vma_find(as, new_addr);
        if (nv->flags & ASPACE_MAP_SHARED)
            memcpy(vma_host(as, nv, new_addr, NULL), vma_host(as, &v, old_addr, NULL), keep);
        else
            copy_resident(as, new_addr, as, &v, old_addr, keep);
    }
    rc = aspace_unmap(as, old_addr, old_len);
    struct vma *nv = vma_find(as, new_addr);
    if (nv)
        vma_merge_around(as->st, nv);
    return rc;
}

guest_addr_t aspace_find_free_topdown(const struct aspace *as, uint64_t len, guest_addr_t bottom,
                                      guest_addr_t top)
{
    return vma_tree_gap_topdown(&as->st->vmas, len, bottom, top);
}

static void vma_info_of(const struct vma *v, struct vma_info *out)
{
    out->start = v->start;
    out->end = v->end;
    out->prot = v->prot;
    out->flags = v->flags;
    out->backing_id = v->backing_id;
    out->backing_off = v->backing_off;
}

bool aspace_lookup(const struct aspace *as, guest_addr_t addr, struct vma_info *out)
{
    const struct vma *v = vma_find(as, addr);
    if (!v)
        return false;
    vma_info_of(v, out);
    return true;
}

size_t aspace_vma_count(const struct aspace *as) { return vma_tree_count(&as->st->vmas); }

bool aspace_vma_next(const struct aspace *as, guest_addr_t addr, struct vma_info *out)
{
    const struct vma *v = vma_tree_ceil(&as->st->vmas, addr);
    if (!v)
        return false;
    vma_info_of(v, out);
    return true;
}

static bool prot_allows(int have, int need)
{
    if (need == LX_PROT_READ)
        return have & (LX_PROT_READ | LX_PROT_WRITE | LX_PROT_EXEC);
    return (have & need) == need;
}

/* Copies between guest and host memory, one VMA piece at a time. need: required protection,
 * or 0 to ignore it. */
static int mem_copy(const struct aspace *as, guest_addr_t addr, void *buf, size_t len, bool write,
                    int need)
{
    if (addr + len < addr)
        return -LX_EFAULT;
    uint8_t *p = buf;
    while (len > 0) {
        const struct vma *v = vma_find(as, addr);
        if (!v || (need && !prot_allows(v->prot, need)))
            return -LX_EFAULT;
        size_t n = v->end - addr < len ? v->end - addr : len;
        uint64_t avail = 0;
        uint8_t *h = vma_host(as, v, addr, &avail);
        if (!h)
            return -LX_EFAULT;
        n = n < avail ? n : avail;
        if (write) {
            note_write(as, v, addr, n);
            /* The engine catches the guest's own stores to code, not the model's (read(2), a
             * cpu_opv copy, the loader): without this the guest ran the old code on. */
            if (v->prot & LX_PROT_EXEC)
                backend_code_changed(as->be, addr, n);
            memcpy(h, p, n);
        } else
            memcpy(p, h, n);
        addr += n;
        p += n;
        len -= n;
    }
    return 0;
}

int aspace_read(const struct aspace *as, guest_addr_t addr, void *dst, size_t len)
{
    return mem_copy(as, addr, dst, len, false, LX_PROT_READ);
}

int aspace_write(struct aspace *as, guest_addr_t addr, const void *src, size_t len)
{
    return mem_copy(as, addr, (void *)src, len, true, LX_PROT_WRITE);
}

int aspace_poke(struct aspace *as, guest_addr_t addr, const void *src, size_t len)
{
    return mem_copy(as, addr, (void *)src, len, true, 0);
}

long aspace_read_str(const struct aspace *as, guest_addr_t addr, char *dst, size_t cap)
{
    for (size_t i = 0; i < cap;) {
        const struct vma *v = vma_find(as, addr + i);
        if (!v || !prot_allows(v->prot, LX_PROT_READ))
            return -LX_EFAULT;
        uint64_t avail = 0;
        const uint8_t *h = vma_host(as, v, addr + i, &avail);
        if (!h)
            return -LX_EFAULT;
        uint64_t n = v->end - (addr + i) < avail ? v->end - (addr + i) : avail;
        for (uint64_t k = 0; k < n && i < cap; k++, i++) {
            dst[i] = (char)h[k];
            if (dst[i] == '\0')
                return (long)i;
        }
    }
    if (cap)
        dst[cap - 1] = '\0';
    return -LX_ENAMETOOLONG;
}

void *aspace_host(const struct aspace *as, guest_addr_t addr, size_t len, int prot)
{
    const struct vma *v = vma_find(as, addr);
    if (!v || addr + len > v->end || addr + len < addr || (prot && !prot_allows(v->prot, prot)))
        return NULL;
    uint64_t avail = 0;
    uint8_t *h = vma_host(as, v, addr, &avail);
    if (!h || avail < len)
        return NULL;
    if (prot & LX_PROT_WRITE)
        note_write(as, v, addr, len);
    return h;
}

static int mem_read_cb(void *ctx, guest_addr_t addr, void *dst, size_t len)
{
    return aspace_read(ctx, addr, dst, len);
}

static int mem_write_cb(void *ctx, guest_addr_t addr, const void *src, size_t len)
{
    return aspace_write(ctx, addr, src, len);
}

struct guest_mem aspace_guest_mem(struct aspace *as)
{
    return (struct guest_mem){.ctx = as, .read = mem_read_cb, .write = mem_write_cb};
}

struct fork_ctx {
    struct aspace *dst;
    const struct aspace *src;
    int rc;
};

/* dup_mmap(): the child gets its parent's mappings one for one; private memory is copied and
 * gets an anon_vma of its own where the parent's had one (anon_vma_fork()). */
static void fork_vma_cb(void *ctx, const struct vma *v)
{
    struct fork_ctx *c = ctx;
    if (c->rc)
        return;
    struct aspace_state *d = c->dst->st;
    bool shared = v->flags & ASPACE_MAP_SHARED;
    struct vma copy = *v;
    if (!shared) {
        copy.backing_id = d->next_backing_id++;
        copy.backing_off = 0;
        copy.anon = v->anon ? d->next_backing_id++ : 0;
    }
    c->rc = windows_cover(c->dst, v->start, v->end);
    if (c->rc == 0)
        c->rc = map_new(c->dst, &copy, false);
    if (c->rc == 0 && !shared)
        copy_resident(c->dst, v->start, c->src, v, v->start, v->end - v->start);
}

int aspace_copy_from(struct aspace *dst, const struct aspace *src)
{
    struct aspace_state *d = dst->st;
    const struct aspace_state *s = src->st;
    d->ntime_sites = s->ntime_sites;
    arena_hwm_raise(&d->time_hwm, (size_t)s->ntime_sites);
    memcpy(d->time_sites, s->time_sites, sizeof(struct time_site) * (size_t)s->ntime_sites);
    /* Only the live entries: the tails above the high-water marks stay untouched. */
    d->watch.count = s->watch.count;
    arena_hwm_raise(&d->watch.hwm, s->watch.count);
    memcpy(d->watch.pages, s->watch.pages, sizeof(d->watch.pages));
    memcpy(d->watch.ranges, s->watch.ranges, sizeof(s->watch.ranges[0]) * s->watch.count);
    d->store_watch.count = s->store_watch.count;
    arena_hwm_raise(&d->store_watch.hwm, s->store_watch.count);
    memcpy(d->store_watch.ranges, s->store_watch.ranges,
           sizeof(s->store_watch.ranges[0]) * s->store_watch.count);
    backend_watch_changed(dst->be);
    struct fork_ctx c = {dst, src, 0};
    vma_tree_walk(&s->vmas, fork_vma_cb, &c);
    return c.rc;
}

int aspace_add_time_site(struct aspace *as, const struct time_site *site)
{
    if (as->st->ntime_sites == ASPACE_TIME_SITES_MAX)
        return -LX_ENOMEM;
    as->st->time_sites[as->st->ntime_sites++] = *site;
    arena_hwm_raise(&as->st->time_hwm, (size_t)as->st->ntime_sites);
    return 0;
}

bool aspace_time_site(const struct aspace *as, guest_addr_t addr, struct time_site *out)
{
    for (int i = 0; i < as->st->ntime_sites; i++) {
        if (as->st->time_sites[i].addr == addr) {
            *out = as->st->time_sites[i];
            return true;
        }
    }
    return false;
}
