/* Raw Linux system calls for guest programs, without libc: the instruction, the registers,
 * and the numbers of the calls guest programs here make. Results are -errno on failure. */
#ifndef RSEQEMU_GUEST_SYSCALL_H
#define RSEQEMU_GUEST_SYSCALL_H

#if defined(__x86_64__)

#define GSYS_read              0
#define GSYS_write             1
#define GSYS_close             3
#define GSYS_mmap              9
#define GSYS_mprotect          10
#define GSYS_munmap            11
#define GSYS_rt_sigaction      13
#define GSYS_rt_sigprocmask    14
#define GSYS_rt_sigreturn      15
#define GSYS_sched_yield       24
#define GSYS_nanosleep         35
#define GSYS_getpid            39
#define GSYS_clone             56
#define GSYS_fork              57
#define GSYS_execve            59
#define GSYS_exit              60
#define GSYS_wait4             61
#define GSYS_kill              62
#define GSYS_gettid            186
#define GSYS_futex             202
#define GSYS_sched_setaffinity 203
#define GSYS_sched_getaffinity 204
#define GSYS_exit_group        231
#define GSYS_tgkill            234
#define GSYS_getcpu            309
#define GSYS_membarrier        324
#define GSYS_rseq              334

static inline long gsyscall6(long n, long a, long b, long c, long d, long e, long f)
{
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    long ret;
    __asm__ __volatile__("syscall"
                         : "=a"(ret)
                         : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                         : "rcx", "r11", "memory");
    return ret;
}

#elif defined(__aarch64__)

#define GSYS_read              63
#define GSYS_write             64
#define GSYS_close             57
#define GSYS_mmap              222
#define GSYS_mprotect          226
#define GSYS_munmap            215
#define GSYS_rt_sigaction      134
#define GSYS_rt_sigprocmask    135
#define GSYS_rt_sigreturn      139
#define GSYS_sched_yield       124
#define GSYS_nanosleep         101
#define GSYS_getpid            172
#define GSYS_clone             220
#define GSYS_execve            221
#define GSYS_exit              93
#define GSYS_wait4             260
#define GSYS_kill              129
#define GSYS_gettid            178
#define GSYS_futex             98
#define GSYS_sched_setaffinity 122
#define GSYS_sched_getaffinity 123
#define GSYS_exit_group        94
#define GSYS_tgkill            131
#define GSYS_getcpu            168
#define GSYS_membarrier        283
#define GSYS_rseq              293

static inline long gsyscall6(long n, long a, long b, long c, long d, long e, long f)
{
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ __volatile__("svc #0"
                         : "+r"(x0)
                         : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                         : "memory");
    return x0;
}

#else
#error "guest programs are built for x86-64 or aarch64"
#endif

#define gsyscall0(n)             gsyscall6((n), 0, 0, 0, 0, 0, 0)
#define gsyscall1(n, a)          gsyscall6((n), (long)(a), 0, 0, 0, 0, 0)
#define gsyscall2(n, a, b)       gsyscall6((n), (long)(a), (long)(b), 0, 0, 0, 0)
#define gsyscall3(n, a, b, c)    gsyscall6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define gsyscall4(n, a, b, c, d) gsyscall6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

#endif
