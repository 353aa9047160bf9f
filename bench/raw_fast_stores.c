/* See raw_fast_stores.h. The same technique as emu/fast_stores.c: the executable defines the
 * library's tlb_set_page_with_attrs_<arch>, which libunicorn 2.0.1 reaches through its PLT;
 * the definition calls the real one (RTLD_NEXT) and then the exported tlb_set_dirty_<arch>
 * for pages that can never hold code. The link exports the two names
 * (--export-dynamic-symbol, bench/CMakeLists.txt). */
#include "raw_fast_stores.h"

#include <dlfcn.h>
#include <stddef.h>

typedef void (*tlb_set_page_fn)(void *cpu, uint64_t vaddr, uint64_t paddr, uint32_t attrs, int prot,
                                int mmu_idx, uint64_t size);
typedef void (*tlb_set_dirty_fn)(void *cpu, uint64_t vaddr);

struct fast_arch {
    const char *set_page_name, *set_dirty_name;
    tlb_set_page_fn set_page;
    tlb_set_dirty_fn set_dirty;
};

static struct fast_arch fast_x86_64 = {"tlb_set_page_with_attrs_x86_64", "tlb_set_dirty_x86_64",
                                       NULL, NULL};
static struct fast_arch fast_aarch64 = {"tlb_set_page_with_attrs_aarch64", "tlb_set_dirty_aarch64",
                                        NULL, NULL};

#define MAX_REGIONS 16
static struct {
    uint64_t start, end;
} regions[MAX_REGIONS];
static int nregions;
static unsigned long fills, dirtied;

static void resolve(struct fast_arch *fa)
{
    if (!fa->set_page) {
        fa->set_page = (tlb_set_page_fn)dlsym(RTLD_NEXT, fa->set_page_name);
        fa->set_dirty = (tlb_set_dirty_fn)dlsym(RTLD_NEXT, fa->set_dirty_name);
    }
}

bool raw_fast_available(bool x86)
{
    struct fast_arch *fa = x86 ? &fast_x86_64 : &fast_aarch64;
    resolve(fa);
    return fa->set_page && fa->set_dirty;
}

void raw_fast_add_region(uint64_t start, uint64_t end)
{
    for (int i = 0; i < nregions; i++)
        if (regions[i].start == start && regions[i].end == end)
            return;
    if (nregions < MAX_REGIONS) {
        regions[nregions].start = start;
        regions[nregions].end = end;
        nregions++;
    }
}

unsigned long raw_fast_fills(void) { return fills; }
unsigned long raw_fast_dirtied(void) { return dirtied; }

static void fast_set_page(struct fast_arch *fa, void *cpu, uint64_t vaddr, uint64_t paddr,
                          uint32_t attrs, int prot, int mmu_idx, uint64_t size)
{
    resolve(fa);
    fa->set_page(cpu, vaddr, paddr, attrs, prot, mmu_idx, size);
    fills++;
    for (int i = 0; i < nregions; i++)
        if (vaddr >= regions[i].start && vaddr < regions[i].end) {
            fa->set_dirty(cpu, vaddr);
            dirtied++;
            return;
        }
}

void tlb_set_page_with_attrs_x86_64(void *cpu, uint64_t vaddr, uint64_t paddr, uint32_t attrs,
                                    int prot, int mmu_idx, uint64_t size);
void tlb_set_page_with_attrs_aarch64(void *cpu, uint64_t vaddr, uint64_t paddr, uint32_t attrs,
                                     int prot, int mmu_idx, uint64_t size);

void tlb_set_page_with_attrs_x86_64(void *cpu, uint64_t vaddr, uint64_t paddr, uint32_t attrs,
                                    int prot, int mmu_idx, uint64_t size)
{
    fast_set_page(&fast_x86_64, cpu, vaddr, paddr, attrs, prot, mmu_idx, size);
}

void tlb_set_page_with_attrs_aarch64(void *cpu, uint64_t vaddr, uint64_t paddr, uint32_t attrs,
                                     int prot, int mmu_idx, uint64_t size)
{
    fast_set_page(&fast_aarch64, cpu, vaddr, paddr, attrs, prot, mmu_idx, size);
}
