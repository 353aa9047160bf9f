/* A guest address space: the mappings of one Linux mm and the engine that executes in it.
 *
 * Mappings are backed by host memory that the engine uses directly (no copies), and the kernel
 * model reads and writes guest memory through the same host pages. Every user access checks the
 * guest protection, the way copy_from_user/copy_to_user would. */
#ifndef RSEQEMU_EMU_ASPACE_H
#define RSEQEMU_EMU_ASPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/arch.h"

struct emu;
struct aspace;

/* Linux's default vm.max_map_count: mapping past it gets ENOMEM, as does a split there. */
#define ASPACE_MAX_MAP_COUNT 65530

enum aspace_map_flags {
    ASPACE_MAP_SHARED = 1 << 0, /* shared with fork children instead of copied */
    ASPACE_MAP_STACK = 1 << 1,  /* the initial process stack, for reports */
    ASPACE_MAP_HEAP = 1 << 2,   /* the brk area, for reports */
    /* The program's own file (its ELF segments up to their file size): merges only with the
     * file's next pages, backing_off being the offset in the file, as a file mapping does. */
    ASPACE_MAP_FILE = 1 << 3,
};

struct vma_info {
    guest_addr_t start, end;
    int prot;            /* LX_PROT_* */
    int flags;           /* enum aspace_map_flags */
    uint64_t backing_id; /* identifies the memory object, for shared futex keys */
    uint64_t backing_off;
};

/* NULL with a message in *err when the address space table or the engine is exhausted. */
struct aspace *aspace_create(struct emu *emu, const char **err);
void aspace_destroy(struct aspace *as);
struct emu *aspace_emu(const struct aspace *as);
/* A small number naming this address space in traces; stable for a given run. */
int aspace_id(const struct aspace *as);

/* Page-aligned ranges only. aspace_map replaces whatever overlaps the range, like MAP_FIXED,
 * and the new memory reads as zero. All return 0 or a negative LX errno. */
int aspace_map(struct aspace *as, guest_addr_t addr, uint64_t len, int prot, int flags);
/* The same for ASPACE_MAP_FILE: the pages from file offset off of the object named id. */
int aspace_map_file(struct aspace *as, guest_addr_t addr, uint64_t len, int prot, uint64_t id,
                    uint64_t off);
int aspace_unmap(struct aspace *as, guest_addr_t addr, uint64_t len);
/* -LX_ENOMEM if any page of the range is unmapped (mprotect's rule). */
int aspace_protect(struct aspace *as, guest_addr_t addr, uint64_t len, int prot);
/* MADV_DONTNEED on private memory: later reads see zeros. Unmapped pages: -LX_ENOMEM. */
int aspace_discard(struct aspace *as, guest_addr_t addr, uint64_t len);
/* Moves a mapping's pages to a new place (mremap); the old range becomes unmapped. */
int aspace_move(struct aspace *as, guest_addr_t old_addr, uint64_t old_len, guest_addr_t new_addr,
                uint64_t new_len);

bool aspace_range_free(const struct aspace *as, guest_addr_t addr, uint64_t len);
bool aspace_range_mapped(const struct aspace *as, guest_addr_t addr, uint64_t len);
/* Highest page-aligned start of a free range of len bytes with end <= top and start >= bottom;
 * 0 if there is none. */
guest_addr_t aspace_find_free_topdown(const struct aspace *as, uint64_t len, guest_addr_t bottom,
                                      guest_addr_t top);
/* The mapping containing addr, or false. */
bool aspace_lookup(const struct aspace *as, guest_addr_t addr, struct vma_info *out);
size_t aspace_vma_count(const struct aspace *as);
/* The first mapping that ends above addr, in address order, or false. */
bool aspace_vma_next(const struct aspace *as, guest_addr_t addr, struct vma_info *out);

/* User accesses: 0 or -LX_EFAULT, checking LX_PROT_READ / LX_PROT_WRITE page by page. */
int aspace_read(const struct aspace *as, guest_addr_t addr, void *dst, size_t len);
int aspace_write(struct aspace *as, guest_addr_t addr, const void *src, size_t len);
/* A NUL-terminated string of at most cap-1 bytes: its length, -LX_EFAULT, or
 * -LX_ENAMETOOLONG when no NUL came within cap bytes. */
long aspace_read_str(const struct aspace *as, guest_addr_t addr, char *dst, size_t cap);
/* Writes whatever the protection; for the loader and the kernel's own pages. */
int aspace_poke(struct aspace *as, guest_addr_t addr, const void *src, size_t len);
/* Contiguous host view of [addr, addr+len) if every page is mapped with at least prot;
 * NULL otherwise. Valid until the next change of the mappings. */
void *aspace_host(const struct aspace *as, guest_addr_t addr, size_t len, int prot);

/* Guest memory callbacks for code that must not see the address space (signal frames). */
struct guest_mem aspace_guest_mem(struct aspace *as);

/* fork: private mappings are copied, shared ones shared. dst must be empty. */
int aspace_copy_from(struct aspace *dst, const struct aspace *src);

/* Instructions that would read the host's clock are replaced, at load, by undefined ones that
 * the engine emulates with virtual time; an address space remembers where they are. */
enum time_insn {
    TIME_INSN_RDTSC,  /* x86: edx:eax <- TSC */
    TIME_INSN_RDTSCP, /* x86: edx:eax <- TSC, ecx <- TSC_AUX */
    TIME_INSN_CNTVCT, /* aarch64: mrs Xt, cntvct_el0 / cntpct_el0 */
};
#define ASPACE_TIME_SITES_MAX 256
struct time_site {
    guest_addr_t addr;
    uint8_t kind; /* enum time_insn */
    uint8_t reg;  /* aarch64 destination register */
    uint8_t len;  /* bytes of the original instruction */
};
/* -LX_ENOMEM when the table is full. */
int aspace_add_time_site(struct aspace *as, const struct time_site *site);
bool aspace_time_site(const struct aspace *as, guest_addr_t addr, struct time_site *out);

/* Code whose execution the engine reports (emu_run_params.watch_*): critical sections and
 * single instructions named by a schedule. A range is run when a translation block containing
 * its first instruction runs. Cheap where nothing is watched. */
enum aspace_watch_kind {
    ASPACE_WATCH_CS = 1,    /* a critical section: its entries count towards watch_countdown */
    ASPACE_WATCH_POINT = 2, /* an instruction: every time it is about to run, the run stops */
};
/* [start, end), at most 64 KiB. 0 when added, 1 when already watched for kind, -LX_EINVAL,
 * or -LX_ENOMEM when the table is full. */
int aspace_watch_add(struct aspace *as, guest_addr_t start, guest_addr_t end, int kind);
size_t aspace_watch_count(const struct aspace *as);
void aspace_watch_at(const struct aspace *as, size_t index, guest_addr_t *start, guest_addr_t *end,
                     int *kinds);
/* The first range of kind whose first instruction is in [start, end): its bounds, and a word
 * the caller may keep a note in (0 until then; it lives with the address space). NULL if
 * there is none. */
uint32_t *aspace_watch_find(struct aspace *as, guest_addr_t start, guest_addr_t end, int kind,
                            guest_addr_t *range_start, guest_addr_t *range_end);

/* Guest stores attributed to instructions (emu_config.store_watch; without it nothing is ever
 * noted). A range is at most 32 bytes at a 4-byte boundary and is watched word by word; the
 * model's own writes (aspace_write) are not guest stores and leave no mark. 0, -LX_EINVAL, or
 * -LX_ENOMEM when 64 ranges are watched already; adding a watched start again resets it. */
int aspace_store_watch_add(struct aspace *as, guest_addr_t start, uint32_t len);
void aspace_store_watch_remove(struct aspace *as, guest_addr_t start);
/* Whether the guest stored to the watched word at addr since it was last taken, and the address
 * of the last instruction that did; the word is then clean again. */
bool aspace_store_watch_take(struct aspace *as, guest_addr_t addr, guest_addr_t *pc);

#endif
