/* Inside emu/: the machine object shared by its files. */
#ifndef RSEQEMU_EMU_EMU_INTERNAL_H
#define RSEQEMU_EMU_EMU_INTERNAL_H

#include <capstone/capstone.h>
#include <stdbool.h>
#include <stdint.h>

#include "emu.h"

struct aspace_table;
struct emu_snap;

#define EMU_ASPACE_MAX 64

struct emu {
    const struct arch_desc *arch;
    struct arena *arena;
    bool fast_stores;
    bool verify_icount;
    bool store_watch;
    csh cs; /* decodes translation blocks for their instruction counts (x86-64) */
    uint64_t icount_decodes;
    struct aspace_table *aspace_table; /* in the arena */
    struct aspace *aspaces[EMU_ASPACE_MAX];
    struct emu_snap *snap; /* snapshot.c; NULL until the first snapshot */
    /* shm.c: the shared memory file, its canonical view and how much of it is handed out. */
    int shm_fd;
    uint8_t *shm_view;
    uint64_t shm_size;
    /* Guest memory in use and its cap, in pages (windows_charge()); the cap 0: none. */
    uint64_t mem_pages, mem_cap_pages, mem_pages_snap;
};

/* aspace.c: the arena's table of address-space slots, made with the machine. */
void aspace_table_init(struct emu *emu);

/* snapshot.c: what the memory and mapping code tells the snapshot. All are cheap no-ops while
 * no snapshot is taken. */
struct aspace;
/* [start, start+len) of as holds memory mapped since the snapshot: a restore gives it back
 * (private zeros again, where it was shared). exec: code may have been made there, and its
 * translations go too. */
void snap_young_range(struct aspace *as, guest_addr_t start, uint64_t len, bool shared, bool exec);
/* Whether the shared memory at offset off of the file was made since the snapshot: a restore
 * gives it back whole. */
bool snap_shm_young(const struct emu *emu, uint64_t off);
/* The page at host (page-aligned), mapped at vaddr of address space as_id with prot, is about to
 * be written by the guest or the kernel model: its content at the snapshot is kept. Never
 * called for memory made since the snapshot. */
void snap_page_write(struct emu *emu, uint8_t *host, int prot, int as_id, guest_addr_t vaddr);
/* The address space is going away: false when the snapshot keeps it (it may come back at a
 * restore), true when the caller must free it now. */
bool snap_aspace_release(struct emu *emu, struct aspace *as);
/* A new address space was made since the snapshot: a restore frees it. */
void snap_aspace_created(struct emu *emu, struct aspace *as);
void snap_destroy(struct emu *emu);

/* engine_pages.c: whether the engine takes page permissions from the model (windows.h) and
 * lets stores to data pages skip its code check; why says what fails. */
bool fast_stores_selftest(const struct arch_desc *arch, const char **why);
/* Whether the engine takes page protections from the model (windows.h); why says what fails. */
bool page_perms_selftest(const struct arch_desc *arch, const char **why);

/* fault_pc.c */
void fault_pc_note_start(void);
/* After a memory fault: moves the engine's IP to the faulting instruction. */
bool fault_pc_restore(const struct arch_desc *arch, void *cpu);
/* Whether the x86 translator's far-branch guard found the library's functions it wraps
 * (x86_far_branch.c); the backend refuses to run x86 code without it. */
bool x86_far_branch_wired(void);
/* The same for the aarch64 translator's guard against unallocated FP16 encodings
 * (a64_fp16_guard.c); and whether it makes insn `udf #0`. */
bool a64_fp16_guard_wired(void);
bool a64_insn_unallocated_fp16(uint32_t insn);

#endif
