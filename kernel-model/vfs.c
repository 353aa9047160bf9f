#include "vfs.h"

#include <stdio.h>
#include <string.h>

#include "emu/aspace.h"
#include "emu/loader.h"
#include "cpulist.h"
#include "sched.h"
#include "task.h"

enum vfile_id {
    VF_CPU_ONLINE,
    VF_CPU_POSSIBLE,
    VF_CPU_PRESENT,
    VF_CPU_OFFLINE,
    VF_CPUINFO,
    VF_SELF_MAPS,
    VF_DEV_NULL,
    VF_COUNT
};

static const char *const vfile_paths[VF_COUNT] = {
    [VF_CPU_ONLINE] = "/sys/devices/system/cpu/online",
    [VF_CPU_POSSIBLE] = "/sys/devices/system/cpu/possible",
    [VF_CPU_PRESENT] = "/sys/devices/system/cpu/present",
    [VF_CPU_OFFLINE] = "/sys/devices/system/cpu/offline",
    [VF_CPUINFO] = "/proc/cpuinfo",
    [VF_SELF_MAPS] = "/proc/self/maps",
    [VF_DEV_NULL] = "/dev/null",
};

int vfs_lookup(const char *path)
{
    for (int i = 0; i < VF_COUNT; i++)
        if (strcmp(path, vfile_paths[i]) == 0)
            return i;
    /* /proc/thread-self/... and /proc/<own pid>/... name the same files; keep it simple. */
    if (strcmp(path, "/proc/thread-self/maps") == 0)
        return VF_SELF_MAPS;
    return -LX_ENOENT;
}

bool vfs_is_null(int vfile) { return vfile == VF_DEV_NULL; }

/* A CPU mask as the kernel's sysfs files show it: "0-3,6\n", or "\n" for none. */
static size_t cpulist_file(uint64_t mask, char *buf, size_t cap)
{
    size_t n = cpulist_format(mask, buf, cap);
    n += (size_t)snprintf(buf + n, cap > n ? cap - n : 0, "\n");
    return n < cap ? n : cap;
}

static size_t maps(struct kernel *k, struct task *t, char *buf, size_t cap)
{
    struct aspace *as = task_as(t);
    size_t n = 0;
    for (size_t i = 0; i < aspace_vma_count(as) && n < cap; i++) {
        struct vma_info v;
        aspace_vma_at(as, i, &v);
        const char *name = v.flags & ASPACE_MAP_STACK  ? "[stack]"
                           : v.flags & ASPACE_MAP_HEAP ? "[heap]"
                                                       : "";
        if (!name[0] && t->proc->mm->image && v.start < t->proc->mm->brk_start &&
            v.start >= (k->arch->id == ARCH_X86_64 ? 0x400000ULL : 0x400000ULL))
            name = elf_image_name(t->proc->mm->image);
        n += (size_t)snprintf(buf + n, cap - n, "%012llx-%012llx %c%c%c%c %08llx 00:00 0 %s%s\n",
                              (unsigned long long)v.start, (unsigned long long)v.end,
                              v.prot & LX_PROT_READ ? 'r' : '-', v.prot & LX_PROT_WRITE ? 'w' : '-',
                              v.prot & LX_PROT_EXEC ? 'x' : '-',
                              v.flags & ASPACE_MAP_SHARED ? 's' : 'p', 0ULL, name[0] ? "    " : "",
                              name);
    }
    return n < cap ? n : cap;
}

size_t vfs_content(struct kernel *k, struct task *t, int vfile, char *buf, size_t cap)
{
    uint64_t possible = sched_possible_mask(k);
    switch (vfile) {
    case VF_CPU_ONLINE:
        return cpulist_file(sched_online_mask(k), buf, cap);
    case VF_CPU_POSSIBLE:
    case VF_CPU_PRESENT:
        return cpulist_file(possible, buf, cap);
    case VF_CPU_OFFLINE: /* possible but not online: hotplug (README, "What the guest sees") */
        return cpulist_file(possible & ~sched_online_mask(k), buf, cap);
    case VF_CPUINFO: {
        size_t n = 0;
        uint64_t online = sched_online_mask(k);
        for (int i = 0; i < k->cfg.ncpus && n < cap; i++)
            if (online & (1ULL << i))
                n += (size_t)snprintf(buf + n, cap - n,
                                      "processor\t: %d\nmodel name\t: rseqemu "
                                      "%s vCPU\n\n",
                                      i, k->arch->name);
        return n < cap ? n : cap;
    }
    case VF_SELF_MAPS:
        return maps(k, t, buf, cap);
    default:
        return 0;
    }
}

long vfs_readlink(struct kernel *k, struct task *t, const char *path, char *buf, size_t cap)
{
    (void)k;
    if (strcmp(path, "/proc/self/exe") == 0 || strcmp(path, "/proc/thread-self/exe") == 0) {
        const char *exe = t->proc->mm->image ? elf_image_path(t->proc->mm->image) : "";
        size_t n = strlen(exe) < cap ? strlen(exe) : cap;
        memcpy(buf, exe, n);
        return (long)n;
    }
    return vfs_lookup(path) >= 0 ? -LX_EINVAL : -LX_ENOENT;
}

void vfs_init_stdio(struct kernel *k, struct process *p)
{
    int host[3] = {k->cfg.stdin_fd, k->cfg.stdout_fd, k->cfg.stderr_fd};
    for (int i = 0; i < 3; i++)
        p->fds[i] = (struct fd_entry){
            .kind = FD_HOST, .host_fd = host[i], .flags = i == 0 ? LX_O_RDONLY : LX_O_WRONLY};
}
