/* The machine: one guest architecture, its engines, and the state arena they share.
 *
 * emu/ is the only layer that talks to Unicorn and Capstone. Above it, the kernel model sees
 * address spaces (aspace.h), register contexts that run until an exit (cpu.h), the ELF
 * loader (loader.h) and disassembly for reports (disasm.h). */
#ifndef RSEQEMU_EMU_EMU_H
#define RSEQEMU_EMU_EMU_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/arch.h"

struct emu;
struct arena;

enum emu_fast_stores {
    EMU_FAST_STORES_AUTO, /* on if the self-test passes */
    EMU_FAST_STORES_OFF,
};

struct emu_config {
    const struct arch_desc *arch;
    enum emu_fast_stores fast_stores;
    /* Cross-check the block-based instruction counts against a per-instruction hook.
     * Slow; for tests of the counter itself. */
    bool verify_icount;
    /* A memory-write hook on every engine attributes guest stores to watched words to their
     * instructions (aspace_store_watch_*). Every guest load and store then takes the engine's
     * slow path, and the store interposition is off: for diagnosis only. */
    bool store_watch;
    /* --max-mem: the guest's memory use past which emu_mem_over() is true, in bytes (0: no
     * cap). Pages count from the guest's first touch until it unmaps them (windows.h). */
    uint64_t max_mem;
};

/* NULL with a message in *err when the engine cannot be set up. */
struct emu *emu_create(const struct emu_config *cfg, struct arena *arena, const char **err);
void emu_destroy(struct emu *emu);

const struct arch_desc *emu_arch(const struct emu *emu);
struct arena *emu_arena(const struct emu *emu);
/* True when guest stores to non-executable pages take the engine's inline path. */
bool emu_fast_stores_active(const struct emu *emu);
/* The guest's memory use in bytes, and whether it is past emu_config.max_mem: then the engine
 * stops at the end of the block that went past (a budget exit), for the kernel model to act. */
uint64_t emu_mem_used(const struct emu *emu);
bool emu_mem_over(const struct emu *emu);
uint64_t emu_mem_cap(const struct emu *emu);
/* For the test of rseqemu's failure report: makes the engine library fail one of its own
 * assertions (too many regions in one engine), which ends the process. */
void emu_engine_assert_test(void);
/* Total instructions decoded to size translation blocks (x86-64 only), for --stats. */
uint64_t emu_icount_decodes(const struct emu *emu);

/* One snapshot of the whole machine: guest memory, mappings, engines' CPU state and the state
 * arena. Taking one replaces the last; a restore puts the machine back as it was when it was
 * taken and keeps the snapshot for the next restore. Memory is saved lazily, page by page, on
 * its first write after the snapshot or a restore. */
void emu_snapshot_take(struct emu *emu);
void emu_snapshot_restore(struct emu *emu);
void emu_snapshot_drop(struct emu *emu);
bool emu_snapshot_active(const struct emu *emu);

struct emu_snapshot_stats {
    uint64_t restores;
    uint64_t pages_saved;    /* page copies made, in all */
    uint64_t pages_restored; /* pages copied back, in all */
    uint64_t last_pages;     /* pages copied back by the last restore */
    uint64_t regions_changed;
    uint64_t arena_bytes; /* the arena's live bytes that a restore copies */
    uint64_t pages_kept;  /* page copies the snapshot holds now */
};
void emu_snapshot_stats(const struct emu *emu, struct emu_snapshot_stats *out);

#endif
