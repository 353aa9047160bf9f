/* cpu_opv(2), the per-CPU operation vector of the RFC "cpu_opv: Provide cpu_opv system call
 * (v9)" (spec 5), which Linux never merged. A vector of at most four compare, memcpy and add
 * operations on the caller's memory runs atomically with respect to everything on one CPU: as
 * an IPI on that vCPU, whose handler first calls rseq_preempt() for the thread it interrupted,
 * so that a critical section running there aborts on its return to user space.
 *
 * The other vCPUs are stopped between two instructions whenever the model runs a syscall (one
 * host thread runs them all), so the IPI lands on an instruction boundary of the target, and
 * the target's return-to-user path runs before it executes another instruction.
 *
 * Checks come in the RFC code's order with its errnos (spec 5.3); function names follow
 * kernel/cpu_opv.c where there is one to follow. */
#include "cpu_opv.h"

#include <string.h>

#include "arch/le.h"
#include "emu/aspace.h"
#include "event.h"
#include "rseq.h"
#include "syscall.h"
#include "task.h"

enum {
    CPU_OP_NR_FLAG = 1 << 0,
    CPU_OP_VEC_LEN_MAX_FLAG = 1 << 1,
    CPU_OP_VEC_LEN_MAX = 4,
    CPU_OP_DATA_LEN_MAX = 4096,
    CPU_OP_ARITHMETIC_DATA_LEN_MAX = 8,
    /* One copy of up to a page and three arithmetic operations: the most data one vector may
     * touch, which bounds the time the target CPU spends in the IPI. */
    CPU_OP_VEC_DATA_LEN_MAX =
        CPU_OP_DATA_LEN_MAX + (CPU_OP_VEC_LEN_MAX - 1) * CPU_OP_ARITHMETIC_DATA_LEN_MAX,
    CPU_OP_SIZE = 32, /* sizeof(struct cpu_op) in the user ABI, both arches (spec 5.2) */
    CPU_OP_PAGE_SHIFT = 12,
};

enum cpu_op_type {
    CPU_COMPARE_EQ_OP,
    CPU_COMPARE_NE_OP,
    CPU_MEMCPY_OP,
    CPU_MEMCPY_RELEASE_OP,
    CPU_ADD_OP,
    CPU_ADD_RELEASE_OP,
    NR_CPU_OPS,
};

/* struct cpu_op as read from the guest: ptr[0] is a, dst or p; ptr[1] is b or src, or the add's
 * count; expect_fault[i] goes with ptr[i]. */
struct cpu_op {
    int32_t op;
    uint32_t len;
    uint64_t ptr[2];
    uint8_t expect_fault[2];
};

static struct cpu_op cpu_op_decode(const uint8_t *p)
{
    return (struct cpu_op){.op = (int32_t)le_get32(p),
                           .len = le_get32(p + 4),
                           .ptr = {le_get64(p + 8), le_get64(p + 16)},
                           .expect_fault = {p[24], p[25]}};
}

/* An operation's effect: 0 to go on, > 0 to stop the vector (a comparison failed), < 0 an
 * error. Guest memory was checked by the pin phase and nothing runs between it and the
 * vector, so the accesses cannot fault; an error is still passed on, as the RFC does. */
typedef long (*op_exec_fn)(struct aspace *as, const struct cpu_op *op);

/* Whether [a, a + len) and [b, b + len) differ: 0 or 1, or -errno. */
static long do_cpu_op_compare(struct aspace *as, const struct cpu_op *op)
{
    uint8_t a[CPU_OP_DATA_LEN_MAX], b[CPU_OP_DATA_LEN_MAX];
    int err = aspace_read(as, op->ptr[0], a, op->len);
    if (!err)
        err = aspace_read(as, op->ptr[1], b, op->len);
    return err ? err : memcmp(a, b, op->len) != 0;
}

static long op_compare_eq(struct aspace *as, const struct cpu_op *op)
{
    return do_cpu_op_compare(as, op);
}

/* Equal bytes (len 0 included) stop the vector. */
static long op_compare_ne(struct aspace *as, const struct cpu_op *op)
{
    long differ = do_cpu_op_compare(as, op);
    return differ < 0 ? differ : !differ;
}

/* Read whole, then written: an aligned copy of 1, 2, 4 or 8 bytes is one access on hardware,
 * and nothing on the target CPU runs in between here either. The release variant's ordering
 * is implied on a sequentially consistent machine. */
static long op_memcpy(struct aspace *as, const struct cpu_op *op)
{
    uint8_t buf[CPU_OP_DATA_LEN_MAX];
    int err = aspace_read(as, op->ptr[1], buf, op->len);
    return err ? err : aspace_write(as, op->ptr[0], buf, op->len);
}

/* *p += count, in len bytes (1, 2, 4 or 8), wrapping; no alignment required. */
static long op_add(struct aspace *as, const struct cpu_op *op)
{
    uint8_t buf[CPU_OP_ARITHMETIC_DATA_LEN_MAX];
    int err = aspace_read(as, op->ptr[0], buf, op->len);
    if (err)
        return err;
    uint64_t v = 0;
    for (uint32_t i = op->len; i-- > 0;)
        v = v << 8 | buf[i];
    v += op->ptr[1];
    for (uint32_t i = 0; i < op->len; i++, v >>= 8)
        buf[i] = (uint8_t)v;
    return aspace_write(as, op->ptr[0], buf, op->len);
}

/* The lengths an operation accepts: up to a page of data, or one integer. */
enum op_len_rule { LEN_DATA, LEN_ARITHMETIC };

/* What each operation is: its length rule, its user pointers and the access the pin phase
 * asks for each (a destination is pinned for writing), and what it does. */
static const struct op_kind {
    enum op_len_rule len_rule;
    int nptrs;
    int prot[2];
    op_exec_fn exec;
} op_kinds[NR_CPU_OPS] = {
    [CPU_COMPARE_EQ_OP] = {LEN_DATA, 2, {LX_PROT_READ, LX_PROT_READ}, op_compare_eq},
    [CPU_COMPARE_NE_OP] = {LEN_DATA, 2, {LX_PROT_READ, LX_PROT_READ}, op_compare_ne},
    [CPU_MEMCPY_OP] = {LEN_DATA, 2, {LX_PROT_WRITE, LX_PROT_READ}, op_memcpy},
    [CPU_MEMCPY_RELEASE_OP] = {LEN_DATA, 2, {LX_PROT_WRITE, LX_PROT_READ}, op_memcpy},
    [CPU_ADD_OP] = {LEN_ARITHMETIC, 1, {LX_PROT_WRITE, 0}, op_add},
    [CPU_ADD_RELEASE_OP] = {LEN_ARITHMETIC, 1, {LX_PROT_WRITE, 0}, op_add},
};

static bool len_allowed(enum op_len_rule rule, uint32_t len)
{
    if (rule == LEN_DATA)
        return len <= CPU_OP_DATA_LEN_MAX;
    return len == 1 || len == 2 || len == 4 || len == 8;
}

/* A pointer fits in user space and its range spans at most two pages (spec 5.3 step 7). */
static long cpu_op_count_pages(const struct kernel *k, uint64_t addr, uint32_t len)
{
    if (addr >= k->arch->task_size)
        return -LX_EINVAL;
    if (len && ((addr + len - 1) >> CPU_OP_PAGE_SHIFT) - (addr >> CPU_OP_PAGE_SHIFT) + 1 > 2)
        return -LX_EINVAL;
    return 0;
}

/* Spec 5.3 steps 7 and 8: lengths, operation types and pointers, op by op, then the sum. */
static long cpu_opv_check(const struct kernel *k, const struct cpu_op *ops, int n)
{
    uint32_t sum = 0; /* 32 bits, as the RFC's: four lengths cannot wrap it past the check */
    for (int i = 0; i < n; i++) {
        sum += ops[i].len;
        if (ops[i].op < 0 || ops[i].op >= NR_CPU_OPS)
            return -LX_EINVAL;
        const struct op_kind *kind = &op_kinds[ops[i].op];
        if (!len_allowed(kind->len_rule, ops[i].len))
            return -LX_EINVAL;
        for (int p = 0; p < kind->nptrs; p++) {
            long err = cpu_op_count_pages(k, ops[i].ptr[p], ops[i].len);
            if (err)
                return err;
        }
    }
    return sum > CPU_OP_VEC_DATA_LEN_MAX ? -LX_EINVAL : 0;
}

/* get_user_pages() on [addr, addr + len): every page mapped and allowing prot. The model has
 * no device, uncached or shared-zero pages, the other reasons the RFC refuses a page. */
static bool pages_pinnable(const struct aspace *as, guest_addr_t addr, uint64_t len, int prot)
{
    while (len > 0) {
        struct vma_info v;
        if (!aspace_lookup(as, addr, &v))
            return false;
        uint64_t n = v.end - addr < len ? v.end - addr : len;
        if (!aspace_host(as, addr, n, prot))
            return false;
        addr += n;
        len -= n;
    }
    return true;
}

/* Spec 5.3 step 9: access_ok() then pinning, pointer by pointer; a fault on a pointer whose
 * expect_fault byte is set is EAGAIN, so that user space can tell a fault it foresaw (memory
 * being unmapped concurrently) from one a retry cannot cure. The first failure decides. */
static long cpu_opv_pin_pages(const struct kernel *k, const struct aspace *as,
                              const struct cpu_op *ops, int n)
{
    for (int i = 0; i < n; i++) {
        const struct op_kind *kind = &op_kinds[ops[i].op];
        for (int p = 0; p < kind->nptrs; p++) {
            uint64_t addr = ops[i].ptr[p], len = ops[i].len;
            /* addr < TASK_SIZE and len <= 4096 (checked), so the sum cannot wrap. */
            bool ok = addr + len <= k->arch->task_size &&
                      (len == 0 || pages_pinnable(as, addr, len, kind->prot[p]));
            if (!ok)
                return ops[i].expect_fault[p] ? -LX_EAGAIN : -LX_EFAULT;
        }
    }
    return 0;
}

/* __do_cpu_opv(): the operations in order; a failed comparison stops the vector and returns
 * its index + 1, the effects of the operations before it remain. */
static long do_cpu_opv_ops(struct aspace *as, const struct cpu_op *ops, int n)
{
    for (int i = 0; i < n; i++) {
        long ret = op_kinds[ops[i].op].exec(as, &ops[i]);
        if (ret > 0)
            return i + 1;
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* do_cpu_opv() (spec 5.4): where the vector runs and whom it interrupts. */
static long do_cpu_opv(struct kernel *k, struct task *t, const struct cpu_op *ops, int n, int cpu)
{
    struct kcpu *c = &k->st->cpus[cpu];
    struct task *interrupted = NULL;
    enum cpu_opv_where where;
    if (!c->online) {
        /* The RFC runs it on the calling CPU under a global mutex with hotplug held off: the
         * vector is atomic against other offline executions, and nothing is interrupted. */
        where = CPU_OPV_OFFLINE;
    } else if (cpu == t->cpu) {
        /* Interrupts off on the caller's own CPU; the caller is in the syscall, outside any
         * critical section, so there is nothing to abort. */
        where = CPU_OPV_LOCAL;
    } else {
        where = CPU_OPV_IPI;
        k->st->stats.cpu_opv_ipis++;
        interrupted = c->curr;
        if (interrupted) /* the IPI handler's rseq_preempt(current), as membarrier's fence */
            rseq_ipi(k, interrupted);
    }
    long ret = do_cpu_opv_ops(task_as(t), ops, n);
    event_emit(k, EV_CPU_OPV, t, (uint64_t)cpu,
               cpu_opv_event_pack(n, where, interrupted ? interrupted->tid : 0), (uint64_t)ret);
    return ret;
}

long sys_cpu_opv(struct kernel *k, struct task *t, const struct sys_args *a)
{
    guest_addr_t ucpuopv = a->a[0];
    int cpuopcnt = (int)a->a[1], cpu = (int)a->a[2], flags = (int)a->a[3];
    k->st->stats.cpu_opv_calls++;
    if (flags & ~(CPU_OP_NR_FLAG | CPU_OP_VEC_LEN_MAX_FLAG))
        return -LX_EINVAL;
    if (flags & CPU_OP_NR_FLAG)
        return flags & CPU_OP_VEC_LEN_MAX_FLAG ? -LX_EINVAL : NR_CPU_OPS;
    if (flags & CPU_OP_VEC_LEN_MAX_FLAG)
        return CPU_OP_VEC_LEN_MAX;
    if (cpu < 0)
        return -LX_EINVAL;
    if (cpuopcnt < 0 || cpuopcnt > CPU_OP_VEC_LEN_MAX)
        return -LX_EINVAL;
    /* Nothing is read for an empty vector: its pointer may be anything, NULL included. */
    uint8_t raw[CPU_OP_VEC_LEN_MAX * CPU_OP_SIZE];
    if (copy_from_user(k, t, raw, ucpuopv, (size_t)cpuopcnt * CPU_OP_SIZE))
        return -LX_EFAULT;
    struct cpu_op ops[CPU_OP_VEC_LEN_MAX];
    for (int i = 0; i < cpuopcnt; i++)
        ops[i] = cpu_op_decode(raw + i * CPU_OP_SIZE);
    long ret = cpu_opv_check(k, ops, cpuopcnt);
    if (ret)
        return ret;
    ret = cpu_opv_pin_pages(k, task_as(t), ops, cpuopcnt);
    if (ret)
        return ret;
    /* The target is checked only now, after pinning (spec 5.3 step 10): a bad pointer and a
     * disallowed CPU together give EFAULT. A CPU the machine does not have is in no mask. */
    if (cpu >= k->cfg.ncpus || !(t->affinity & (1ULL << cpu)))
        return -LX_EINVAL;
    return do_cpu_opv(k, t, ops, cpuopcnt, cpu);
}
