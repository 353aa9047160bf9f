/* Guest mappings kept as a sorted array of VMAs in the state arena, each backed by host memory
 * that the engine maps directly (uc_mem_map_ptr). */
#include "aspace.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arena.h"
#include "aspace_internal.h"
#include "backend.h"

#define PAGE 4096ULL

static bool page_aligned(uint64_t v) { return (v & (PAGE - 1)) == 0; }

/* Pages the kernel model is about to write: the snapshot keeps what they held (snapshot.c). */
static void note_write(const struct aspace *as, const struct vma *v, guest_addr_t addr, size_t len)
{
    if (!emu_snapshot_active(as->emu) || len == 0)
        return;
    for (guest_addr_t pg = addr & ~(PAGE - 1); pg < addr + len; pg += PAGE)
        snap_page_write(as->emu, v->host + (pg - v->start), v->epoch, v->prot, as->id, pg);
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

static void host_release(struct aspace *as, struct vma *v, guest_addr_t start, guest_addr_t end)
{
    snap_host_release(as->emu, v->host + (start - v->start), end - start, v->epoch,
                      v->flags & ASPACE_MAP_SHARED);
}

void aspace_free(struct aspace *as)
{
    backend_close(as->be);
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

bool aspace_tlb_fill(struct aspace *as, guest_addr_t vaddr)
{
    const struct vma *v = vma_find(as->st, vaddr);
    if (!v || !(v->prot & LX_PROT_WRITE))
        return false;
    /* The engine can write the page without asking again until its TLB is flushed. */
    note_write(as, v, vaddr, 1);
    return !(v->prot & LX_PROT_EXEC);
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
    hi->host += cut;
    hi->backing_off += cut;
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
    while (first + n < as->st->count && as->st->vmas[first + n].start < end) {
        struct vma *v = &as->st->vmas[first + n];
        backend_unmap(as->be, v->start, v->end - v->start);
        host_release(as, v, v->start, v->end);
        n++;
    }
    vma_remove(as->st, first, n);
    return 0;
}

static int map_host(struct aspace *as, guest_addr_t addr, uint64_t len, int prot, int flags,
                    uint8_t *host, uint32_t epoch, uint64_t backing_id, uint64_t backing_off)
{
    int rc = backend_map(as->be, addr, len, prot, host);
    if (rc)
        return rc;
    struct vma v = {.start = addr,
                    .end = addr + len,
                    .prot = prot,
                    .flags = flags,
                    .host = host,
                    .epoch = epoch,
                    .backing_id = backing_id,
                    .backing_off = backing_off};
    rc = vma_insert(as->st, &v);
    if (rc)
        backend_unmap(as->be, addr, len);
    return rc;
}

int aspace_map(struct aspace *as, guest_addr_t addr, uint64_t len, int prot, int flags)
{
    if (!page_aligned(addr) || !page_aligned(len) || len == 0 || addr + len < addr)
        return -LX_EINVAL;
    int rc = aspace_unmap(as, addr, len);
    if (rc)
        return rc;
    uint32_t epoch;
    uint8_t *host = snap_host_alloc(as->emu, len, flags & ASPACE_MAP_SHARED, &epoch);
    if (!host)
        return -LX_ENOMEM;
    rc = map_host(as, addr, len, prot, flags, host, epoch, as->st->next_backing_id++, 0);
    if (rc)
        snap_host_release(as->emu, host, len, epoch, false);
    return rc;
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
    for (size_t i = vma_search(as->st, addr); i < as->st->count && as->st->vmas[i].start < end;
         i++) {
        struct vma *v = &as->st->vmas[i];
        v->prot = prot;
        /* Code made since the snapshot must not outlive a restore of the bytes under it. */
        if (prot & LX_PROT_EXEC)
            note_write(as, v, v->start, v->end - v->start);
    }
    return backend_protect(as->be, addr, len, prot);
}

struct resident_ctx {
    const struct aspace *as;
    const struct vma *v;
    guest_addr_t start;
};

static void save_page_cb(void *ctx, uint64_t off)
{
    struct resident_ctx *c = ctx;
    note_write(c->as, c->v, c->start + off, PAGE);
}

/* madvise(MADV_DONTNEED) is about to zero [s, e) of v: the snapshot keeps what it held. */
static void save_resident(const struct aspace *as, const struct vma *v, guest_addr_t s,
                          guest_addr_t e)
{
    struct resident_ctx c = {as, v, s};
    for_each_resident(v->host + (s - v->start), e - s, save_page_cb, &c);
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
        madvise(v->host + (s - v->start), e - s, MADV_DONTNEED);
        if (v->prot & LX_PROT_EXEC)
            backend_code_changed(as->be, s, e - s);
    }
    return 0;
}

int aspace_move(struct aspace *as, guest_addr_t old_addr, uint64_t old_len, guest_addr_t new_addr,
                uint64_t new_len)
{
    const struct vma *v = vma_find(as->st, old_addr);
    if (!v || v->end < old_addr + old_len)
        return -LX_EFAULT;
    int prot = v->prot, flags = v->flags;
    uint32_t epoch;
    uint8_t *host = snap_host_alloc(as->emu, new_len, flags & ASPACE_MAP_SHARED, &epoch);
    if (!host)
        return -LX_ENOMEM;
    memcpy(host, v->host + (old_addr - v->start), old_len < new_len ? old_len : new_len);
    uint64_t backing = as->st->next_backing_id++;
    int rc = aspace_unmap(as, old_addr, old_len);
    if (rc == 0)
        rc = aspace_unmap(as, new_addr, new_len);
    if (rc == 0)
        rc = map_host(as, new_addr, new_len, prot, flags, host, epoch, backing, 0);
    if (rc)
        snap_host_release(as->emu, host, new_len, epoch, false);
    return rc;
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
        uint8_t *h = v->host + (addr - v->start);
        if (write) {
            note_write(as, v, addr, n);
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
    for (size_t i = 0; i < cap; i++) {
        const struct vma *v = vma_find(as->st, addr + i);
        if (!v || !prot_allows(v->prot, LX_PROT_READ))
            return -LX_EFAULT;
        dst[i] = (char)v->host[addr + i - v->start];
        if (dst[i] == '\0')
            return (long)i;
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
    if (prot & LX_PROT_WRITE)
        note_write(as, v, addr, len);
    return v->host + (addr - v->start);
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

struct copy_ctx {
    uint8_t *dst;
    const uint8_t *src;
};

static void copy_page_cb(void *ctx, uint64_t off)
{
    struct copy_ctx *c = ctx;
    memcpy(c->dst + off, c->src + off, PAGE);
}

/* Copies only resident pages: untouched parts of big reservations (thread stacks) stay free. */
static void copy_resident(uint8_t *dst, const uint8_t *src, uint64_t len)
{
    struct copy_ctx c = {dst, src};
    for_each_resident((uint8_t *)src, len, copy_page_cb, &c);
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
        uint8_t *host = v->host;
        uint32_t epoch = v->epoch;
        if (!(v->flags & ASPACE_MAP_SHARED)) {
            host = snap_host_alloc(dst->emu, len, false, &epoch);
            if (!host)
                return -LX_ENOMEM;
            copy_resident(host, v->host, len);
        }
        int rc = map_host(dst, v->start, len, v->prot, v->flags, host, epoch,
                          v->flags & ASPACE_MAP_SHARED ? v->backing_id : d->next_backing_id++,
                          v->flags & ASPACE_MAP_SHARED ? v->backing_off : 0);
        if (rc) {
            if (!(v->flags & ASPACE_MAP_SHARED))
                snap_host_release(dst->emu, host, len, epoch, false);
            return rc;
        }
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
