/* Guest mappings kept as a sorted array of VMAs in the state arena, each backed by host memory
 * that the engine maps directly (uc_mem_map_ptr). */
#include "aspace.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arena.h"
#include "backend.h"
#include "emu_internal.h"
#include "store_watch.h"
#include "watch.h"

#define PAGE 4096ULL

struct vma {
    guest_addr_t start, end;
    int prot, flags;
    uint8_t *host; /* host address of start */
    uint64_t backing_id, backing_off;
};

/* The part of an address space that lives in the arena. */
struct aspace_state {
    bool in_use;
    size_t count;
    size_t find_hint; /* index of the VMA vma_find() found last */
    uint64_t next_backing_id;
    int ntime_sites;
    struct time_site time_sites[ASPACE_TIME_SITES_MAX];
    struct watch_table watch;
    struct store_watch_table store_watch;
    struct vma vmas[ASPACE_VMA_MAX];
};

struct aspace {
    struct emu *emu;
    int id;
    struct aspace_state *st;
    struct backend *be;
};

static bool page_aligned(uint64_t v) { return (v & (PAGE - 1)) == 0; }

static struct aspace_state *state_table(struct emu *emu)
{
    if (!emu->aspace_states)
        emu->aspace_states = ARENA_NEW_ARRAY(emu->arena, struct aspace_state, EMU_ASPACE_MAX);
    return emu->aspace_states;
}

struct aspace *aspace_create(struct emu *emu, const char **err)
{
    struct aspace_state *states = state_table(emu);
    int slot = -1;
    for (int i = 0; i < EMU_ASPACE_MAX; i++) {
        if (!states[i].in_use && !emu->aspaces[i]) {
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
    as->st = &states[slot];
    as->st->in_use = true;
    as->st->count = 0;
    as->st->ntime_sites = 0;
    memset(&as->st->watch, 0, sizeof(as->st->watch));
    as->st->next_backing_id = ((uint64_t)slot << 48) + 1;
    as->be = backend_open(emu, as, err);
    if (!as->be) {
        as->st->in_use = false;
        free(as);
        return NULL;
    }
    emu->aspaces[slot] = as;
    return as;
}

static void host_release(struct vma *v, guest_addr_t start, guest_addr_t end)
{
    /* Shared memory may still be mapped by a fork child or parent; it lives until the run ends. */
    if (v->flags & ASPACE_MAP_SHARED)
        return;
    munmap(v->host + (start - v->start), end - start);
}

void aspace_destroy(struct aspace *as)
{
    if (!as)
        return;
    for (size_t i = 0; i < as->st->count; i++)
        host_release(&as->st->vmas[i], as->st->vmas[i].start, as->st->vmas[i].end);
    as->st->count = 0;
    as->st->in_use = false;
    backend_close(as->be);
    as->emu->aspaces[as->id] = NULL;
    free(as);
}

struct emu *aspace_emu(const struct aspace *as) { return as->emu; }
int aspace_id(const struct aspace *as) { return as->id; }
struct backend *aspace_backend(const struct aspace *as);
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

/* Splits the VMA containing addr so that a VMA starts at addr. -LX_ENOMEM when full. */
static int vma_split_at(struct aspace_state *st, guest_addr_t addr)
{
    size_t i = vma_search(st, addr);
    if (i >= st->count || st->vmas[i].start >= addr)
        return 0;
    if (st->count == ASPACE_VMA_MAX)
        return -LX_ENOMEM;
    memmove(&st->vmas[i + 1], &st->vmas[i], (st->count - i) * sizeof(struct vma));
    st->count++;
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
    st->count++;
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
        host_release(v, v->start, v->end);
        n++;
    }
    vma_remove(as->st, first, n);
    return 0;
}

static void *host_alloc(uint64_t len, bool shared)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static int map_host(struct aspace *as, guest_addr_t addr, uint64_t len, int prot, int flags,
                    uint8_t *host, uint64_t backing_id, uint64_t backing_off)
{
    int rc = backend_map(as->be, addr, len, prot, host);
    if (rc)
        return rc;
    struct vma v = {.start = addr,
                    .end = addr + len,
                    .prot = prot,
                    .flags = flags,
                    .host = host,
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
    uint8_t *host = host_alloc(len, flags & ASPACE_MAP_SHARED);
    if (!host)
        return -LX_ENOMEM;
    rc = map_host(as, addr, len, prot, flags, host, as->st->next_backing_id++, 0);
    if (rc)
        munmap(host, len);
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
    for (size_t i = vma_search(as->st, addr); i < as->st->count && as->st->vmas[i].start < end; i++)
        as->st->vmas[i].prot = prot;
    return backend_protect(as->be, addr, len, prot);
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
    uint8_t *host = host_alloc(new_len, flags & ASPACE_MAP_SHARED);
    if (!host)
        return -LX_ENOMEM;
    memcpy(host, v->host + (old_addr - v->start), old_len < new_len ? old_len : new_len);
    uint64_t backing = as->st->next_backing_id++;
    int rc = aspace_unmap(as, old_addr, old_len);
    if (rc == 0)
        rc = aspace_unmap(as, new_addr, new_len);
    if (rc == 0)
        rc = map_host(as, new_addr, new_len, prot, flags, host, backing, 0);
    if (rc)
        munmap(host, new_len);
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
        if (write)
            memcpy(h, p, n);
        else
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

/* Copies only resident pages: untouched parts of big reservations (thread stacks) stay free. */
static void copy_resident(uint8_t *dst, const uint8_t *src, uint64_t len)
{
    uint64_t host_page = (uint64_t)sysconf(_SC_PAGESIZE);
    unsigned char vec[256];
    for (uint64_t off = 0; off < len; off += host_page * sizeof(vec)) {
        uint64_t chunk = len - off < host_page * sizeof(vec) ? len - off : host_page * sizeof(vec);
        if (mincore((void *)(src + off), chunk, vec) != 0) {
            memcpy(dst + off, src + off, chunk);
            continue;
        }
        for (uint64_t p = 0; p * host_page < chunk; p++)
            if (vec[p] & 1)
                memcpy(dst + off + p * host_page, src + off + p * host_page,
                       chunk - p * host_page < host_page ? chunk - p * host_page : host_page);
    }
}

int aspace_copy_from(struct aspace *dst, const struct aspace *src)
{
    dst->st->ntime_sites = src->st->ntime_sites;
    memcpy(dst->st->time_sites, src->st->time_sites,
           sizeof(struct time_site) * (size_t)src->st->ntime_sites);
    dst->st->watch = src->st->watch;
    dst->st->store_watch = src->st->store_watch;
    backend_watch_changed(dst->be);
    for (size_t i = 0; i < src->st->count; i++) {
        const struct vma *v = &src->st->vmas[i];
        uint64_t len = v->end - v->start;
        uint8_t *host = v->host;
        if (!(v->flags & ASPACE_MAP_SHARED)) {
            host = host_alloc(len, false);
            if (!host)
                return -LX_ENOMEM;
            copy_resident(host, v->host, len);
        }
        int rc = map_host(dst, v->start, len, v->prot, v->flags, host,
                          v->flags & ASPACE_MAP_SHARED ? v->backing_id : dst->st->next_backing_id++,
                          v->flags & ASPACE_MAP_SHARED ? v->backing_off : 0);
        if (rc) {
            if (!(v->flags & ASPACE_MAP_SHARED))
                munmap(host, len);
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
