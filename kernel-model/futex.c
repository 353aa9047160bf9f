/* futex(2): the operations glibc's mutexes, condition variables and pthread_join use, with
 * timeouts in virtual time (spec 7.6). */
#include "futex.h"

#include "emu/aspace.h"
#include "ktime.h"
#include "sched.h"
#include "syscall.h"
#include "task.h"

#define PRIVATE_OBJECT (1ULL << 63)

/* get_futex_key(): private anonymous memory is keyed by (mm, address) whatever the
 * FUTEX_PRIVATE_FLAG says; shared mappings by (object, offset), so fork children meet. */
static int futex_key(struct task *t, guest_addr_t addr, struct futex_key *key)
{
    struct vma_info v;
    if (!aspace_lookup(task_as(t), addr, &v))
        return -LX_EFAULT;
    if (v.flags & ASPACE_MAP_SHARED) {
        key->object = v.backing_id;
        key->offset = v.backing_off + (addr - v.start);
    } else {
        key->object = PRIVATE_OBJECT | (uint64_t)aspace_id(task_as(t));
        key->offset = addr;
    }
    return 0;
}

static unsigned bucket_of(const struct futex_key *key)
{
    return (unsigned)(hash64_mix(key->object ^ hash64_mix(key->offset)) % FUTEX_BUCKETS);
}

static bool same_key(const struct futex_key *a, const struct futex_key *b)
{
    return a->object == b->object && a->offset == b->offset;
}

static void enqueue_waiter(struct kernel *k, struct task *t)
{
    struct task **head = &k->st->futex_buckets[bucket_of(&t->wait.key)];
    t->wait.fnext = NULL;
    t->wait.fprev = NULL;
    if (!*head) {
        *head = t;
        return;
    }
    struct task *last = *head;
    while (last->wait.fnext)
        last = last->wait.fnext;
    last->wait.fnext = t;
    t->wait.fprev = last;
}

void futex_unqueue(struct kernel *k, struct task *t)
{
    struct task **head = &k->st->futex_buckets[bucket_of(&t->wait.key)];
    if (t->wait.fprev)
        t->wait.fprev->wait.fnext = t->wait.fnext;
    else if (*head == t)
        *head = t->wait.fnext;
    if (t->wait.fnext)
        t->wait.fnext->wait.fprev = t->wait.fprev;
    t->wait.fnext = t->wait.fprev = NULL;
}

void futex_timeout(struct kernel *k, struct task *t) { futex_unqueue(k, t); }

/* Wakes up to n waiters on key whose bitset meets `bitset`, oldest first. */
static int wake_key(struct kernel *k, const struct futex_key *key, int n, uint32_t bitset)
{
    int woken = 0;
    struct task *w = k->st->futex_buckets[bucket_of(key)];
    while (w && woken < n) {
        struct task *next = w->wait.fnext;
        if (same_key(&w->wait.key, key) && (w->wait.bitset & bitset)) {
            futex_unqueue(k, w);
            sched_wake(k, w, 0);
            woken++;
        }
        w = next;
    }
    return woken;
}

int futex_wake_addr(struct kernel *k, struct task *t, guest_addr_t addr, int n)
{
    struct futex_key key;
    if (futex_key(t, addr, &key) != 0)
        return 0;
    return wake_key(k, &key, n, LX_FUTEX_BITSET_MATCH_ANY);
}

static long futex_wait(struct kernel *k, struct task *t, guest_addr_t addr, uint32_t val,
                       uint32_t bitset, bool has_deadline, uint64_t deadline)
{
    if (addr & 3)
        return -LX_EINVAL;
    uint32_t cur;
    if (aspace_read(task_as(t), addr, &cur, sizeof(cur)) != 0)
        return -LX_EFAULT;
    if (cur != val)
        return -LX_EAGAIN;
    if (has_deadline && deadline <= sched_now(k, t))
        return -LX_ETIMEDOUT;
    if (futex_key(t, addr, &t->wait.key) != 0)
        return -LX_EFAULT;
    k->st->stats.futex_waits++;
    t->wait.kind = WAIT_FUTEX;
    t->wait.futex_addr = addr;
    t->wait.bitset = bitset;
    t->wait.timeout_ret = -LX_ETIMEDOUT;
    /* Untimed waits restart transparently (SA_RESTART); timed ones continue with the same
     * deadline through restart_syscall. */
    t->wait.interrupted_ret = has_deadline ? -LX_ERESTART_RESTARTBLOCK : -LX_ERESTARTSYS;
    if (has_deadline) {
        t->restart = (struct task_restart){.kind = RESTART_FUTEX_WAIT,
                                           .deadline_ns = deadline,
                                           .addr = addr,
                                           .val = val,
                                           .bitset = bitset};
    }
    enqueue_waiter(k, t);
    sched_block(k, t);
    if (has_deadline)
        timer_arm_task(k, t, deadline);
    return SYS_BLOCKED;
}

long futex_restart(struct kernel *k, struct task *t)
{
    return futex_wait(k, t, t->restart.addr, t->restart.val, t->restart.bitset, true,
                      t->restart.deadline_ns);
}

/* FUTEX_WAKE_OP's operation on *uaddr2 and its comparison (include/uapi/linux/futex.h). */
static long futex_wake_op(struct kernel *k, struct task *t, guest_addr_t uaddr, int n,
                          guest_addr_t uaddr2, int n2, uint32_t encoded)
{
    uint32_t op = (encoded >> 28) & 7, cmp = (encoded >> 24) & 15;
    uint32_t oparg = (encoded >> 12) & 0xfff, cmparg = encoded & 0xfff;
    if (encoded & (8u << 28))
        oparg = 1u << (oparg & 31);
    int32_t soparg = (int32_t)(oparg << 20) >> 20, scmparg = (int32_t)(cmparg << 20) >> 20;
    uint32_t old;
    if (aspace_read(task_as(t), uaddr2, &old, 4) != 0)
        return -LX_EFAULT;
    uint32_t nv;
    switch (op) {
    case 0:
        nv = (uint32_t)soparg;
        break;
    case 1:
        nv = old + (uint32_t)soparg;
        break;
    case 2:
        nv = old | (uint32_t)soparg;
        break;
    case 3:
        nv = old & ~(uint32_t)soparg;
        break;
    case 4:
        nv = old ^ (uint32_t)soparg;
        break;
    default:
        return -LX_ENOSYS;
    }
    if (aspace_write(task_as(t), uaddr2, &nv, 4) != 0)
        return -LX_EFAULT;
    bool hit;
    int32_t o = (int32_t)old;
    switch (cmp) {
    case 0:
        hit = o == scmparg;
        break;
    case 1:
        hit = o != scmparg;
        break;
    case 2:
        hit = o < scmparg;
        break;
    case 3:
        hit = o <= scmparg;
        break;
    case 4:
        hit = o > scmparg;
        break;
    case 5:
        hit = o >= scmparg;
        break;
    default:
        return -LX_ENOSYS;
    }
    long woken = futex_wake_addr(k, t, uaddr, n);
    if (hit)
        woken += futex_wake_addr(k, t, uaddr2, n2);
    return woken;
}

static long futex_requeue(struct kernel *k, struct task *t, guest_addr_t uaddr, int n,
                          guest_addr_t uaddr2, int n2, bool cmp, uint32_t val)
{
    if (cmp) {
        uint32_t cur;
        if (aspace_read(task_as(t), uaddr, &cur, 4) != 0)
            return -LX_EFAULT;
        if (cur != val)
            return -LX_EAGAIN;
    }
    struct futex_key from, to;
    if (futex_key(t, uaddr, &from) != 0 || futex_key(t, uaddr2, &to) != 0)
        return -LX_EFAULT;
    long done = wake_key(k, &from, n, LX_FUTEX_BITSET_MATCH_ANY);
    struct task *w = k->st->futex_buckets[bucket_of(&from)];
    int moved = 0;
    while (w && moved < n2) {
        struct task *next = w->wait.fnext;
        if (same_key(&w->wait.key, &from)) {
            futex_unqueue(k, w);
            w->wait.key = to;
            w->wait.futex_addr = uaddr2;
            enqueue_waiter(k, w);
            moved++;
        }
        w = next;
    }
    return done + (cmp ? moved : 0);
}

long sys_futex(struct kernel *k, struct task *t, const struct sys_args *a)
{
    guest_addr_t uaddr = a->a[0], utime = a->a[3], uaddr2 = a->a[4];
    int op = (int)a->a[1];
    uint32_t val = (uint32_t)a->a[2], val3 = (uint32_t)a->a[5];
    int cmd = op & LX_FUTEX_CMD_MASK;
    bool realtime = op & LX_FUTEX_CLOCK_REALTIME;
    if (realtime && cmd != LX_FUTEX_WAIT_BITSET && cmd != LX_FUTEX_WAIT)
        return -LX_ENOSYS;
    switch (cmd) {
    case LX_FUTEX_WAIT:
    case LX_FUTEX_WAIT_BITSET: {
        uint32_t bitset = cmd == LX_FUTEX_WAIT ? LX_FUTEX_BITSET_MATCH_ANY : val3;
        if (!bitset)
            return -LX_EINVAL;
        uint64_t deadline = 0;
        if (utime) {
            uint64_t ns;
            int rc = ktime_read_timespec(k, t, utime, &ns);
            if (rc)
                return rc;
            /* FUTEX_WAIT takes a relative CLOCK_MONOTONIC timeout, WAIT_BITSET an absolute
             * one on the clock the flag selects. */
            if (cmd == LX_FUTEX_WAIT)
                deadline = sched_now(k, t) + ns;
            else
                deadline = ktime_deadline(realtime ? LX_CLOCK_REALTIME : LX_CLOCK_MONOTONIC, ns);
        }
        return futex_wait(k, t, uaddr, val, bitset, utime != 0, deadline);
    }
    case LX_FUTEX_WAKE:
    case LX_FUTEX_WAKE_BITSET: {
        uint32_t bitset = cmd == LX_FUTEX_WAKE ? LX_FUTEX_BITSET_MATCH_ANY : val3;
        if (!bitset)
            return -LX_EINVAL;
        if (uaddr & 3)
            return -LX_EINVAL;
        struct futex_key key;
        if (futex_key(t, uaddr, &key) != 0)
            return -LX_EFAULT;
        return wake_key(k, &key, (int)val, bitset);
    }
    case LX_FUTEX_REQUEUE:
    case LX_FUTEX_CMP_REQUEUE:
        if ((uaddr | uaddr2) & 3)
            return -LX_EINVAL;
        return futex_requeue(k, t, uaddr, (int)val, uaddr2, (int)(uint32_t)utime,
                             cmd == LX_FUTEX_CMP_REQUEUE, val3);
    case LX_FUTEX_WAKE_OP:
        if ((uaddr | uaddr2) & 3)
            return -LX_EINVAL;
        return futex_wake_op(k, t, uaddr, (int)val, uaddr2, (int)(uint32_t)utime, val3);
    default:
        return -LX_ENOSYS;
    }
}
