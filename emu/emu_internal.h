/* Inside emu/: the machine object shared by its files. */
#ifndef RSEQEMU_EMU_EMU_INTERNAL_H
#define RSEQEMU_EMU_EMU_INTERNAL_H

#include <capstone/capstone.h>
#include <stdbool.h>
#include <stdint.h>

#include "emu.h"

struct aspace_state;

#define EMU_ASPACE_MAX 64

struct emu {
    const struct arch_desc *arch;
    struct arena *arena;
    bool fast_stores;
    bool verify_icount;
    bool store_watch;
    csh cs; /* decodes translation blocks for their instruction counts (x86-64) */
    uint64_t icount_decodes;
    struct aspace_state *aspace_states; /* EMU_ASPACE_MAX slots in the arena */
    struct aspace *aspaces[EMU_ASPACE_MAX];
};

/* fast_stores.c */
bool fast_stores_selftest(const struct arch_desc *arch, const char **why);
struct engine;
void fast_stores_set_current(struct engine *e);

/* fault_pc.c */
void fault_pc_note_start(void);
/* After a memory fault: moves the engine's IP to the faulting instruction. */
bool fault_pc_restore(const struct arch_desc *arch, void *cpu);

#endif
