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

#endif
