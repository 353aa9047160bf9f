/* The engine's page permissions and fast stores (engine_pages.h). */
#include "engine_pages.h"

#include <dlfcn.h>
#include <string.h>
#include <sys/mman.h>
#include <unicorn/unicorn.h>

#include "emu_internal.h"

typedef void *(*memory_mapping_fn)(void *uc, uint64_t addr);
typedef void (*tlb_set_page_fn)(void *cpu, uint64_t vaddr, uint64_t paddr, uint32_t attrs, int prot,
                                int mmu_idx, uint64_t size);
typedef void (*tlb_set_dirty_fn)(void *cpu, uint64_t vaddr);
typedef void (*tlb_flush_fn)(void *cpu);
typedef void (*tlb_flush_page_fn)(void *cpu, uint64_t addr);

struct engine_arch {
    tlb_set_page_fn set_page;
    tlb_set_dirty_fn set_dirty;
    tlb_flush_fn flush;
    tlb_flush_page_fn flush_page;
};

static memory_mapping_fn real_memory_mapping;
static struct engine_arch engine_x86_64, engine_aarch64;
static struct page_source *current;
static unsigned long selftest_fills, selftest_lookups;

/* Where the one-page regions go: above every user address of both arches. */
#define REGIONS_BASE 0xfff0000000000000ULL
#define PAGE         4096ULL
/* Past this many pages a range flush empties the whole TLB, which costs about as much. */
#define FLUSH_PAGES_MAX 64

#define RESOLVE(fa, suffix)                                                                        \
    do {                                                                                           \
        (fa).set_page = (tlb_set_page_fn)dlsym(RTLD_NEXT, "tlb_set_page_with_attrs_" suffix);      \
        (fa).set_dirty = (tlb_set_dirty_fn)dlsym(RTLD_NEXT, "tlb_set_dirty_" suffix);              \
        (fa).flush = (tlb_flush_fn)dlsym(RTLD_DEFAULT, "tlb_flush_" suffix);                       \
        (fa).flush_page = (tlb_flush_page_fn)dlsym(RTLD_DEFAULT, "tlb_flush_page_" suffix);        \
    } while (0)

__attribute__((constructor)) static void engine_pages_resolve(void)
{
    real_memory_mapping = (memory_mapping_fn)dlsym(RTLD_NEXT, "memory_mapping");
    RESOLVE(engine_x86_64, "x86_64");
    RESOLVE(engine_aarch64, "aarch64");
}

static const struct engine_arch *engine_arch_of(const struct arch_desc *arch)
{
    return arch->id == ARCH_X86_64 ? &engine_x86_64 : &engine_aarch64;
}

/* The replacement: the library's name and signature exactly. */
void *memory_mapping(void *uc, uint64_t addr);
void *memory_mapping(void *uc, uint64_t addr)
{
    void *mr = real_memory_mapping(uc, addr);
    struct page_source *src = current;
    if (!src || !mr || uc != src->uc)
        return mr;
    selftest_lookups++;
    int perms = src->perms(src, addr);
    return perms < 0 ? NULL : src->regions[perms];
}

static void set_page(const struct engine_arch *fa, void *cpu, uint64_t vaddr, uint64_t paddr,
                     uint32_t attrs, int prot, int mmu_idx, uint64_t size)
{
    struct page_source *src = current;
    bool fast = false;
    if (src) {
        src->cpu = cpu;
        int perms = src->fill(src, vaddr, &fast);
        prot &= perms < 0 ? 0 : perms;
        selftest_fills++;
    }
    fa->set_page(cpu, vaddr, paddr, attrs, prot, mmu_idx, size);
    if (fast)
        fa->set_dirty(cpu, vaddr);
}

void tlb_set_page_with_attrs_x86_64(void *cpu, uint64_t vaddr, uint64_t paddr, uint32_t attrs,
                                    int prot, int mmu_idx, uint64_t size);
void tlb_set_page_with_attrs_aarch64(void *cpu, uint64_t vaddr, uint64_t paddr, uint32_t attrs,
                                     int prot, int mmu_idx, uint64_t size);

void tlb_set_page_with_attrs_x86_64(void *cpu, uint64_t vaddr, uint64_t paddr, uint32_t attrs,
                                    int prot, int mmu_idx, uint64_t size)
{
    set_page(&engine_x86_64, cpu, vaddr, paddr, attrs, prot, mmu_idx, size);
}

void tlb_set_page_with_attrs_aarch64(void *cpu, uint64_t vaddr, uint64_t paddr, uint32_t attrs,
                                     int prot, int mmu_idx, uint64_t size)
{
    set_page(&engine_aarch64, cpu, vaddr, paddr, attrs, prot, mmu_idx, size);
}

bool page_source_init(struct page_source *src, const struct arch_desc *arch, void *uc)
{
    src->arch = arch;
    src->uc = uc;
    if (!real_memory_mapping)
        return false;
    for (int p = 0; p < ENGINE_PERMS; p++) {
        uint64_t at = REGIONS_BASE + (uint64_t)p * PAGE;
        if (uc_mem_map(uc, at, PAGE, (uint32_t)p) != UC_ERR_OK)
            return false;
        src->regions[p] = real_memory_mapping(uc, at);
        if (!src->regions[p])
            return false;
    }
    return true;
}

void page_source_set_current(struct page_source *src) { current = src; }
struct page_source *page_source_current(void) { return current; }

void page_source_tlb_flush_all(struct page_source *src)
{
    if (src->cpu)
        engine_arch_of(src->arch)->flush(src->cpu);
}

void page_source_tlb_flush(struct page_source *src, uint64_t addr, uint64_t len)
{
    if (!src->cpu)
        return; /* the engine never filled an entry */
    uint64_t first = addr & ~(PAGE - 1), pages = (addr + len - first + PAGE - 1) / PAGE;
    if (pages > FLUSH_PAGES_MAX) {
        page_source_tlb_flush_all(src);
        return;
    }
    const struct engine_arch *fa = engine_arch_of(src->arch);
    for (uint64_t i = 0; i < pages; i++)
        fa->flush_page(src->cpu, first + i * PAGE);
}

/* ---- the start-up check ---- */

/* The check's guest: a code page, a data page it may only read, and nothing beyond. */
#define TEST_CODE 0x10000ULL
#define TEST_DATA 0x11000ULL
#define TEST_HOLE 0x12000ULL

static int test_perms(struct page_source *src, uint64_t vaddr)
{
    (void)src;
    switch (vaddr & ~(PAGE - 1)) {
    case TEST_CODE:
        return ENGINE_READ | ENGINE_EXEC;
    case TEST_DATA:
        return ENGINE_READ;
    default:
        return -1;
    }
}

static int test_fill(struct page_source *src, uint64_t vaddr, bool *fast)
{
    *fast = false;
    return test_perms(src, vaddr);
}

/* Runs a store to TEST_DATA + off, which must fail with want and leave the page as it was. */
static bool test_store(uc_engine *uc, const struct arch_desc *arch, uint8_t *host, uint64_t to,
                       uc_err want)
{
    /* x86: mov [rbx], eax; hlt.  aarch64: str w0, [x1]; brk #0. */
    static const uint8_t x86_store[] = {0x89, 0x03, 0xf4};
    static const uint32_t a64_store[] = {0xb9000020, 0xd4200000};
    uint64_t v = 0x1234;
    if (arch->id == ARCH_X86_64) {
        memcpy(host, x86_store, sizeof(x86_store));
        uc_reg_write(uc, UC_X86_REG_RAX, &v);
        uc_reg_write(uc, UC_X86_REG_RBX, &to);
    } else {
        memcpy(host, a64_store, sizeof(a64_store));
        uc_reg_write(uc, UC_ARM64_REG_X0, &v);
        uc_reg_write(uc, UC_ARM64_REG_X1, &to);
    }
    uc_ctl_remove_cache(uc, TEST_CODE, TEST_CODE + PAGE);
    uc_err rc = uc_emu_start(uc, TEST_CODE, 0, 0, 2);
    return rc == want && *(uint32_t *)(host + PAGE) == 0;
}

static bool perms_check(const struct arch_desc *arch, const char **why)
{
    if (!real_memory_mapping) {
        *why = "the engine does not export memory_mapping";
        return false;
    }
    const struct engine_arch *fa = engine_arch_of(arch);
    if (!fa->set_page || !fa->set_dirty || !fa->flush || !fa->flush_page) {
        *why = "the engine does not export the TLB functions";
        return false;
    }
    uc_engine *uc;
    if (uc_open(arch->uc_arch, arch->uc_mode, &uc) != UC_ERR_OK) {
        *why = "cannot open an engine";
        return false;
    }
    uint8_t *host =
        mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct page_source src = {.perms = test_perms, .fill = test_fill};
    bool ok = host != MAP_FAILED && page_source_init(&src, arch, uc) &&
              uc_mem_map_ptr(uc, TEST_CODE, 4 * PAGE, UC_PROT_ALL, host) == UC_ERR_OK;
    if (ok) {
        page_source_set_current(&src);
        unsigned long fills = selftest_fills, lookups = selftest_lookups;
        ok = test_store(uc, arch, host, TEST_DATA, UC_ERR_WRITE_PROT) &&
             test_store(uc, arch, host, TEST_HOLE, UC_ERR_WRITE_UNMAPPED) &&
             selftest_fills != fills && selftest_lookups != lookups;
        page_source_set_current(NULL);
    }
    if (!ok && !*why)
        *why = "the engine does not take page permissions from the kernel model";
    if (host != MAP_FAILED)
        munmap(host, 4 * PAGE);
    uc_close(uc);
    return ok;
}

bool page_perms_selftest(const struct arch_desc *arch, const char **why)
{
    /* Once per arch and process: the answer is the library's, not the machine's. */
    static int result[2];
    static const char *reason[2];
    int i = arch->id == ARCH_X86_64 ? 0 : 1;
    if (!result[i]) {
        reason[i] = NULL;
        result[i] = perms_check(arch, &reason[i]) ? 1 : -1;
    }
    *why = reason[i];
    return result[i] > 0;
}

/* A store loop into a data page that may skip the code check: the store must land. */
static int fast_fill(struct page_source *src, uint64_t vaddr, bool *fast)
{
    (void)src;
    *fast = (vaddr & ~(PAGE - 1)) == TEST_DATA;
    return ENGINE_READ | ENGINE_WRITE | ENGINE_EXEC;
}

static int all_perms(struct page_source *src, uint64_t vaddr)
{
    (void)src, (void)vaddr;
    return ENGINE_READ | ENGINE_WRITE | ENGINE_EXEC;
}

bool fast_stores_selftest(const struct arch_desc *arch, const char **why)
{
    if (!page_perms_selftest(arch, why))
        return false;
    uc_engine *uc;
    if (uc_open(arch->uc_arch, arch->uc_mode, &uc) != UC_ERR_OK) {
        *why = "cannot open an engine";
        return false;
    }
    uint8_t *host =
        mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct page_source src = {.perms = all_perms, .fill = fast_fill};
    bool ok = host != MAP_FAILED && page_source_init(&src, arch, uc) &&
              uc_mem_map_ptr(uc, TEST_CODE, 4 * PAGE, UC_PROT_ALL, host) == UC_ERR_OK;
    if (ok) {
        page_source_set_current(&src);
        unsigned long fills = selftest_fills;
        /* The store runs into brk/hlt after it lands: any stop will do. */
        test_store(uc, arch, host, TEST_DATA, UC_ERR_OK);
        page_source_set_current(NULL);
        ok = selftest_fills != fills && *(uint32_t *)(host + PAGE) == 0x1234;
    }
    if (!ok)
        *why = "the store interposition is not wired into the engine";
    if (host != MAP_FAILED)
        munmap(host, 4 * PAGE);
    uc_close(uc);
    return ok;
}

void emu_engine_assert_test(void)
{
    /* The aarch64 engine's table of regions holds fewer than 1,024: its assertion fails. */
    uc_engine *uc;
    if (uc_open(UC_ARCH_ARM64, UC_MODE_ARM, &uc) != UC_ERR_OK)
        return;
    for (uint64_t i = 0; i < 4096; i++)
        uc_mem_map(uc, 0x100000 + i * 2 * PAGE, PAGE, UC_PROT_READ);
    uc_close(uc);
}
