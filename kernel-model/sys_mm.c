/* brk, mmap, munmap, mprotect, mremap, madvise (spec 7.9). Only anonymous memory exists: the
 * guest has no files to map. */
#include "emu/aspace.h"
#include "emu/emu.h"
#include "mm.h"
#include "syscall.h"
#include "task.h"

#define PAGE          4096ULL
#define PAGE_UP(x)    (((x) + PAGE - 1) & ~(PAGE - 1))
#define MMAP_MIN_ADDR LX_MMAP_MIN_ADDR

guest_addr_t mm_place(struct kernel *k, struct mm *mm, uint64_t len)
{
    guest_addr_t top = k->arch->mmap_base;
    if (mm->stack_low && mm->stack_low < top)
        top = mm->stack_low;
    return aspace_find_free_topdown(mm->as, len, mm->brk > MMAP_MIN_ADDR ? mm->brk : MMAP_MIN_ADDR,
                                    top);
}

long sys_brk(struct kernel *k, struct task *t, const struct sys_args *a)
{
    (void)k;
    struct mm *mm = t->proc->mm;
    guest_addr_t want = a->a[0];
    if (want < mm->brk_start)
        return (long)mm->brk;
    guest_addr_t old_end = PAGE_UP(mm->brk), new_end = PAGE_UP(want);
    if (new_end > old_end) {
        if (!aspace_range_free(mm->as, old_end, new_end - old_end))
            return (long)mm->brk; /* growing into another mapping fails */
        if (aspace_map(mm->as, old_end, new_end - old_end, LX_PROT_READ | LX_PROT_WRITE,
                       ASPACE_MAP_HEAP) != 0)
            return (long)mm->brk;
    } else if (new_end < old_end) {
        aspace_unmap(mm->as, new_end, old_end - new_end);
    }
    mm->brk = want;
    return (long)want;
}

long sys_mmap(struct kernel *k, struct task *t, const struct sys_args *a)
{
    guest_addr_t addr = a->a[0];
    uint64_t len = a->a[1];
    int prot = (int)a->a[2], flags = (int)a->a[3], fd = (int)a->a[4];
    uint64_t off = a->a[5];
    struct mm *mm = t->proc->mm;
    if (len == 0)
        return -LX_EINVAL;
    if (off & (PAGE - 1))
        return -LX_EINVAL;
    int type = flags & LX_MAP_TYPE;
    if (type != LX_MAP_PRIVATE && type != LX_MAP_SHARED)
        return -LX_EINVAL;
    if (!(flags & LX_MAP_ANONYMOUS))
        return fd < 0 || fd >= FD_MAX || t->proc->fds[fd].kind == FD_NONE ? -LX_EBADF : -LX_EACCES;
    len = PAGE_UP(len);
    if (len == 0 || len > k->arch->task_size)
        return -LX_ENOMEM;
    bool fixed = flags & (LX_MAP_FIXED | LX_MAP_FIXED_NOREPLACE);
    if (fixed) {
        if (addr & (PAGE - 1))
            return -LX_EINVAL;
        if (addr + len > k->arch->task_size || addr + len < addr || addr < MMAP_MIN_ADDR)
            return -LX_ENOMEM;
        if ((flags & LX_MAP_FIXED_NOREPLACE) && !aspace_range_free(mm->as, addr, len))
            return -LX_EEXIST;
    } else {
        /* A hint is taken when the range is free, as Linux does. */
        addr &= ~(PAGE - 1);
        if (!addr || addr < MMAP_MIN_ADDR || addr + len > k->arch->task_size ||
            !aspace_range_free(mm->as, addr, len))
            addr = mm_place(k, mm, len);
        if (!addr)
            return -LX_ENOMEM;
    }
    /* Overcommit's heuristic (mode 0): one mapping that must be accounted (private writable
     * or shared, without MAP_NORESERVE) may not exceed the machine's memory, here the cap. */
    bool accounted =
        (type == LX_MAP_SHARED || (prot & LX_PROT_WRITE)) && !(flags & LX_MAP_NORESERVE);
    if (accounted && emu_mem_cap(k->emu) && len > emu_mem_cap(k->emu))
        return -LX_ENOMEM;
    int rc = aspace_map(mm->as, addr, len, prot & (LX_PROT_READ | LX_PROT_WRITE | LX_PROT_EXEC),
                        type == LX_MAP_SHARED ? ASPACE_MAP_SHARED : 0);
    return rc ? rc : (long)addr;
}

long sys_munmap(struct kernel *k, struct task *t, const struct sys_args *a)
{
    (void)k;
    guest_addr_t addr = a->a[0];
    uint64_t len = PAGE_UP(a->a[1]);
    if ((addr & (PAGE - 1)) || a->a[1] == 0 || addr + len < addr)
        return -LX_EINVAL;
    return aspace_unmap(task_as(t), addr, len);
}

long sys_mprotect(struct kernel *k, struct task *t, const struct sys_args *a)
{
    (void)k;
    guest_addr_t addr = a->a[0];
    int prot = (int)a->a[2];
    if (addr & (PAGE - 1))
        return -LX_EINVAL;
    if (prot & ~(LX_PROT_READ | LX_PROT_WRITE | LX_PROT_EXEC | LX_PROT_GROWSDOWN | LX_PROT_GROWSUP))
        return -LX_EINVAL;
    if (a->a[1] == 0)
        return 0;
    if (addr + PAGE_UP(a->a[1]) < addr)
        return -LX_ENOMEM;
    return aspace_protect(task_as(t), addr, a->a[1],
                          prot & (LX_PROT_READ | LX_PROT_WRITE | LX_PROT_EXEC));
}

long sys_mremap(struct kernel *k, struct task *t, const struct sys_args *a)
{
    guest_addr_t old = a->a[0], fixed_at = a->a[4];
    uint64_t old_len = PAGE_UP(a->a[1]), new_len = PAGE_UP(a->a[2]);
    int flags = (int)a->a[3];
    struct mm *mm = t->proc->mm;
    if ((old & (PAGE - 1)) || new_len == 0 || (flags & ~(LX_MREMAP_MAYMOVE | LX_MREMAP_FIXED)))
        return -LX_EINVAL;
    if ((flags & LX_MREMAP_FIXED) && !(flags & LX_MREMAP_MAYMOVE))
        return -LX_EINVAL;
    struct vma_info v;
    if (!aspace_lookup(mm->as, old, &v) || v.end < old + old_len || old_len == 0)
        return -LX_EFAULT;
    /* mremap_to() and move_vma() (mm/mremap.c) keep room for the splits a move may make. */
    size_t maps = aspace_vma_count(mm->as);
    if (flags & LX_MREMAP_FIXED) {
        if (fixed_at & (PAGE - 1))
            return -LX_EINVAL;
        if (new_len > k->arch->task_size || fixed_at > k->arch->task_size - new_len)
            return -LX_EINVAL;
        if (old + old_len > fixed_at && fixed_at + new_len > old)
            return -LX_EINVAL; /* the old and new ranges overlap */
        if (maps + 2 >= ASPACE_MAX_MAP_COUNT - 3)
            return -LX_ENOMEM;
        int rc = aspace_move(mm->as, old, old_len, fixed_at, new_len);
        return rc ? rc : (long)fixed_at;
    }
    if (new_len <= old_len) {
        if (new_len < old_len)
            aspace_unmap(mm->as, old + new_len, old_len - new_len);
        return (long)old;
    }
    /* Grow in place when the pages above are free. */
    if (v.end == old + old_len && aspace_range_free(mm->as, old + old_len, new_len - old_len) &&
        old + new_len <= k->arch->task_size) {
        int rc = aspace_map(mm->as, old + old_len, new_len - old_len, v.prot, v.flags);
        return rc ? rc : (long)old;
    }
    if (!(flags & LX_MREMAP_MAYMOVE) || maps >= ASPACE_MAX_MAP_COUNT - 3)
        return -LX_ENOMEM;
    guest_addr_t to = mm_place(k, mm, new_len);
    if (!to)
        return -LX_ENOMEM;
    int rc = aspace_move(mm->as, old, old_len, to, new_len);
    return rc ? rc : (long)to;
}

long sys_madvise(struct kernel *k, struct task *t, const struct sys_args *a)
{
    (void)k;
    guest_addr_t addr = a->a[0];
    if (addr & (PAGE - 1))
        return -LX_EINVAL;
    if ((int)a->a[2] == LX_MADV_DONTNEED)
        return aspace_discard(task_as(t), addr, a->a[1]);
    /* Other advice changes nothing a guest can observe here. */
    return aspace_range_mapped(task_as(t), addr, PAGE_UP(a->a[1])) ? 0 : -LX_ENOMEM;
}
