/* Guest stores at engine speed on Debian's Unicorn 2.0.1.
 *
 * In 2.0.1 every RAM TLB entry keeps TLB_NOTDIRTY (cpu_physical_memory_is_clean() is stubbed to
 * true), so every guest store leaves the JIT for a helper that locks and searches for code to
 * invalidate: about 50x slower than a load. The library calls tlb_set_page_with_attrs_<arch>
 * through its PLT, so the definitions below take its place. Each calls the real one and then,
 * for a page that can never hold code, the exported tlb_set_dirty_<arch>, which drops
 * TLB_NOTDIRTY and lets stores to data, stack and heap take the inline path. Pages that are (or
 * become) executable keep the slow path, which is what detects self-modifying code; a change of
 * protection flushes the engine's TLB (uc_backend.c).
 *
 * This depends on internals of that exact build, so fast_stores_selftest() checks at start-up
 * that the library really calls the definitions here, and the machine falls back to the stock
 * path otherwise; tests/unit/test_engine.c checks that stores into code are still seen. */
#include <dlfcn.h>
#include <string.h>
#include <sys/mman.h>
#include <unicorn/unicorn.h>

#include "backend.h"
#include "emu_internal.h"

typedef void (*tlb_set_page_fn)(void *cpu, uint64_t vaddr, uint64_t paddr, uint32_t attrs, int prot,
                                int mmu_idx, uint64_t size);
typedef void (*tlb_set_dirty_fn)(void *cpu, uint64_t vaddr);

struct fast_arch {
    tlb_set_page_fn set_page;
    tlb_set_dirty_fn set_dirty;
};

static struct fast_arch fast_x86_64, fast_aarch64;
static struct engine *fast_current;
static unsigned long fast_selftest_calls;

/* Provided by uc_backend.c: whether stores to this page may skip the code-invalidation check,
 * and remembers the engine's CPU pointer for later TLB flushes. */
struct engine;
bool backend_page_is_fast(struct engine *e, void *cpu, uint64_t vaddr);

__attribute__((constructor)) static void fast_stores_resolve(void)
{
    fast_x86_64.set_page = (tlb_set_page_fn)dlsym(RTLD_NEXT, "tlb_set_page_with_attrs_x86_64");
    fast_x86_64.set_dirty = (tlb_set_dirty_fn)dlsym(RTLD_NEXT, "tlb_set_dirty_x86_64");
    fast_aarch64.set_page = (tlb_set_page_fn)dlsym(RTLD_NEXT, "tlb_set_page_with_attrs_aarch64");
    fast_aarch64.set_dirty = (tlb_set_dirty_fn)dlsym(RTLD_NEXT, "tlb_set_dirty_aarch64");
}

static void fast_set_page(const struct fast_arch *fa, void *cpu, uint64_t vaddr, uint64_t paddr,
                          uint32_t attrs, int prot, int mmu_idx, uint64_t size)
{
    fa->set_page(cpu, vaddr, paddr, attrs, prot, mmu_idx, size);
    fast_selftest_calls++;
    if (fast_current && backend_page_is_fast(fast_current, cpu, vaddr))
        fa->set_dirty(cpu, vaddr);
}

/* The interposed definitions; the names must match the library's exactly. */
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

void fast_stores_set_current(struct engine *e) { fast_current = e; }

void *fast_stores_flush_fn(const struct arch_desc *arch);
void *fast_stores_flush_fn(const struct arch_desc *arch)
{
    return dlsym(RTLD_DEFAULT, arch->id == ARCH_X86_64 ? "tlb_flush_x86_64" : "tlb_flush_aarch64");
}

/* A store loop into a data page, then a store that rewrites an already-executed code page:
 * the first must go through the interposer, the second must still be noticed. */
bool fast_stores_selftest(const struct arch_desc *arch, const char **why)
{
    const struct fast_arch *fa = arch->id == ARCH_X86_64 ? &fast_x86_64 : &fast_aarch64;
    if (!fa->set_page || !fa->set_dirty || !fast_stores_flush_fn(arch)) {
        *why = "the engine does not export the TLB functions";
        return false;
    }
    /* x86: mov [0x20000], eax; hlt.  aarch64: str w0, [x1]; brk #0 (stop via the error). */
    static const uint8_t x86_store[] = {0x89, 0x04, 0x25, 0x00, 0x00, 0x02, 0x00, 0xf4};
    static const uint32_t a64_store[] = {0xb9000020, 0xd4200000};
    uc_engine *uc;
    if (uc_open(arch->uc_arch, arch->uc_mode, &uc) != UC_ERR_OK) {
        *why = "cannot open an engine";
        return false;
    }
    uint8_t *code = mmap(NULL, 0x2000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    bool ok = code != MAP_FAILED;
    if (ok) {
        uint8_t *data = code + 0x1000;
        uint64_t code_va = 0x10000, data_va = 0x20000;
        ok = uc_mem_map_ptr(uc, code_va, 0x1000, UC_PROT_ALL, code) == UC_ERR_OK &&
             uc_mem_map_ptr(uc, data_va, 0x1000, UC_PROT_READ | UC_PROT_WRITE, data) == UC_ERR_OK;
        unsigned long before = fast_selftest_calls;
        if (ok && arch->id == ARCH_X86_64) {
            memcpy(code, x86_store, sizeof(x86_store));
            uint64_t v = 0x1234;
            uc_reg_write(uc, UC_X86_REG_RAX, &v);
            uc_emu_start(uc, code_va, 0, 0, 0);
        } else if (ok) {
            memcpy(code, a64_store, sizeof(a64_store));
            uint64_t v = 0x1234;
            uc_reg_write(uc, UC_ARM64_REG_X0, &v);
            uc_reg_write(uc, UC_ARM64_REG_X1, &data_va);
            uc_emu_start(uc, code_va, code_va + 4, 0, 0);
        }
        if (!ok || fast_selftest_calls == before || *(uint32_t *)data != 0x1234) {
            *why = "the store interposition is not wired into the engine";
            ok = false;
        }
        munmap(code, 0x2000);
    }
    uc_close(uc);
    return ok;
}
