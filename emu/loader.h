/* Static ELF programs: validation, loading into an address space, and the initial stack Linux
 * builds for them (fs/binfmt_elf.c, fs/exec.c), plus the symbols and sections reports need. */
#ifndef RSEQEMU_EMU_LOADER_H
#define RSEQEMU_EMU_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/arch.h"

struct aspace;
struct elf_image;

enum elf_open_error {
    ELF_OPEN_OK,
    ELF_OPEN_CANNOT_READ, /* the file cannot be opened or read */
    ELF_OPEN_MALFORMED,   /* not ELF, truncated or inconsistent */
    ELF_OPEN_UNSUPPORTED, /* a valid ELF this emulator does not run */
};

/* Opens a guest program. NULL with one line in err naming the problem (not ELF, truncated,
 * inconsistent headers, an unsupported machine or class, a dynamically linked program) and its
 * kind in *kind. */
struct elf_image *elf_image_open(const char *path, enum elf_open_error *kind, char *err,
                                 size_t errlen);
/* The same, from bytes already in memory (tests); the bytes are copied. */
struct elf_image *elf_image_open_mem(const void *data, size_t size, const char *name,
                                     enum elf_open_error *kind, char *err, size_t errlen);
void elf_image_close(struct elf_image *img);

const struct arch_desc *elf_image_arch(const struct elf_image *img);
const char *elf_image_name(const struct elf_image *img);
/* The absolute path of the file (what /proc/self/exe resolves to); the name if unknown. */
const char *elf_image_path(const struct elf_image *img);
/* A 64-bit hash of the file's bytes, to recognise the same program again. */
uint64_t elf_image_hash(const struct elf_image *img);
bool elf_image_is_pie(const struct elf_image *img);

/* The load bias applies to everything below: addresses are where the program runs. */
struct elf_section {
    const char *name;
    guest_addr_t addr;
    uint64_t size;
    const uint8_t *data; /* file contents, NULL for NOBITS */
    bool exec;           /* SHF_EXECINSTR: code */
};
bool elf_image_section(const struct elf_image *img, const char *name, struct elf_section *out);
/* The section the program loads (SHF_ALLOC) that holds addr; false when none does. */
bool elf_image_section_at(const struct elf_image *img, guest_addr_t addr, struct elf_section *out);
/* "func+0x1c" for an address inside a known symbol; false otherwise. */
bool elf_image_symbolize(const struct elf_image *img, guest_addr_t addr, char *buf, size_t len);
/* "table+0x20" for an address inside a data object of known size (STT_OBJECT); false
 * otherwise, and for the zero-sized labels that merely share its address. */
/* "func+0x1c", else "section+0x1c" (code outside any function, such as librseq's abort
 * handlers in __rseq_failure); false when the address is in neither. */
bool elf_image_where(const struct elf_image *img, guest_addr_t addr, char *buf, size_t len);
bool elf_image_object(const struct elf_image *img, guest_addr_t addr, char *buf, size_t len);
/* Address of a symbol by name; 0 if absent. */
guest_addr_t elf_image_symbol(const struct elf_image *img, const char *name);

struct exec_args {
    const char *const *argv;
    const char *const *envp;
    const char *execfn; /* AT_EXECFN string: the path as given to execve */
    uint8_t random[16]; /* AT_RANDOM bytes */
    uint32_t uid, gid;
    uint64_t stack_size; /* RLIMIT_STACK: the size of the stack mapping */
    /* 0: no AT_RSEQ_* entries (Linux 6.1) */
    uint32_t rseq_feature_size, rseq_align;
};

struct exec_layout {
    guest_addr_t entry;
    guest_addr_t sp;
    guest_addr_t brk; /* initial program break, page aligned */
    guest_addr_t load_bias;
    guest_addr_t phdr;
    guest_addr_t stack_low; /* lowest address of the stack mapping */
    guest_addr_t auxv;      /* where the auxiliary vector starts */
};

/* Maps the segments and the stack into an empty address space and builds argv/envp/auxv.
 * 0, or -1 with err set (a guest with an absurd argv, or a mapping failure). */
int elf_image_load(const struct elf_image *img, struct aspace *as, const struct exec_args *args,
                   struct exec_layout *out, char *err, size_t errlen);

#endif
