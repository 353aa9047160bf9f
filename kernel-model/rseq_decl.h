/* The critical sections a program declares in its file, read without running it, and what the
 * kernel would make of each descriptor (spec 1.1, 2.3, 2.6, 7.1). Programs declare them as the
 * kernel selftests, librseq and guest/include do: struct rseq_cs descriptors in __rseq_cs, and
 * pointers to them in __rseq_cs_ptr_array. */
#ifndef RSEQEMU_KERNEL_MODEL_RSEQ_DECL_H
#define RSEQEMU_KERNEL_MODEL_RSEQ_DECL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/arch.h"

struct elf_image;

#define RSEQ_CS_SIZE 32 /* struct rseq_cs, which is also its documented alignment */

/* One struct rseq_cs as the file holds it. */
struct rseq_cs_decl {
    guest_addr_t addr;
    bool in_file; /* a loaded section of the file holds its 32 bytes; else the rest is 0 */
    uint32_t version, flags;
    uint64_t start_ip, post_commit_offset, abort_ip;
};

struct rseq_decls {
    const char *section; /* where they are listed; NULL when the program declares none */
    size_t count;        /* entries the section lists */
    /* The count entries; NULL for a static-PIE program, whose pointers it relocates when it
     * starts: its file holds no addresses to read. */
    struct rseq_cs_decl *cs;
    bool relocated;
    bool no_data;      /* the section's bytes are not in the file: nothing could be read */
    uint64_t trailing; /* bytes after the section's last whole entry */
};

/* Reads them. 0, or -1 when out of memory. */
int rseq_decls_read(const struct elf_image *img, struct rseq_decls *out);
void rseq_decls_free(struct rseq_decls *d);

/* The code and data around the descriptors, as the checks see them: the file, or a test's
 * fake. */
struct rseq_code_view {
    void *ctx;
    bool (*executable)(void *ctx, guest_addr_t addr);
    /* false when no loaded section of the file holds the 4 bytes */
    bool (*read_u32)(void *ctx, guest_addr_t addr, uint32_t *out);
};

/* A program's file as a code view. */
struct rseq_code_view rseq_code_view_of(const struct elf_image *img);

enum rseq_cs_problem {
    RSEQ_CS_NOT_IN_FILE,
    RSEQ_CS_MISALIGNED,
    RSEQ_CS_DUPLICATE,
    RSEQ_CS_VERSION,
    RSEQ_CS_FLAGS_DEPRECATED,
    RSEQ_CS_FLAGS_UNKNOWN,
    RSEQ_CS_WRAPS,
    RSEQ_CS_NOT_CODE,
    RSEQ_CS_ABORT_INSIDE,
    RSEQ_CS_SIGNATURE,
};

struct rseq_cs_warning {
    enum rseq_cs_problem problem;
    char text[200]; /* the problem, with the addresses and values found */
};

/* More than one descriptor's checks can ever find. */
#define RSEQ_CS_WARNINGS_MAX 16

/* The warnings for decls[i], sig being the architecture's RSEQ_SIG; decls[0..i) are the ones
 * listed before it, which a duplicate names. How many were stored in out, which holds
 * RSEQ_CS_WARNINGS_MAX. A pure function of its arguments and what the view answers. */
size_t rseq_cs_check(const struct rseq_cs_decl *decls, size_t i, uint32_t sig,
                     const struct rseq_code_view *code, struct rseq_cs_warning *out);

#endif
