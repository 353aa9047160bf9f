/* Inside emu/: the host memory behind an address space.
 *
 * The engine has a small fixed table of memory regions (Unicorn 2.0.1 aborts past about a
 * thousand on aarch64, and each region costs every later map a rebuild of its flat view), while
 * guests make tens of thousands of mappings. So the engine sees a few large windows, each one
 * region over one host reservation, aligned to WINDOW_GRANULE; mappings live inside them and
 * their protections are kept by the kernel model, which the engine asks page by page
 * (fast_stores.c). A window is made when a mapping first needs its granules and lasts as long
 * as the address space. Guest pages that no mapping covers read as zeros: unmapping gives the
 * host pages back. */
#ifndef RSEQEMU_EMU_WINDOWS_H
#define RSEQEMU_EMU_WINDOWS_H

#include <stddef.h>
#include <stdint.h>

#include "arch/arch.h"

#define WINDOW_GRANULE (1ULL << 30)
/* Far below the engine's own limit, which must never be reached. */
#define WINDOWS_MAX 512

struct aspace;

struct window {
    guest_addr_t base, end;
    uint8_t *host;
};

struct window_set {
    struct window *v; /* sorted by base */
    size_t n, cap;
    size_t hint; /* the window found last */
};

/* Windows cover every granule of [start, end): 0, or -LX_ENOMEM when the host or the window
 * table has no room (the guest's mmap then fails, as Linux's would on a full address space). */
int windows_cover(struct aspace *as, guest_addr_t start, guest_addr_t end);
/* Host address of guest addr, and in *avail the bytes from there that are contiguous on the
 * host (at least to the end of its window); NULL if no window covers addr. */
uint8_t *windows_host(const struct aspace *as, guest_addr_t addr, uint64_t *avail);
/* Calls fn for each host-contiguous piece of [start, end), in order; stops at a hole. */
void windows_for_each_piece(const struct aspace *as, guest_addr_t start, guest_addr_t end,
                            void (*fn)(void *ctx, uint8_t *host, uint64_t len), void *ctx);
void windows_free(struct window_set *w);

#endif
