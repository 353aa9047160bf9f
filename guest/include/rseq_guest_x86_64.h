/* rseq critical sections for x86-64 guests (included by rseq_guest.h). */
#ifndef RSEQEMU_GUEST_RSEQ_X86_64_H
#define RSEQEMU_GUEST_RSEQ_X86_64_H

#define RSEQ_GUEST_SIG 0x53053053

/* ud1 0x53053053(%rip), %edi: the signature is the displacement of an instruction that traps,
 * so a stray jump to it cannot run on. */
#define RSEQ_GUEST_SIG_ASM ".byte 0x0f, 0xb9, 0x3d\n\t.long 0x53053053\n\t"

/* *v += count on CPU cpu: 0 when done, 1 when the section aborted or runs elsewhere. */
static inline int rseq_guest_addv(struct rseq_area *area, intptr_t *v, intptr_t count, int cpu)
{
    __asm__ __volatile__ goto(
        RSEQ_GUEST_DESCRIPTOR(
            3, 1f, 2f, 4f) "leaq 3b(%%rip), %%rax\n\t"
                           "movq %%rax, 8(%[area])\n\t"
                           "1:\n\t"
                           "cmpl %[cpu], 4(%[area])\n\t"
                           "jnz 4f\n\t"
                           "addq %[count], %[v]\n\t"
                           "2:\n\t"
                           ".pushsection __rseq_failure, \"ax\"\n\t" RSEQ_GUEST_SIG_ASM "4:\n\t"
                           "jmp %l[aborted]\n\t"
                           ".popsection\n\t"
        :
        : [area] "r"(area), [cpu] "r"(cpu), [v] "m"(*v), [count] "r"(count)
        : "memory", "cc", "rax"
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
        RSEQ_GUEST_DESCRIPTOR(
            3, 1f, 2f, 4f) "leaq 3b(%%rip), %%rax\n\t"
                           "movq %%rax, 8(%[area])\n\t"
                           "1:\n\t"
                           "cmpl %[cpu], 4(%[area])\n\t"
                           "jnz 4f\n\t"
                           "cmpq %[v], %[expect]\n\t"
                           "jnz %l[differs]\n\t"
                           "movq %[newv], %[v]\n\t"
                           "2:\n\t"
                           ".pushsection __rseq_failure, \"ax\"\n\t" RSEQ_GUEST_SIG_ASM "4:\n\t"
                           "jmp %l[aborted]\n\t"
                           ".popsection\n\t"
        :
        : [area] "r"(area), [cpu] "r"(cpu), [v] "m"(*v), [expect] "r"(expect), [newv] "r"(newv)
        : "memory", "cc", "rax"
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
    __asm__ __volatile__ goto(
        RSEQ_GUEST_DESCRIPTOR(
            3, 1f, 2f, 4f) "leaq 3b(%%rip), %%rax\n\t"
                           "movq %%rax, 8(%[area])\n\t"
                           "1:\n\t"
                           "cmpl %[cpu], 4(%[area])\n\t"
                           "jnz 4f\n\t"
                           "movq %[v], %%rax\n\t"
                           "cmpq %%rax, %[expectnot]\n\t"
                           "jz %l[equal]\n\t"
                           "movq %%rax, %[load]\n\t"
                           "movq (%%rax, %[voffp]), %%rax\n\t"
                           "movq %%rax, %[v]\n\t"
                           "2:\n\t"
                           ".pushsection __rseq_failure, \"ax\"\n\t" RSEQ_GUEST_SIG_ASM "4:\n\t"
                           "jmp %l[aborted]\n\t"
                           ".popsection\n\t"
        :
        : [area] "r"(area), [cpu] "r"(cpu), [v] "m"(*v), [expectnot] "r"(expectnot),
          [voffp] "r"(voffp), [load] "m"(*load)
        : "memory", "cc", "rax"
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
    __asm__ __volatile__ goto(
        RSEQ_GUEST_DESCRIPTOR(
            3, 1f, 2f, 4f) "leaq 3b(%%rip), %%rax\n\t"
                           "movq %%rax, 8(%[area])\n\t"
                           "1:\n\t"
                           "cmpl %[cpu], 4(%[area])\n\t"
                           "jnz 4f\n\t"
                           "cmpq %[v], %[expect]\n\t"
                           "jnz %l[differs]\n\t"
                           "movq %[dst], %%r8\n\t"
                           "movq %[src], %%r9\n\t"
                           "movq %[len], %%r10\n\t"
                           "testq %%r10, %%r10\n\t"
                           "jz 6f\n\t"
                           "5:\n\t"
                           "movq (%%r9), %%rax\n\t"
                           "movq %%rax, (%%r8)\n\t"
                           "addq $8, %%r8\n\t"
                           "addq $8, %%r9\n\t"
                           "subq $8, %%r10\n\t"
                           "jnz 5b\n\t"
                           "6:\n\t"
                           "movq %[newv], %[v]\n\t"
                           "2:\n\t"
                           ".pushsection __rseq_failure, \"ax\"\n\t" RSEQ_GUEST_SIG_ASM "4:\n\t"
                           "jmp %l[aborted]\n\t"
                           ".popsection\n\t"
        :
        : [area] "r"(area), [cpu] "r"(cpu), [v] "m"(*v), [expect] "r"(expect), [dst] "r"(dst),
          [src] "r"(src), [len] "r"(len), [newv] "r"(newv)
        : "memory", "cc", "rax", "r8", "r9", "r10"
        : aborted, differs);
    return 0;
aborted:
    return 1;
differs:
    return 2;
}

#endif
