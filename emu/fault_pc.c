/* The exact guest IP of a memory fault on Debian's Unicorn 2.0.1.
 *
 * When a load or store reaches unmapped or protected memory, 2.0.1 leaves the translation
 * block with cpu_loop_exit() instead of cpu_loop_exit_restore(): the registers are those of
 * the faulting instruction, but the IP is still the start of its block. (The page-fault path
 * of later releases restores it.) A fault always goes through the slow-path memory helpers,
 * which TCG calls with the host address of the faulting access in their `retaddr` argument,
 * and the library reaches them through interposable relocations. The wrappers below note
 * that address; after a fault, fault_pc_restore() hands it to the exported
 * cpu_restore_state_<arch>(), which moves the IP (and x86's lazy flags state) to the faulting
 * instruction, as QEMU itself does. */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>

#include "emu_internal.h"

typedef uint64_t (*ld_fn)(void *env, uint64_t addr, uint32_t oi, uintptr_t retaddr);
typedef void (*st8_fn)(void *env, uint64_t addr, uint8_t val, uint32_t oi, uintptr_t retaddr);
typedef void (*st16_fn)(void *env, uint64_t addr, uint16_t val, uint32_t oi, uintptr_t retaddr);
typedef void (*st32_fn)(void *env, uint64_t addr, uint32_t val, uint32_t oi, uintptr_t retaddr);
typedef void (*st64_fn)(void *env, uint64_t addr, uint64_t val, uint32_t oi, uintptr_t retaddr);
typedef bool (*restore_fn)(void *cpu, uintptr_t host_pc, bool will_exit);

/* One host thread runs every engine, so one slot suffices. */
static uintptr_t last_retaddr;

#define RESOLVE(type, name) static type real_##name
#define LOADER(name)                                                                               \
    uint64_t name(void *env, uint64_t addr, uint32_t oi, uintptr_t retaddr);                       \
    RESOLVE(ld_fn, name);                                                                          \
    uint64_t name(void *env, uint64_t addr, uint32_t oi, uintptr_t retaddr)                        \
    {                                                                                              \
        last_retaddr = retaddr;                                                                    \
        return real_##name(env, addr, oi, retaddr);                                                \
    }
#define STORER(name, vtype, ftype)                                                                 \
    void name(void *env, uint64_t addr, vtype val, uint32_t oi, uintptr_t retaddr);                \
    RESOLVE(ftype, name);                                                                          \
    void name(void *env, uint64_t addr, vtype val, uint32_t oi, uintptr_t retaddr)                 \
    {                                                                                              \
        last_retaddr = retaddr;                                                                    \
        real_##name(env, addr, val, oi, retaddr);                                                  \
    }
#define ARCH_HELPERS(arch)                                                                         \
    LOADER(helper_ret_ldub_mmu_##arch)                                                             \
    LOADER(helper_le_lduw_mmu_##arch)                                                              \
    LOADER(helper_le_ldul_mmu_##arch)                                                              \
    LOADER(helper_le_ldq_mmu_##arch)                                                               \
    STORER(helper_ret_stb_mmu_##arch, uint8_t, st8_fn)                                             \
    STORER(helper_le_stw_mmu_##arch, uint16_t, st16_fn)                                            \
    STORER(helper_le_stl_mmu_##arch, uint32_t, st32_fn)                                            \
    STORER(helper_le_stq_mmu_##arch, uint64_t, st64_fn)

ARCH_HELPERS(x86_64)
ARCH_HELPERS(aarch64)

#define BIND(name) real_##name = (__typeof__(real_##name))dlsym(RTLD_NEXT, #name)
#define BIND_ARCH(arch)                                                                            \
    BIND(helper_ret_ldub_mmu_##arch);                                                              \
    BIND(helper_le_lduw_mmu_##arch);                                                               \
    BIND(helper_le_ldul_mmu_##arch);                                                               \
    BIND(helper_le_ldq_mmu_##arch);                                                                \
    BIND(helper_ret_stb_mmu_##arch);                                                               \
    BIND(helper_le_stw_mmu_##arch);                                                                \
    BIND(helper_le_stl_mmu_##arch);                                                                \
    BIND(helper_le_stq_mmu_##arch)

static restore_fn restore_x86_64, restore_aarch64;

/* Resolved before any engine exists: the library binds its helper tables to these wrappers
 * when it is loaded, so the real helpers must be known before the first guest access. */
__attribute__((constructor)) static void fault_pc_resolve(void)
{
    BIND_ARCH(x86_64);
    BIND_ARCH(aarch64);
    restore_x86_64 = (restore_fn)dlsym(RTLD_DEFAULT, "cpu_restore_state_x86_64");
    restore_aarch64 = (restore_fn)dlsym(RTLD_DEFAULT, "cpu_restore_state_aarch64");
}

void fault_pc_note_start(void) { last_retaddr = 0; }

bool fault_pc_restore(const struct arch_desc *arch, void *cpu)
{
    restore_fn restore = arch->id == ARCH_X86_64 ? restore_x86_64 : restore_aarch64;
    if (!cpu || !restore || !last_retaddr)
        return false;
    return restore(cpu, last_retaddr, true);
}
