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
    /* Pages the guest's memory use is charged for (--max-mem), a bit each; and their copy at
     * the snapshot (NULL: the window is younger), restored when changed since. */
    uint64_t *charged, *charged_snap;
    bool charged_changed;
    /* Pages mapped since the snapshot, a bit each (NULL: none): memory a restore gives back
     * whole, whose pages it need not keep. */
    uint64_t *young;
    bool young_any;
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
/* Memory use, counted in pages as the guest first touches them and given back as it unmaps or
 * discards them (emu.h, emu_config.max_mem). A page that is only read is charged too when its
 * mapping is writable: the engine does not say which access fills its TLB. */
void windows_charge(struct aspace *as, guest_addr_t addr, uint64_t len);
void windows_uncharge(struct aspace *as, guest_addr_t start, guest_addr_t end);
/* Every page of the address space is given back (it ends), keeping the bits for a restore. */
void windows_uncharge_all(struct aspace *as);
/* snapshot.c: keep the bits; put them back. */
void windows_charge_save(struct aspace *as);
void windows_charge_restore(struct aspace *as);

/* Private memory mapped since the snapshot (snapshot.c): marked as it is mapped, forgotten
 * when the snapshot is taken or restored. */
void windows_young_mark(struct aspace *as, guest_addr_t start, guest_addr_t end);
bool windows_young(const struct aspace *as, guest_addr_t addr);
void windows_young_forget(struct aspace *as);

/* Calls fn for each host-contiguous piece of [start, end), in order; stops at a hole. */
void windows_for_each_piece(const struct aspace *as, guest_addr_t start, guest_addr_t end,
                            void (*fn)(void *ctx, uint8_t *host, uint64_t len), void *ctx);
void windows_free(struct window_set *w);

#endif
