/* rseq for guest programs: the ABI structures, registration, and critical sections written
 * the way the kernel's selftests and librseq write them (a descriptor in __rseq_cs, a
 * pointer to it in __rseq_cs_ptr_array, the abort handler after a signature word), so that
 * rseqemu finds them as it finds theirs.
 *
 * RSEQ_GUEST_DESCRIPTOR(l, s, p, a) is asm that defines descriptor l for [s, p) aborting to a.
 * The per-architecture part (rseq_guest_x86_64.h, rseq_guest_aarch64.h) gives
 *   RSEQ_GUEST_SIG                 the signature glibc 2.36 and the selftests register,
 *   RSEQ_GUEST_SIG_ASM             the signature as it stands in the code before abort_ip,
 * and the critical sections rseq_guest_addv(), rseq_guest_cmpeqv_storev(),
 * rseq_guest_cmpnev_storeoffp_load() and rseq_guest_cmpeqv_trymemcpy_storev(). */
#ifndef RSEQEMU_GUEST_RSEQ_H
#define RSEQEMU_GUEST_RSEQ_H

#include <stddef.h>
#include <stdint.h>

#include "guest_syscall.h"

/* struct rseq as glibc 2.36 registers it (32 bytes); node_id and mm_cid exist since 6.3. */
struct rseq_area {
    uint32_t cpu_id_start;
    uint32_t cpu_id;
    uint64_t rseq_cs;
    uint32_t flags;
    uint32_t node_id;
    uint32_t mm_cid;
    uint32_t padding;
} __attribute__((aligned(32)));

/* struct rseq_cs. */
struct rseq_desc {
    uint32_t version;
    uint32_t flags;
    uint64_t start_ip;
    uint64_t post_commit_offset;
    uint64_t abort_ip;
} __attribute__((aligned(32)));

#define RSEQ_GUEST_FLAG_UNREGISTER   1
#define RSEQ_GUEST_CPU_UNINITIALIZED ((uint32_t)-1)
#define RSEQ_GUEST_CPU_REG_FAILED    ((uint32_t)-2)

static inline long rseq_guest_syscall(void *area, uint32_t len, int flags, uint32_t sig)
{
    return gsyscall4(GSYS_rseq, area, len, flags, sig);
}

/* A field the kernel writes, read once (the compiler must not cache it). */
#define RSEQ_GUEST_READ(field) (*(volatile __typeof__(field) *)&(field))

/* asm that defines descriptor `label` for [start, post) aborting to abort, and lists it in
 * __rseq_cs_ptr_array: the same directives on both assemblers. */
#define RSEQ_GUEST_STR_(x) #x
#define RSEQ_GUEST_STR(x)  RSEQ_GUEST_STR_(x)

// clang-format off
#define RSEQ_GUEST_DESCRIPTOR(label, start, post, abort)                                           \
    ".pushsection __rseq_cs, \"aw\"\n\t"                                                           \
    ".balign 32\n\t"                                                                               \
    RSEQ_GUEST_STR(label) ":\n\t"                                                                  \
    ".long 0, 0\n\t"                                                                               \
    ".quad " RSEQ_GUEST_STR(start) ", " RSEQ_GUEST_STR(post) " - " RSEQ_GUEST_STR(start) ", "     \
        RSEQ_GUEST_STR(abort) "\n\t"                                                               \
    ".popsection\n\t"                                                                              \
    ".pushsection __rseq_cs_ptr_array, \"aw\"\n\t"                                                 \
    ".quad " RSEQ_GUEST_STR(label) "b\n\t"                                                         \
    ".popsection\n\t"
// clang-format on

#if defined(__x86_64__)
#include "rseq_guest_x86_64.h"
#elif defined(__aarch64__)
#include "rseq_guest_aarch64.h"
#endif

static inline long rseq_guest_register(struct rseq_area *area)
{
    return rseq_guest_syscall(area, sizeof(*area), 0, RSEQ_GUEST_SIG);
}

static inline long rseq_guest_unregister(struct rseq_area *area)
{
    return rseq_guest_syscall(area, sizeof(*area), RSEQ_GUEST_FLAG_UNREGISTER, RSEQ_GUEST_SIG);
}

#if defined(__GLIBC__)
#include <stddef.h>
/* glibc 2.35 and later register an area for every thread at start-up (unless the tunable
 * glibc.pthread.rseq=0 says not to); these give its place. */
extern const ptrdiff_t __rseq_offset;
extern const unsigned int __rseq_size;

/* The calling thread's glibc area, or NULL when glibc did not register one. */
static inline struct rseq_area *rseq_guest_glibc_area(void)
{
    if (!__rseq_size)
        return NULL;
    return (struct rseq_area *)((char *)__builtin_thread_pointer() + __rseq_offset);
}
#endif

#endif
