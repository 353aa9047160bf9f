/* Syscalls whose results the model decides: interval timers on virtual time, waiting for
 * signals, identity, limits, randomness and the few files the guest has. Prints one line per
 * check. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* "rc errno-name", with the call made before errno is read. */
static const char *result(long rc)
{
    static char buf[64];
    snprintf(buf, sizeof(buf), "%ld %s", rc, rc < 0 ? strerrorname_np(errno) : "ok");
    return buf;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static volatile int alarms;
static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

static void timers(void)
{
    signal(SIGALRM, on_alarm);
    uint64_t t0 = now_ns();
    alarm(1);
    pause();
    uint64_t dt = now_ns() - t0;
    printf("alarm(1): one SIGALRM after %s\n", dt >= 1000000000 && dt < 1001000000 ? "1s" : "?");
    struct itimerval it = {{0, 10000}, {0, 10000}};
    setitimer(ITIMER_REAL, &it, NULL);
    while (alarms < 4)
        pause();
    struct itimerval off = {{0, 0}, {0, 0}}, old;
    setitimer(ITIMER_REAL, &off, &old);
    printf("setitimer 10ms: %d alarms, interval read back %ld us\n", alarms,
           (long)old.it_interval.tv_usec);
}

static void waiting(void)
{
    sigset_t block, pending;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, NULL);
    raise(SIGUSR1);
    siginfo_t si;
    int sig = sigwaitinfo(&block, &si);
    printf("sigwaitinfo: %s, si_code %d, si_pid is ours %s\n", strsignal(sig), si.si_code,
           si.si_pid == getpid() ? "yes" : "no");
    struct timespec ts = {0, 1000000};
    printf("sigtimedwait timeout: %s\n", result(sigtimedwait(&block, &si, &ts)));
    sigpending(&pending);
    printf("nothing pending: %s\n", sigismember(&pending, SIGUSR1) ? "no" : "yes");
    /* sigsuspend: the signal arrives from a timer while suspended, with the temporary mask. */
    signal(SIGALRM, on_alarm);
    sigaddset(&block, SIGALRM);
    sigprocmask(SIG_BLOCK, &block, NULL);
    struct itimerval it = {{0, 0}, {0, 5000}};
    setitimer(ITIMER_REAL, &it, NULL);
    sigset_t during;
    sigfillset(&during);
    sigdelset(&during, SIGALRM);
    int before = alarms;
    const char *rc = result(sigsuspend(&during));
    sigset_t after;
    sigprocmask(SIG_SETMASK, NULL, &after);
    printf("sigsuspend: %s, handler ran %d, mask restored %s\n", rc, alarms - before,
           sigismember(&after, SIGALRM) && !sigismember(&after, SIGTERM) ? "yes" : "no");
}

static void identity(void)
{
    struct utsname u;
    uname(&u);
    printf("uname: %s %s %s\n", u.sysname, u.nodename, u.machine);
    printf("ids: uid %d gid %d pid %s tid==pid %s ppid %d\n", getuid(), getgid(),
           getpid() >= 100 ? ">=100" : "?", gettid() == getpid() ? "yes" : "no", getppid());
    struct rlimit rl;
    getrlimit(RLIMIT_STACK, &rl);
    printf("stack limit %lu MiB, hard %s\n", (unsigned long)(rl.rlim_cur >> 20),
           rl.rlim_max == RLIM_INFINITY ? "unlimited" : "limited");
    rl.rlim_max = 1 << 20;
    rl.rlim_cur = 1 << 20;
    printf("lowering: %s\n", result(setrlimit(RLIMIT_STACK, &rl)));
    rl.rlim_max = RLIM_INFINITY;
    printf("raising the hard limit again: %s\n", result(setrlimit(RLIMIT_STACK, &rl)));
    printf("sched_getscheduler: %d\n", sched_getscheduler(0));
}

static void randomness(void)
{
    unsigned char a[16], b[16];
    getrandom(a, sizeof(a), 0);
    getrandom(b, sizeof(b), GRND_NONBLOCK);
    printf("getrandom: two draws differ %s\n", memcmp(a, b, sizeof(a)) ? "yes" : "no");
    printf("getrandom bad flags: %s\n", result(syscall(SYS_getrandom, a, 4, 0x100)));
    for (int i = 0; i < 4; i++)
        printf("%02x", a[i]);
    printf("\n");
}

static void files(void)
{
    char buf[256];
    int fd = open("/sys/devices/system/cpu/online", O_RDONLY);
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    printf("cpu online: %s", buf);
    printf("lseek to 1: %ld, ", (long)lseek(fd, 1, SEEK_SET));
    n = read(fd, buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    printf("then: %s", buf);
    close(fd);
    printf("open a host file: %s\n", result(open("/etc/passwd", O_RDONLY)));
    printf("create a file: %s\n", result(open("/tmp/x", O_WRONLY | O_CREAT, 0600)));
    printf("write to a cpu file: %s\n", result(open("/sys/devices/system/cpu/online", O_WRONLY)));
    fd = open("/dev/null", O_RDWR);
    printf("/dev/null: write %ld read %ld\n", (long)write(fd, "abc", 3), (long)read(fd, buf, 3));
    close(fd);
    n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    printf("/proc/self/exe is absolute: %s\n", buf[0] == '/' ? "yes" : "no");
    FILE *maps = fopen("/proc/self/maps", "r");
    int stack = 0, lines = 0;
    while (maps && fgets(buf, sizeof(buf), maps)) {
        lines++;
        stack |= strstr(buf, "[stack]") != NULL;
    }
    printf("/proc/self/maps lists the stack: %s\n", stack && lines > 3 ? "yes" : "no");
    struct stat st;
    fstat(1, &st);
    printf("stdout is a pipe: %s, isatty %d\n", S_ISFIFO(st.st_mode) ? "yes" : "no", isatty(1));
    printf("close(99): %s\n", result(close(99)));
    char cwd[64];
    printf("cwd: %s\n", getcwd(cwd, sizeof(cwd)));
}

/* Where the guest sees its program: /proc/self/exe's target. */
static void exe(void)
{
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    printf("/proc/self/exe: %s\n", buf);
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "";
    if (!strcmp(what, "timers"))
        timers();
    else if (!strcmp(what, "waiting"))
        waiting();
    else if (!strcmp(what, "identity"))
        identity();
    else if (!strcmp(what, "random"))
        randomness();
    else if (!strcmp(what, "files"))
        files();
    else if (!strcmp(what, "exe"))
        exe();
    else
        return 2;
    return 0;
}
