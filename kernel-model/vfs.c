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

/* One line of /proc/self/maps: the first mapping at or above *key, which moves past it;
 * its length, or 0 at the end. */
static size_t maps_line(struct task *t, uint64_t *key, char *line, size_t cap)
{
    struct vma_info v;
    if (!aspace_vma_next(task_as(t), *key, &v))
        return 0;
    *key = v.end;
    bool file = (v.flags & ASPACE_MAP_FILE) && t->proc->mm->image;
    const char *name = v.flags & ASPACE_MAP_STACK  ? "[stack]"
                       : v.flags & ASPACE_MAP_HEAP ? "[heap]"
                                                   : "";
    char exe[VFS_PATH_MAX];
    if (file) {
        vfs_exe_path(t->proc->mm->image, exe, sizeof(exe));
        name = exe;
    }
    int n = snprintf(line, cap, "%012llx-%012llx %c%c%c%c %08llx 00:00 0 %s%s\n",
                     (unsigned long long)v.start, (unsigned long long)v.end,
                     v.prot & LX_PROT_READ ? 'r' : '-', v.prot & LX_PROT_WRITE ? 'w' : '-',
                     v.prot & LX_PROT_EXEC ? 'x' : '-', v.flags & ASPACE_MAP_SHARED ? 's' : 'p',
                     file ? (unsigned long long)v.backing_off : 0ULL, name[0] ? "    " : "", name);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* The short files, whole. */
static size_t small_content(struct kernel *k, int vfile, char *buf, size_t cap)
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
    default:
        return 0;
    }
}

/* Longer than any short file: 64 CPUs of /proc/cpuinfo. */
#define SMALL_MAX 8192
/* Longer than any line of /proc/self/maps: the program's path is at most PATH_MAX. */
#define LINE_MAX_BYTES 4200

size_t vfs_read(struct kernel *k, struct task *t, int vfile, struct vfs_cursor *cur, uint64_t off,
                char *buf, size_t len)
{
    if (vfile != VF_SELF_MAPS) {
        char content[SMALL_MAX];
        size_t size = small_content(k, vfile, content, sizeof(content));
        size_t n = off >= size ? 0 : (size - off < len ? size - off : len);
        memcpy(buf, content + off, n);
        return n;
    }
    struct vfs_cursor at = off >= cur->off ? *cur : (struct vfs_cursor){0, 0};
    char line[LINE_MAX_BYTES];
    size_t done = 0;
    while (done < len) {
        uint64_t key = at.key;
        size_t n = maps_line(t, &key, line, sizeof(line));
        if (n == 0)
            break;
        if (at.off + n > off) { /* the line holds bytes from off on */
            size_t from = off > at.off ? (size_t)(off - at.off) : 0;
            size_t take = n - from < len - done ? n - from : len - done;
            memcpy(buf + done, line + from, take);
            done += take;
            off += take;
            if (from + take < n)
                break; /* the next read resumes inside this line */
        }
        at.off += n;
        at.key = key;
    }
    *cur = at;
    return done;
}

uint64_t vfs_size(struct kernel *k, struct task *t, int vfile)
{
    if (vfile != VF_SELF_MAPS) {
        char content[SMALL_MAX];
        return small_content(k, vfile, content, sizeof(content));
    }
    char line[LINE_MAX_BYTES];
    uint64_t size = 0, key = 0;
    for (size_t n; (n = maps_line(t, &key, line, sizeof(line))) > 0;)
        size += n;
    return size;
}

size_t vfs_abs_path(const char *name, char *buf, size_t cap)
{
    size_t n = 0;
    if (cap == 0)
        return 0;
    /* Component by component: "." is dropped, ".." removes the last one (never the root). */
    while (*name) {
        while (*name == '/')
            name++;
        size_t len = strcspn(name, "/");
        bool dot = len == 1 && name[0] == '.';
        bool dotdot = len == 2 && name[0] == '.' && name[1] == '.';
        if (dotdot) {
            while (n > 0 && buf[n - 1] != '/')
                n--;
            if (n > 0)
                n--; /* and the slash before it */
        } else if (len > 0 && !dot && n + 1 + len < cap) {
            buf[n++] = '/';
            memcpy(buf + n, name, len);
            n += len;
        }
        name += len;
    }
    if (n == 0 && cap > 1)
        buf[n++] = '/';
    buf[n] = '\0';
    return n;
}

size_t vfs_exe_path(const struct elf_image *img, char *buf, size_t cap)
{
    return vfs_abs_path(elf_image_name(img), buf, cap);
}

long vfs_readlink(struct kernel *k, struct task *t, const char *path, char *buf, size_t cap)
{
    (void)k;
    if (strcmp(path, "/proc/self/exe") == 0 || strcmp(path, "/proc/thread-self/exe") == 0) {
        char exe[VFS_PATH_MAX] = "";
        if (t->proc->mm->image)
            vfs_exe_path(t->proc->mm->image, exe, sizeof(exe));
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
