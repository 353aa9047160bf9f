/* A per-CPU LIFO list (the RFC's use case 3), shared by examples/opv_lifo.c and opv_steal.c:
 * push and pop as rseq critical sections on the list of the CPU the thread runs on, and a pop
 * through cpu_opv that works on any CPU's list from anywhere. */
#ifndef RSEQEMU_EXAMPLES_PERCPU_LIST_H
#define RSEQEMU_EXAMPLES_PERCPU_LIST_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "opv_common.h"

struct node {
    struct node *next;
    long id;
};

/* One cache line per CPU, as real per-CPU data would be laid out. */
struct percpu_list {
    struct node *head;
    char pad[64 - sizeof(struct node *)];
};

/* Pushes node on the list of the CPU the thread runs on; returns that CPU. The section compares
 * the head with the one node->next was set to and stores node: an abort (a preemption, a
 * migration) leaves the list as it was, and the push starts over, on the CPU it is on then. */
static inline int list_push(struct rseq_area *area, struct percpu_list *lists, struct node *node)
{
    for (;;) {
        int cpu = rseq_cpu(area);
        struct node *head = RSEQ_GUEST_READ(lists[cpu].head);
        node->next = head;
        if (rseq_guest_cmpeqv_storev(area, (intptr_t *)&lists[cpu].head, (intptr_t)head,
                                     (intptr_t)node, cpu) == 0)
            return cpu;
    }
}

/* One try at popping from lists[cpu], which must be the list of the CPU the thread runs on:
 * the section loads the head, returns if it is NULL, and stores head->next as the new head. 0
 * with *out set (NULL: the list was empty), 1 when the section aborted. */
static inline int list_pop_rseq(struct rseq_area *area, struct percpu_list *lists, int cpu,
                                struct node **out)
{
    intptr_t head;
    switch (rseq_guest_cmpnev_storeoffp_load(area, (intptr_t *)&lists[cpu].head, 0,
                                             offsetof(struct node, next), &head, cpu)) {
    case 0:
        *out = (struct node *)head;
        return 0;
    case 2:
        *out = NULL;
        return 0;
    default:
        return 1;
    }
}

/* Pops from lists[cpu] with cpu_opv, from any CPU. The kernel pins every page a vector touches
 * before it runs it, so it cannot follow head->next by itself: user space reads the head and
 * passes the address of its next field, and the vector checks that the head is still that node
 * (on CPU cpu, where nothing else runs meanwhile) before copying its next field into the head.
 * By then the node may have been popped by another thread and its memory freed: pinning its next
 * field would fault, and expect_fault_src turns that into EAGAIN, "try again", not EFAULT, a bug.
 * Returns the node, or NULL when the list is empty. */
static inline struct node *list_pop_opv(struct percpu_list *lists, int cpu)
{
    for (;;) {
        struct node *head = RSEQ_GUEST_READ(lists[cpu].head);
        if (!head)
            return NULL;
        /* Only the address of head->next: head may already be gone. */
        uintptr_t next = (uintptr_t)head + offsetof(struct node, next);
        struct cpu_op ops[2] = {
            cpu_op_compare(CPU_COMPARE_EQ_OP, &lists[cpu].head, &head, sizeof(head)),
            cpu_op_memcpy(CPU_MEMCPY_OP, &lists[cpu].head, (const void *)next, sizeof(head)),
        };
        ops[1].u.memcpy_op.expect_fault_src = 1;
        int ret = cpu_opv(ops, 2, cpu, 0);
        if (ret == 0)
            return head;
        /* 1: the head changed since it was read; -EAGAIN: the node it was is gone. */
        if (ret != 1 && ret != -EAGAIN)
            FAIL("cpu_opv pop on CPU %d: %d\n", cpu, ret);
    }
}

#endif
