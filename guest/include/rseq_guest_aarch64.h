/* rseq critical sections for aarch64 guests (included by rseq_guest.h). */
#ifndef RSEQEMU_GUEST_RSEQ_AARCH64_H
#define RSEQEMU_GUEST_RSEQ_AARCH64_H

#define RSEQ_GUEST_SIG 0xd428bc00

/* brk #0x45e0: the signature is an instruction that traps, so a stray jump cannot run on. */
#define RSEQ_GUEST_SIG_ASM ".inst 0xd428bc00\n\t"

/* Arms descriptor `label` (a local label defined behind) in the area at %[area]. */
#define RSEQ_GUEST_ARM(label)                                                                      \
    "adrp x17, " RSEQ_GUEST_STR(label) "\n\t"                                                      \
                                       "add x17, x17, :lo12:" RSEQ_GUEST_STR(                      \
                                           label) "\n\t"                                           \
                                                  "str x17, [%[area], #8]\n\t"

/* *v += count on CPU cpu: 0 when done, 1 when the section aborted or runs elsewhere. */
static inline int rseq_guest_addv(struct rseq_area *area, intptr_t *v, intptr_t count, int cpu)
{
    __asm__ __volatile__ goto(RSEQ_GUEST_DESCRIPTOR(3, 1f, 2f, 4f)
                                  RSEQ_GUEST_ARM(3b) "1:\n\t"
                                                     "ldr w16, [%[area], #4]\n\t"
                                                     "cmp w16, %w[cpu]\n\t"
                                                     "bne 4f\n\t"
                                                     "ldr x16, %[v]\n\t"
                                                     "add x16, x16, %[count]\n\t"
                                                     "str x16, %[v]\n\t"
                                                     "2:\n\t"
                                                     "b 5f\n\t" RSEQ_GUEST_SIG_ASM "4:\n\t"
                                                     "b %l[aborted]\n\t"
                                                     "5:\n\t"
                              :
                              : [area] "r"(area), [cpu] "r"(cpu), [v] "Q"(*v), [count] "r"(count)
                              : "memory", "cc", "x16", "x17"
                              : aborted);
    return 0;
aborted:
    return 1;
}

/* if (*v == expect) *v = newv, on CPU cpu: 0 when stored, 1 when the section aborted or runs
 * elsewhere, 2 when *v != expect. */
static inline int rseq_guest_cmpeqv_storev(struct rseq_area *area, intptr_t *v, intptr_t expect,
                                           intptr_t newv, int cpu)
{
    __asm__ __volatile__ goto(
        RSEQ_GUEST_DESCRIPTOR(3, 1f, 2f, 4f) RSEQ_GUEST_ARM(3b) "1:\n\t"
                                                                "ldr w16, [%[area], #4]\n\t"
                                                                "cmp w16, %w[cpu]\n\t"
                                                                "bne 4f\n\t"
                                                                "ldr x16, %[v]\n\t"
                                                                "cmp x16, %[expect]\n\t"
                                                                "bne %l[differs]\n\t"
                                                                "str %[newv], %[v]\n\t"
                                                                "2:\n\t"
                                                                "b 5f\n\t" RSEQ_GUEST_SIG_ASM
                                                                "4:\n\t"
                                                                "b %l[aborted]\n\t"
                                                                "5:\n\t"
        :
        : [area] "r"(area), [cpu] "r"(cpu), [v] "Q"(*v), [expect] "r"(expect), [newv] "r"(newv)
        : "memory", "cc", "x16", "x17"
        : aborted, differs);
    return 0;
aborted:
    return 1;
differs:
    return 2;
}

/* if (*v != expectnot) { *load = *v; *v = *(intptr_t *)(*v + voffp); } on CPU cpu: a per-CPU
 * list's pop, which reads the head and its next pointer inside the section (the kernel
 * selftests' rseq_cmpnev_storeoffp_load). 0 when stored, 1 when the section aborted or runs
 * elsewhere, 2 when *v == expectnot. */
static inline int rseq_guest_cmpnev_storeoffp_load(struct rseq_area *area, intptr_t *v,
                                                   intptr_t expectnot, long voffp, intptr_t *load,
                                                   int cpu)
{
    __asm__ __volatile__ goto(RSEQ_GUEST_DESCRIPTOR(3, 1f, 2f, 4f)
                                  RSEQ_GUEST_ARM(3b) "1:\n\t"
                                                     "ldr w16, [%[area], #4]\n\t"
                                                     "cmp w16, %w[cpu]\n\t"
                                                     "bne 4f\n\t"
                                                     "ldr x16, %[v]\n\t"
                                                     "cmp x16, %[expectnot]\n\t"
                                                     "beq %l[equal]\n\t"
                                                     "str x16, %[load]\n\t"
                                                     "ldr x16, [x16, %[voffp]]\n\t"
                                                     "str x16, %[v]\n\t"
                                                     "2:\n\t"
                                                     "b 5f\n\t" RSEQ_GUEST_SIG_ASM "4:\n\t"
                                                     "b %l[aborted]\n\t"
                                                     "5:\n\t"
                              :
                              : [area] "r"(area), [cpu] "r"(cpu), [v] "Q"(*v),
                                [expectnot] "r"(expectnot), [voffp] "r"(voffp), [load] "Q"(*load)
                              : "memory", "cc", "x16", "x17"
                              : aborted, equal);
    return 0;
aborted:
    return 1;
equal:
    return 2;
}

/* if (*v == expect) { copy len bytes from src to dst; *v = newv; } on CPU cpu, len a multiple of
 * 8: a per-CPU buffer's push, whose copy may be cut short by an abort and redone, since only the
 * final store publishes it (the kernel selftests' rseq_cmpeqv_trymemcpy_storev, by words). 0 when
 * stored, 1 when the section aborted or runs elsewhere, 2 when *v != expect. */
static inline int rseq_guest_cmpeqv_trymemcpy_storev(struct rseq_area *area, intptr_t *v,
                                                     intptr_t expect, void *dst, const void *src,
                                                     size_t len, intptr_t newv, int cpu)
{
    __asm__ __volatile__ goto(RSEQ_GUEST_DESCRIPTOR(3, 1f, 2f, 4f)
                                  RSEQ_GUEST_ARM(3b) "1:\n\t"
                                                     "ldr w16, [%[area], #4]\n\t"
                                                     "cmp w16, %w[cpu]\n\t"
                                                     "bne 4f\n\t"
                                                     "ldr x16, %[v]\n\t"
                                                     "cmp x16, %[expect]\n\t"
                                                     "bne %l[differs]\n\t"
                                                     "mov x13, %[dst]\n\t"
                                                     "mov x14, %[src]\n\t"
                                                     "mov x15, %[len]\n\t"
                                                     "cbz x15, 6f\n\t"
                                                     "7:\n\t"
                                                     "ldr x16, [x14], #8\n\t"
                                                     "str x16, [x13], #8\n\t"
                                                     "subs x15, x15, #8\n\t"
                                                     "bne 7b\n\t"
                                                     "6:\n\t"
                                                     "str %[newv], %[v]\n\t"
                                                     "2:\n\t"
                                                     "b 5f\n\t" RSEQ_GUEST_SIG_ASM "4:\n\t"
                                                     "b %l[aborted]\n\t"
                                                     "5:\n\t"
                              :
                              : [area] "r"(area), [cpu] "r"(cpu), [v] "Q"(*v), [expect] "r"(expect),
                                [dst] "r"(dst), [src] "r"(src), [len] "r"(len), [newv] "r"(newv)
                              : "memory", "cc", "x13", "x14", "x15", "x16", "x17"
                              : aborted, differs);
    return 0;
aborted:
    return 1;
differs:
    return 2;
}

#endif
