/* Guest mappings kept as a sorted array of VMAs in the state arena, backed by the address
 * space's windows (windows.h), whose host memory the engine uses directly; the protections are
 * the VMAs', which the engine asks for (aspace_page_perms()). */
#include "aspace.h"

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

/* Pages about to change: the snapshot keeps what they held (snapshot.c). */
static void snap_note(const struct aspace *as, const struct vma *v, guest_addr_t addr, size_t len)
{
    if (!emu_snapshot_active(as->emu) || len == 0)
        return;
    for (guest_addr_t pg = addr & ~(PAGE - 1); pg < addr + len; pg += PAGE)
        snap_page_write(as->emu, vma_host(as, v, pg, NULL), v->epoch, v->prot, as->id, pg);
}

/* Pages about to be written: they count towards the guest's memory use (windows.h) too. */
static void note_write(const struct aspace *as, const struct vma *v, guest_addr_t addr, size_t len)
{
    if (len == 0)
        return;
    windows_charge((struct aspace *)as, addr, len);
    snap_note(as, v, addr, len);
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
    arena_bound(emu->arena, t->slots, sizeof(struct aspace_state), EMU_ASPACE_MAX, &t->slots_hwm);
    for (int i = 0; i < EMU_ASPACE_MAX; i++) {
        struct aspace_state *st = &t->slots[i];
        arena_bound(emu->arena, st->vmas, sizeof(struct vma), ASPACE_VMA_MAX, &st->vma_hwm);
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
    as->st->count = 0;
    as->st->find_hint = 0;
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
static void host_release(struct aspace *as, struct vma *v, guest_addr_t start, guest_addr_t end)
{
    if (emu_snapshot_active(as->emu) && v->epoch != snap_epoch(as->emu))
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

void aspace_destroy(struct aspace *as)
{
    if (!as || !snap_aspace_release(as->emu, as))
        return;
    for (size_t i = 0; i < as->st->count; i++)
        host_release(as, &as->st->vmas[i], as->st->vmas[i].start, as->st->vmas[i].end);
    as->st->count = 0;
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

/* Index of the first VMA whose end is above addr (count if none). */
static size_t vma_search(const struct aspace_state *st, guest_addr_t addr)
{
    size_t lo = 0, hi = st->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (st->vmas[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The kernel model touches the same few mappings again and again (rseq areas, stacks): the
 * last one found is tried first. The hint is only ever a guess, checked before use. */
static const struct vma *vma_find(const struct aspace_state *st, guest_addr_t addr)
{
    size_t h = st->find_hint;
    if (h < st->count && st->vmas[h].start <= addr && addr < st->vmas[h].end)
        return &st->vmas[h];
    size_t i = vma_search(st, addr);
    if (i < st->count && st->vmas[i].start <= addr) {
        ((struct aspace_state *)st)->find_hint = i;
        return &st->vmas[i];
    }
    return NULL;
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
    const struct vma *v = vma_find(as->st, vaddr);
    return v ? engine_perms(v->prot) : -1;
}

int aspace_tlb_fill(struct aspace *as, guest_addr_t vaddr, bool *fast)
{
    const struct vma *v = vma_find(as->st, vaddr);
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

static void vma_count_up(struct aspace_state *st) { arena_hwm_raise(&st->vma_hwm, ++st->count); }

/* Splits the VMA containing addr so that a VMA starts at addr. -LX_ENOMEM when full. */
static int vma_split_at(struct aspace_state *st, guest_addr_t addr)
{
    size_t i = vma_search(st, addr);
    if (i >= st->count || st->vmas[i].start >= addr)
        return 0;
    if (st->count == ASPACE_VMA_MAX)
        return -LX_ENOMEM;
    memmove(&st->vmas[i + 1], &st->vmas[i], (st->count - i) * sizeof(struct vma));
    vma_count_up(st);
    struct vma *lo = &st->vmas[i], *hi = &st->vmas[i + 1];
    uint64_t cut = addr - lo->start;
    lo->end = addr;
    hi->start = addr;
    hi->backing_off += cut;
    hi->shm_off += cut;
    return 0;
}

/* VMAs start at addr and at end, so that whole VMAs cover [addr, end). */
static int vma_split_range(struct aspace_state *st, guest_addr_t addr, guest_addr_t end)
{
    int rc = vma_split_at(st, addr);
    return rc ? rc : vma_split_at(st, end);
}

static void vma_remove(struct aspace_state *st, size_t i, size_t n)
{
    memmove(&st->vmas[i], &st->vmas[i + n], (st->count - i - n) * sizeof(struct vma));
    st->count -= n;
}

static int vma_insert(struct aspace_state *st, const struct vma *v)
{
    if (st->count == ASPACE_VMA_MAX)
        return -LX_ENOMEM;
    size_t i = vma_search(st, v->start);
    memmove(&st->vmas[i + 1], &st->vmas[i], (st->count - i) * sizeof(struct vma));
    st->vmas[i] = *v;
    vma_count_up(st);
    return 0;
}

int aspace_unmap(struct aspace *as, guest_addr_t addr, uint64_t len)
{
    if (!page_aligned(addr) || !page_aligned(len) || addr + len < addr)
        return -LX_EINVAL;
    if (len == 0)
        return 0;
    guest_addr_t end = addr + len;
    int rc = vma_split_range(as->st, addr, end);
    if (rc)
        return rc;
    size_t first = vma_search(as->st, addr), n = 0;
    bool code = false;
    while (first + n < as->st->count && as->st->vmas[first + n].start < end) {
        struct vma *v = &as->st->vmas[first + n];
        host_release(as, v, v->start, v->end);
        code |= (v->prot & LX_PROT_EXEC) != 0;
        n++;
    }
    if (n == 0)
        return 0;
    vma_remove(as->st, first, n);
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

/* A new VMA over [addr, addr+len), which is free and covered by windows. Its memory reads as
 * zero, or is the shared memory at shm_off, made in snapshot epoch `epoch`. */
static int map_new(struct aspace *as, guest_addr_t addr, uint64_t len, int prot, int flags,
                   uint64_t backing_id, uint64_t backing_off, uint64_t shm_off, uint32_t epoch)
{
    if (flags & ASPACE_MAP_SHARED) {
        struct place_ctx c = {as->emu, shm_off, 0};
        windows_for_each_piece(as, addr, addr + len, place_piece, &c);
        if (c.rc) {
            windows_for_each_piece(as, addr, addr + len, unplace_piece, NULL);
            return c.rc;
        }
    }
    struct vma v = {.start = addr,
                    .end = addr + len,
                    .prot = prot,
                    .flags = flags,
                    .epoch = epoch,
                    .backing_id = backing_id,
                    .backing_off = backing_off,
                    .shm_off = shm_off};
    int rc = vma_insert(as->st, &v);
    if (rc) {
        if (flags & ASPACE_MAP_SHARED)
            windows_for_each_piece(as, addr, addr + len, unplace_piece, NULL);
        return rc;
    }
    snap_young_range(as, addr, len, flags & ASPACE_MAP_SHARED, prot & LX_PROT_EXEC);
    return 0;
}

int aspace_map(struct aspace *as, guest_addr_t addr, uint64_t len, int prot, int flags)
{
    if (!page_aligned(addr) || !page_aligned(len) || len == 0 || addr + len < addr)
        return -LX_EINVAL;
    int rc = windows_cover(as, addr, addr + len);
    if (rc == 0)
        rc = aspace_unmap(as, addr, len);
    uint64_t shm_off = 0;
    if (rc == 0 && (flags & ASPACE_MAP_SHARED))
        rc = shm_alloc(as->emu, len, &shm_off);
    if (rc)
        return rc;
    return map_new(as, addr, len, prot, flags, as->st->next_backing_id++, 0, shm_off,
                   snap_epoch(as->emu));
}

bool aspace_range_mapped(const struct aspace *as, guest_addr_t addr, uint64_t len)
{
    guest_addr_t end = addr + len;
    if (end < addr)
        return false;
    size_t i = vma_search(as->st, addr);
    guest_addr_t at = addr;
    while (at < end) {
        if (i >= as->st->count || as->st->vmas[i].start > at)
            return false;
        at = as->st->vmas[i].end;
        i++;
    }
    return true;
}

bool aspace_range_free(const struct aspace *as, guest_addr_t addr, uint64_t len)
{
    size_t i = vma_search(as->st, addr);
    return i >= as->st->count || as->st->vmas[i].start >= addr + len;
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
    int rc = vma_split_range(as->st, addr, end);
    if (rc)
        return rc;
    bool code = false;
    for (size_t i = vma_search(as->st, addr); i < as->st->count && as->st->vmas[i].start < end;
         i++) {
        struct vma *v = &as->st->vmas[i];
        code |= ((v->prot | prot) & LX_PROT_EXEC) != 0;
        v->prot = prot;
        /* Code made since the snapshot must not outlive a restore of the bytes under it. */
        if (prot & LX_PROT_EXEC) {
            if (v->epoch == snap_epoch(as->emu))
                snap_young_range(as, v->start, v->end - v->start, v->flags & ASPACE_MAP_SHARED,
                                 true);
            else
                snap_note(as, v, v->start, v->end - v->start);
        }
    }
    backend_forget(as->be, addr, len, code);
    return 0;
}

struct resident_ctx {
    const struct aspace *as;
    const struct vma *v;
    guest_addr_t start;
};

static void save_page_cb(void *ctx, uint64_t off)
{
    struct resident_ctx *c = ctx;
    snap_note(c->as, c->v, c->start + off, PAGE);
}

/* madvise(MADV_DONTNEED) is about to zero [s, e) of v: the snapshot keeps what it held. */
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
    for (size_t i = vma_search(as->st, addr); i < as->st->count && as->st->vmas[i].start < end;
         i++) {
        struct vma *v = &as->st->vmas[i];
        if (v->flags & ASPACE_MAP_SHARED)
            continue; /* shared memory keeps its contents, as with a shmem mapping */
        guest_addr_t s = v->start > addr ? v->start : addr, e = v->end < end ? v->end : end;
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
    const struct vma *found = vma_find(as->st, old_addr);
    if (!found || found->end < old_addr + old_len)
        return -LX_EFAULT;
    struct vma v = *found;
    uint64_t keep = old_len < new_len ? old_len : new_len;
    bool alias = (v.flags & ASPACE_MAP_SHARED) && new_len <= old_len;
    int rc = windows_cover(as, new_addr, new_addr + new_len);
    if (rc == 0)
        rc = aspace_unmap(as, new_addr, new_len);
    uint64_t shm_off = v.shm_off + (old_addr - v.start);
    if (rc == 0 && (v.flags & ASPACE_MAP_SHARED) && !alias)
        rc = shm_alloc(as->emu, new_len, &shm_off);
    if (rc)
        return rc;
    uint64_t backing = alias ? v.backing_id : as->st->next_backing_id++;
    uint64_t backing_off = alias ? v.backing_off + (old_addr - v.start) : 0;
    rc = map_new(as, new_addr, new_len, v.prot, v.flags, backing, backing_off, shm_off,
                 alias ? v.epoch : snap_epoch(as->emu));
    if (rc)
        return rc;
    if (!alias) {
        const struct vma *nv = vma_find(as->st, new_addr);
        if (nv->flags & ASPACE_MAP_SHARED)
            memcpy(vma_host(as, nv, new_addr, NULL), vma_host(as, &v, old_addr, NULL), keep);
        else
            copy_resident(as, new_addr, as, &v, old_addr, keep);
    }
    return aspace_unmap(as, old_addr, old_len);
}

guest_addr_t aspace_find_free_topdown(const struct aspace *as, uint64_t len, guest_addr_t bottom,
                                      guest_addr_t top)
{
    const struct aspace_state *st = as->st;
    if (top < bottom || len > top - bottom)
        return 0;
    size_t i = vma_search(st, top); /* VMAs before i end at or below top */
    guest_addr_t hole_end = top;
    if (i < st->count && st->vmas[i].start < hole_end)
        hole_end = st->vmas[i].start;
    for (;;) {
        guest_addr_t hole_start = i > 0 ? st->vmas[i - 1].end : 0;
        if (hole_start < bottom)
            hole_start = bottom;
        if (hole_end >= hole_start && hole_end - hole_start >= len)
            return hole_end - len;
        if (i == 0)
            return 0;
        i--;
        hole_end = st->vmas[i].start;
        if (hole_end <= bottom)
            return 0;
    }
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
    const struct vma *v = vma_find(as->st, addr);
    if (!v)
        return false;
    vma_info_of(v, out);
    return true;
}

size_t aspace_vma_count(const struct aspace *as) { return as->st->count; }

void aspace_vma_at(const struct aspace *as, size_t index, struct vma_info *out)
{
    vma_info_of(&as->st->vmas[index], out);
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
        const struct vma *v = vma_find(as->st, addr);
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
        const struct vma *v = vma_find(as->st, addr + i);
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
    const struct vma *v = vma_find(as->st, addr);
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
    for (size_t i = 0; i < s->count; i++) {
        const struct vma *v = &s->vmas[i];
        uint64_t len = v->end - v->start;
        bool shared = v->flags & ASPACE_MAP_SHARED;
        int rc = windows_cover(dst, v->start, v->end);
        if (rc == 0)
            rc = map_new(dst, v->start, len, v->prot, v->flags,
                         shared ? v->backing_id : d->next_backing_id++, shared ? v->backing_off : 0,
                         v->shm_off, shared ? v->epoch : snap_epoch(dst->emu));
        if (rc)
            return rc;
        if (!shared)
            copy_resident(dst, v->start, src, v, v->start, len);
    }
    return 0;
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
