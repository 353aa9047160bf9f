/* Inside emu/: how the engine learns a guest page's permissions from the kernel model.
 *
 * The engine maps each address space as a few large windows with every permission (windows.h);
 * the permissions are the model's VMAs'. Two functions of Debian's Unicorn 2.0.1, which the
 * library calls through its PLT, are replaced (engine_pages.c):
 *  - memory_mapping(), which its load, store and fetch paths ask for the region of an address
 *    and whose region's perms they check: for the running engine it answers with a one-page
 *    region that has the page's permissions (or NULL where no VMA is);
 *  - tlb_set_page_with_attrs_<arch>(), which fills a TLB entry: the entry gets only the page's
 *    permissions, so an access the page does not allow misses the TLB and meets the check
 *    above; and a writable page that cannot hold code skips the engine's code-invalidation
 *    path (fast stores: in 2.0.1 every RAM store otherwise leaves the JIT, about 50x slower).
 * page_perms_selftest() checks at start-up that this build really calls the definitions. */
#ifndef RSEQEMU_EMU_ENGINE_PAGES_H
#define RSEQEMU_EMU_ENGINE_PAGES_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/arch.h"

/* Engine permission bits: UC_PROT_READ/WRITE/EXEC, which are also the engine's PAGE_* TLB bits. */
enum { ENGINE_READ = 1, ENGINE_WRITE = 2, ENGINE_EXEC = 4, ENGINE_PERMS = 8 };

/* A running engine as the replacements see it. */
struct page_source {
    const struct arch_desc *arch;
    void *uc;                    /* the uc_engine */
    void *cpu;                   /* its CPUState, learnt at its first TLB fill */
    void *regions[ENGINE_PERMS]; /* one-page regions whose perms are the index */
    /* The page's permissions (ENGINE_*), or -1 when nothing maps it. */
    int (*perms)(struct page_source *src, uint64_t vaddr);
    /* A TLB entry is being filled: as perms(), and *fast when stores may skip the
     * code-invalidation path. */
    int (*fill)(struct page_source *src, uint64_t vaddr, bool *fast);
    /* The guest's executable bytes from vaddr as the engine fetches them: a host pointer and,
     * in *len (at most what was asked), how many are contiguous; NULL when none is. */
    const uint8_t *(*code)(struct page_source *src, uint64_t vaddr, size_t *len);
};

/* Maps the one-page regions of src into its engine, at addresses no guest uses. */
bool page_source_init(struct page_source *src, const struct arch_desc *arch, void *uc);
/* The engine that runs now (NULL: none; then the replacements change nothing). */
void page_source_set_current(struct page_source *src);
struct page_source *page_source_current(void);
/* Forgets the engine's TLB entries for [addr, addr+len), or all of them. */
void page_source_tlb_flush(struct page_source *src, uint64_t addr, uint64_t len);
void page_source_tlb_flush_all(struct page_source *src);

#endif
