/* The windows of an address space (windows.h). */
#include "windows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "aspace_internal.h"
#include "backend.h"

static size_t window_search(const struct window_set *w, guest_addr_t addr)
{
    size_t lo = 0, hi = w->n; /* first window whose end is above addr */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (w->v[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static const struct window *window_find(const struct window_set *w, guest_addr_t addr)
{
    size_t h = w->hint;
    if (h < w->n && w->v[h].base <= addr && addr < w->v[h].end)
        return &w->v[h];
    size_t i = window_search(w, addr);
    if (i < w->n && w->v[i].base <= addr) {
        ((struct window_set *)w)->hint = i;
        return &w->v[i];
    }
    return NULL;
}

static void notice_full(struct aspace *as)
{
    if (as->windows_full_noted)
        return;
    as->windows_full_noted = true;
    fprintf(stderr,
            "rseqemu: notice: the guest's memory is spread over more than %d windows of "
            "%llu MiB; its mappings beyond them get ENOMEM\n",
            WINDOWS_MAX, (unsigned long long)(WINDOW_GRANULE >> 20));
}

/* One window over [base, end), none of which is covered yet. Its host memory is placed right
 * after the window below when that one ends at base, so that memory which spans the two stays
 * contiguous on the host (aspace_host()). */
static int window_add(struct aspace *as, guest_addr_t base, guest_addr_t end)
{
    struct window_set *w = &as->win;
    if (w->n == WINDOWS_MAX) {
        notice_full(as);
        return -LX_ENOMEM;
    }
    size_t i = window_search(w, base);
    uint64_t len = end - base;
    void *hint = NULL;
    if (i > 0 && w->v[i - 1].end == base)
        hint = w->v[i - 1].host + (w->v[i - 1].end - w->v[i - 1].base);
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    uint8_t *host =
        hint ? mmap(hint, len, PROT_READ | PROT_WRITE, flags | MAP_FIXED_NOREPLACE, -1, 0)
             : MAP_FAILED;
    if (host == MAP_FAILED)
        host = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (host == MAP_FAILED)
        return -LX_ENOMEM;
    if (backend_window_add(as->be, base, len, host) != 0) {
        munmap(host, len);
        notice_full(as);
        return -LX_ENOMEM;
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 16;
        struct window *v = realloc(w->v, cap * sizeof(*v));
        if (!v) {
            backend_window_remove(as->be, base, len);
            munmap(host, len);
            return -LX_ENOMEM;
        }
        w->v = v;
        w->cap = cap;
    }
    for (size_t j = w->n; j > i; j--)
        w->v[j] = w->v[j - 1];
    w->v[i] = (struct window){.base = base, .end = end, .host = host};
    w->n++;
    return 0;
}

int windows_cover(struct aspace *as, guest_addr_t start, guest_addr_t end)
{
    guest_addr_t at = start & ~(WINDOW_GRANULE - 1);
    guest_addr_t stop = (end + WINDOW_GRANULE - 1) & ~(WINDOW_GRANULE - 1);
    if (stop < end)
        return -LX_ENOMEM;
    while (at < stop) {
        size_t i = window_search(&as->win, at);
        const struct window *next = i < as->win.n ? &as->win.v[i] : NULL;
        if (next && next->base <= at) {
            at = next->end;
            continue;
        }
        guest_addr_t run_end = next && next->base < stop ? next->base : stop;
        int rc = window_add(as, at, run_end);
        if (rc)
            return rc;
        at = run_end;
    }
    return 0;
}

uint8_t *windows_host(const struct aspace *as, guest_addr_t addr, uint64_t *avail)
{
    const struct window *v = window_find(&as->win, addr);
    if (!v)
        return NULL;
    uint8_t *host = v->host + (addr - v->base);
    if (avail) {
        *avail = v->end - addr;
        const struct window *last = v;
        while (last + 1 < as->win.v + as->win.n && last[1].base == last->end &&
               last[1].host == last->host + (last->end - last->base)) {
            last++;
            *avail += last->end - last->base;
        }
    }
    return host;
}

void windows_for_each_piece(const struct aspace *as, guest_addr_t start, guest_addr_t end,
                            void (*fn)(void *ctx, uint8_t *host, uint64_t len), void *ctx)
{
    while (start < end) {
        uint64_t avail = 0;
        uint8_t *host = windows_host(as, start, &avail);
        if (!host)
            return;
        uint64_t n = end - start < avail ? end - start : avail;
        fn(ctx, host, n);
        start += n;
    }
}

void windows_free(struct window_set *w)
{
    for (size_t i = 0; i < w->n; i++) {
        munmap(w->v[i].host, w->v[i].end - w->v[i].base);
        free(w->v[i].charged);
        free(w->v[i].charged_snap);
        free(w->v[i].young);
    }
    free(w->v);
    *w = (struct window_set){0};
}

/* ---- memory use ---- */

#define PAGE_SHIFT 12

static size_t bitmap_words(const struct window *v)
{
    return (size_t)(((v->end - v->base) >> PAGE_SHIFT) + 63) / 64;
}

static struct window *window_of(struct aspace *as, guest_addr_t addr)
{
    return (struct window *)window_find(&as->win, addr);
}

void windows_charge(struct aspace *as, guest_addr_t addr, uint64_t len)
{
    struct emu *emu = as->emu;
    guest_addr_t pg = addr & ~((1ULL << PAGE_SHIFT) - 1), end = addr + len;
    struct window *v = NULL;
    for (; pg < end; pg += 1ULL << PAGE_SHIFT) {
        if (!v || pg >= v->end) {
            v = window_of(as, pg);
            if (!v)
                return;
            if (!v->charged && !(v->charged = calloc(bitmap_words(v), sizeof(uint64_t))))
                return; /* not counted: the cap is a guard, not a promise */
        }
        uint64_t i = (pg - v->base) >> PAGE_SHIFT, bit = 1ULL << (i % 64);
        if (v->charged[i / 64] & bit)
            continue;
        v->charged[i / 64] |= bit;
        v->charged_changed = true;
        emu->mem_pages++;
    }
}

void windows_uncharge(struct aspace *as, guest_addr_t start, guest_addr_t end)
{
    struct emu *emu = as->emu;
    while (start < end) {
        struct window *v = window_of(as, start);
        if (!v)
            return;
        guest_addr_t stop = end < v->end ? end : v->end;
        if (v->charged) {
            for (uint64_t i = (start - v->base) >> PAGE_SHIFT, n = (stop - v->base) >> PAGE_SHIFT;
                 i < n;) {
                uint64_t *w = &v->charged[i / 64];
                if (i % 64 == 0 && n - i >= 64) {
                    emu->mem_pages -= (uint64_t)__builtin_popcountll(*w);
                    v->charged_changed |= *w != 0;
                    *w = 0;
                    i += 64;
                    continue;
                }
                uint64_t bit = 1ULL << (i % 64);
                if (*w & bit) {
                    *w &= ~bit;
                    emu->mem_pages--;
                    v->charged_changed = true;
                }
                i++;
            }
        }
        start = stop;
    }
}

void windows_uncharge_all(struct aspace *as)
{
    for (size_t i = 0; i < as->win.n; i++) {
        const struct window *v = &as->win.v[i];
        for (size_t j = 0; v->charged && j < bitmap_words(v); j++)
            as->emu->mem_pages -= (uint64_t)__builtin_popcountll(v->charged[j]);
    }
}

void windows_charge_save(struct aspace *as)
{
    for (size_t i = 0; i < as->win.n; i++) {
        struct window *v = &as->win.v[i];
        v->charged_changed = false;
        if (!v->charged) {
            free(v->charged_snap);
            v->charged_snap = NULL;
            continue;
        }
        size_t bytes = bitmap_words(v) * sizeof(uint64_t);
        if (!v->charged_snap && !(v->charged_snap = malloc(bytes)))
            continue;
        memcpy(v->charged_snap, v->charged, bytes);
    }
}

void windows_charge_restore(struct aspace *as)
{
    for (size_t i = 0; i < as->win.n; i++) {
        struct window *v = &as->win.v[i];
        if (!v->charged_changed || !v->charged)
            continue;
        size_t bytes = bitmap_words(v) * sizeof(uint64_t);
        if (v->charged_snap)
            memcpy(v->charged, v->charged_snap, bytes);
        else
            memset(v->charged, 0, bytes);
        v->charged_changed = false;
    }
}

/* ---- memory mapped since the snapshot ---- */

void windows_young_mark(struct aspace *as, guest_addr_t start, guest_addr_t end)
{
    while (start < end) {
        struct window *v = window_of(as, start);
        if (!v)
            return;
        if (!v->young && !(v->young = calloc(bitmap_words(v), sizeof(uint64_t)))) {
            fprintf(stderr, "rseqemu: internal error: out of memory for a snapshot\n");
            abort();
        }
        v->young_any = true;
        guest_addr_t stop = end < v->end ? end : v->end;
        uint64_t i = (start - v->base) >> PAGE_SHIFT, n = (stop - v->base) >> PAGE_SHIFT;
        for (; i < n && i % 64; i++)
            v->young[i / 64] |= 1ULL << (i % 64);
        for (; i + 64 <= n; i += 64)
            v->young[i / 64] = ~0ULL;
        for (; i < n; i++)
            v->young[i / 64] |= 1ULL << (i % 64);
        start = stop;
    }
}

bool windows_young(const struct aspace *as, guest_addr_t addr)
{
    const struct window *v = window_find(&as->win, addr);
    if (!v || !v->young)
        return false;
    uint64_t i = (addr - v->base) >> PAGE_SHIFT;
    return (v->young[i / 64] >> (i % 64)) & 1;
}

void windows_young_forget(struct aspace *as)
{
    for (size_t i = 0; i < as->win.n; i++) {
        struct window *v = &as->win.v[i];
        if (v->young_any)
            memset(v->young, 0, bitmap_words(v) * sizeof(uint64_t));
        v->young_any = false;
    }
}
