#include "emu_internal.h"

#include <stdlib.h>

#include "arena.h"
#include "shm.h"

struct emu *emu_create(const struct emu_config *cfg, struct arena *arena, const char **err)
{
    struct emu *emu = calloc(1, sizeof(*emu));
    if (!emu) {
        *err = "out of memory";
        return NULL;
    }
    emu->arch = cfg->arch;
    emu->arena = arena;
    emu->verify_icount = cfg->verify_icount;
    emu->store_watch = cfg->store_watch;
    emu->mem_cap_pages = (cfg->max_mem + 4095) / 4096;
    cs_arch arch = cfg->arch->id == ARCH_X86_64 ? CS_ARCH_X86 : CS_ARCH_ARM64;
    cs_mode mode = cfg->arch->id == ARCH_X86_64 ? CS_MODE_64 : CS_MODE_ARM;
    if (cs_open(arch, mode, &emu->cs) != CS_ERR_OK) {
        *err = "cannot open the Capstone disassembler";
        free(emu);
        return NULL;
    }
    if (cfg->fast_stores == EMU_FAST_STORES_AUTO && !cfg->store_watch) {
        const char *why = NULL;
        emu->fast_stores = fast_stores_selftest(cfg->arch, &why);
    }
    const char *why = NULL;
    if (!page_perms_selftest(cfg->arch, &why)) {
        *err = why;
        cs_close(&emu->cs);
        free(emu);
        return NULL;
    }
    aspace_table_init(emu);
    return emu;
}

void emu_destroy(struct emu *emu)
{
    if (!emu)
        return;
    snap_destroy(emu);
    shm_destroy(emu);
    cs_close(&emu->cs);
    free(emu);
}

const struct arch_desc *emu_arch(const struct emu *emu) { return emu->arch; }
struct arena *emu_arena(const struct emu *emu) { return emu->arena; }
bool emu_fast_stores_active(const struct emu *emu) { return emu->fast_stores; }
uint64_t emu_mem_used(const struct emu *emu) { return emu->mem_pages * 4096; }
bool emu_mem_over(const struct emu *emu)
{
    return emu->mem_cap_pages && emu->mem_pages > emu->mem_cap_pages;
}
uint64_t emu_mem_cap(const struct emu *emu) { return emu->mem_cap_pages * 4096; }
uint64_t emu_icount_decodes(const struct emu *emu) { return emu->icount_decodes; }
