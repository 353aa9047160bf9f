/* Linux user ABI constants as a guest sees them, independent of the host's headers.
 *
 * Everything the kernel model returns to a guest or writes into guest memory is spelled with
 * these names, so a host libc difference can never leak into a guest run. Values are the
 * x86-64 and arm64 ones, which agree for everything defined here. */
#ifndef RSEQEMU_ARCH_LX_H
#define RSEQEMU_ARCH_LX_H

#include <stdint.h>

typedef uint64_t guest_addr_t;

/* errno */
enum {
    LX_EPERM = 1,
    LX_ENOENT = 2,
    LX_ESRCH = 3,
    LX_EINTR = 4,
    LX_EIO = 5,
    LX_ENXIO = 6,
    LX_E2BIG = 7,
    LX_ENOEXEC = 8,
    LX_EBADF = 9,
    LX_ECHILD = 10,
    LX_EAGAIN = 11,
    LX_ENOMEM = 12,
    LX_EACCES = 13,
    LX_EFAULT = 14,
    LX_EBUSY = 16,
    LX_EEXIST = 17,
    LX_ENOTDIR = 20,
    LX_EISDIR = 21,
    LX_EINVAL = 22,
    LX_EMFILE = 24,
    LX_ENOTTY = 25,
    LX_ESPIPE = 29,
    LX_EROFS = 30,
    LX_EPIPE = 32,
    LX_ERANGE = 34,
    LX_EDEADLK = 35,
    LX_ENAMETOOLONG = 36,
    LX_ENOSYS = 38,
    LX_ENOTEMPTY = 39,
    LX_ELOOP = 40,
    LX_ENODATA = 61,
    LX_EOVERFLOW = 75,
    LX_ENOTSOCK = 88,
    LX_EOPNOTSUPP = 95,
    LX_ETIMEDOUT = 110,
    LX_EOWNERDEAD = 130,
    /* Kernel-internal restart codes; never seen by a guest. */
    LX_ERESTARTSYS = 512,
    LX_ERESTARTNOINTR = 513,
    LX_ERESTARTNOHAND = 514,
    LX_ERESTART_RESTARTBLOCK = 516,
};

/* Signals */
enum {
    LX_SIGHUP = 1,
    LX_SIGINT = 2,
    LX_SIGQUIT = 3,
    LX_SIGILL = 4,
    LX_SIGTRAP = 5,
    LX_SIGABRT = 6,
    LX_SIGBUS = 7,
    LX_SIGFPE = 8,
    LX_SIGKILL = 9,
    LX_SIGUSR1 = 10,
    LX_SIGSEGV = 11,
    LX_SIGUSR2 = 12,
    LX_SIGPIPE = 13,
    LX_SIGALRM = 14,
    LX_SIGTERM = 15,
    LX_SIGSTKFLT = 16,
    LX_SIGCHLD = 17,
    LX_SIGCONT = 18,
    LX_SIGSTOP = 19,
    LX_SIGTSTP = 20,
    LX_SIGTTIN = 21,
    LX_SIGTTOU = 22,
    LX_SIGURG = 23,
    LX_SIGXCPU = 24,
    LX_SIGXFSZ = 25,
    LX_SIGVTALRM = 26,
    LX_SIGPROF = 27,
    LX_SIGWINCH = 28,
    LX_SIGIO = 29,
    LX_SIGPWR = 30,
    LX_SIGSYS = 31,
    LX_SIGRTMIN = 32,
    LX_NSIG = 64,
};

#define LX_SIGBIT(sig) (1ULL << ((sig)-1))

/* sigaction flags */
#define LX_SA_NOCLDSTOP 0x00000001ULL
#define LX_SA_NOCLDWAIT 0x00000002ULL
#define LX_SA_SIGINFO   0x00000004ULL
#define LX_SA_RESTORER  0x04000000ULL
#define LX_SA_ONSTACK   0x08000000ULL
#define LX_SA_RESTART   0x10000000ULL
#define LX_SA_NODEFER   0x40000000ULL
#define LX_SA_RESETHAND 0x80000000ULL
#define LX_SIG_DFL      0ULL
#define LX_SIG_IGN      1ULL

enum { LX_SIG_BLOCK = 0, LX_SIG_UNBLOCK = 1, LX_SIG_SETMASK = 2 };

/* stack_t (24 bytes): ss_sp @0, ss_flags @8, ss_size @16 */
#define LX_SS_ONSTACK    1
#define LX_SS_DISABLE    2
#define LX_SS_AUTODISARM (1U << 31)

struct lx_stack {
    guest_addr_t ss_sp;
    int32_t ss_flags;
    uint64_t ss_size;
};

/* siginfo (128 bytes): signo @0, errno @4, code @8, then a union at @16 */
#define LX_SIGINFO_SIZE 128
#define LX_SI_USER      0
#define LX_SI_KERNEL    0x80
#define LX_SI_QUEUE     (-1)
#define LX_SI_TIMER     (-2)
#define LX_SI_TKILL     (-6)
#define LX_SEGV_MAPERR  1
#define LX_SEGV_ACCERR  2
#define LX_BUS_ADRALN   1
#define LX_ILL_ILLOPC   1
#define LX_ILL_ILLOPN   2
#define LX_FPE_INTDIV   1
#define LX_TRAP_BRKPT   1
#define LX_CLD_EXITED   1
#define LX_CLD_KILLED   2
#define LX_CLD_DUMPED   3

/* clone flags */
#define LX_CSIGNAL              0x000000ffULL
#define LX_CLONE_VM             0x00000100ULL
#define LX_CLONE_FS             0x00000200ULL
#define LX_CLONE_FILES          0x00000400ULL
#define LX_CLONE_SIGHAND        0x00000800ULL
#define LX_CLONE_PIDFD          0x00001000ULL
#define LX_CLONE_PTRACE         0x00002000ULL
#define LX_CLONE_VFORK          0x00004000ULL
#define LX_CLONE_PARENT         0x00008000ULL
#define LX_CLONE_THREAD         0x00010000ULL
#define LX_CLONE_NEWNS          0x00020000ULL
#define LX_CLONE_SYSVSEM        0x00040000ULL
#define LX_CLONE_SETTLS         0x00080000ULL
#define LX_CLONE_PARENT_SETTID  0x00100000ULL
#define LX_CLONE_CHILD_CLEARTID 0x00200000ULL
#define LX_CLONE_DETACHED       0x00400000ULL
#define LX_CLONE_UNTRACED       0x00800000ULL
#define LX_CLONE_CHILD_SETTID   0x01000000ULL
#define LX_CLONE_NEWCGROUP      0x02000000ULL
#define LX_CLONE_IO             0x80000000ULL

/* mmap */
/* vm.mmap_min_addr's default: nothing maps below it, neither mmap(2) nor the ELF loader. */
#define LX_MMAP_MIN_ADDR 0x10000ULL

#define LX_PROT_NONE           0x0
#define LX_PROT_READ           0x1
#define LX_PROT_WRITE          0x2
#define LX_PROT_EXEC           0x4
#define LX_PROT_GROWSDOWN      0x01000000
#define LX_PROT_GROWSUP        0x02000000
#define LX_MAP_SHARED          0x01
#define LX_MAP_PRIVATE         0x02
#define LX_MAP_TYPE            0x0f
#define LX_MAP_FIXED           0x10
#define LX_MAP_ANONYMOUS       0x20
#define LX_MAP_GROWSDOWN       0x0100
#define LX_MAP_DENYWRITE       0x0800
#define LX_MAP_EXECUTABLE      0x1000
#define LX_MAP_LOCKED          0x2000
#define LX_MAP_NORESERVE       0x4000
#define LX_MAP_POPULATE        0x8000
#define LX_MAP_NONBLOCK        0x10000
#define LX_MAP_STACK           0x20000
#define LX_MAP_HUGETLB         0x40000
#define LX_MAP_FIXED_NOREPLACE 0x100000
#define LX_MREMAP_MAYMOVE      1
#define LX_MREMAP_FIXED        2
#define LX_MADV_DONTNEED       4

/* futex */
#define LX_FUTEX_WAIT             0
#define LX_FUTEX_WAKE             1
#define LX_FUTEX_REQUEUE          3
#define LX_FUTEX_CMP_REQUEUE      4
#define LX_FUTEX_WAKE_OP          5
#define LX_FUTEX_WAIT_BITSET      9
#define LX_FUTEX_WAKE_BITSET      10
#define LX_FUTEX_PRIVATE_FLAG     128
#define LX_FUTEX_CLOCK_REALTIME   256
#define LX_FUTEX_CMD_MASK         (~(LX_FUTEX_PRIVATE_FLAG | LX_FUTEX_CLOCK_REALTIME))
#define LX_FUTEX_BITSET_MATCH_ANY 0xffffffffU
#define LX_FUTEX_WAITERS          0x80000000U
#define LX_FUTEX_OWNER_DIED       0x40000000U
#define LX_FUTEX_TID_MASK         0x3fffffffU

/* clocks */
enum {
    LX_CLOCK_REALTIME = 0,
    LX_CLOCK_MONOTONIC = 1,
    LX_CLOCK_PROCESS_CPUTIME_ID = 2,
    LX_CLOCK_THREAD_CPUTIME_ID = 3,
    LX_CLOCK_MONOTONIC_RAW = 4,
    LX_CLOCK_REALTIME_COARSE = 5,
    LX_CLOCK_MONOTONIC_COARSE = 6,
    LX_CLOCK_BOOTTIME = 7,
};
#define LX_TIMER_ABSTIME 1

/* auxv tags */
enum {
    LX_AT_NULL = 0,
    LX_AT_IGNORE = 1,
    LX_AT_EXECFD = 2,
    LX_AT_PHDR = 3,
    LX_AT_PHENT = 4,
    LX_AT_PHNUM = 5,
    LX_AT_PAGESZ = 6,
    LX_AT_BASE = 7,
    LX_AT_FLAGS = 8,
    LX_AT_ENTRY = 9,
    LX_AT_UID = 11,
    LX_AT_EUID = 12,
    LX_AT_GID = 13,
    LX_AT_EGID = 14,
    LX_AT_PLATFORM = 15,
    LX_AT_HWCAP = 16,
    LX_AT_CLKTCK = 17,
    LX_AT_SECURE = 23,
    LX_AT_BASE_PLATFORM = 24,
    LX_AT_RANDOM = 25,
    LX_AT_HWCAP2 = 26,
    LX_AT_RSEQ_FEATURE_SIZE = 27,
    LX_AT_RSEQ_ALIGN = 28,
    LX_AT_EXECFN = 31,
    LX_AT_SYSINFO_EHDR = 33,
    LX_AT_MINSIGSTKSZ = 51,
};

/* files */
#define LX_AT_FDCWD        (-100)
#define LX_AT_EMPTY_PATH   0x1000
#define LX_O_ACCMODE       3
#define LX_O_RDONLY        0
#define LX_O_WRONLY        1
#define LX_O_RDWR          2
#define LX_O_CREAT         0100
#define LX_O_DIRECTORY_X86 0200000
#define LX_O_CLOEXEC       02000000
#define LX_S_IFMT          0170000
#define LX_S_IFIFO         0010000
#define LX_S_IFCHR         0020000
#define LX_S_IFDIR         0040000
#define LX_S_IFREG         0100000
#define LX_S_IFLNK         0120000
#define LX_SEEK_SET        0
#define LX_SEEK_CUR        1
#define LX_SEEK_END        2
#define LX_TCGETS          0x5401

/* What stat(2) reports, before the arch lays it out as its struct stat. */
struct lx_kstat {
    uint64_t dev, ino, nlink, rdev, size, blocks;
    uint32_t mode, uid, gid, blksize;
    int64_t atime_sec, mtime_sec, ctime_sec;
    uint32_t atime_nsec, mtime_nsec, ctime_nsec;
};

/* rlimits */
enum { LX_RLIMIT_STACK = 3, LX_RLIMIT_NOFILE = 7, LX_RLIM_NLIMITS = 16 };
#define LX_RLIM_INFINITY (~0ULL)

/* wait */
#define LX_WNOHANG   1
#define LX_WUNTRACED 2
#define LX_WEXITED   4
#define LX_WALL      0x40000000
#define LX_WCLONE    0x80000000
#define LX_P_ALL     0
#define LX_P_PID     1

/* misc */
#define LX_ARCH_SET_GS   0x1001
#define LX_ARCH_SET_FS   0x1002
#define LX_ARCH_GET_FS   0x1003
#define LX_ARCH_GET_GS   0x1004
#define LX_GRND_NONBLOCK 1
#define LX_GRND_RANDOM   2
#define LX_GRND_INSECURE 4
#define LX_PAGE_SIZE     4096ULL

#endif
