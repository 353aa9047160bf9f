/* What a guest sees of CPU hotplug; the scenario is argv[1].
 *
 *   show                 the CPU counts, the sysfs CPU files, its affinity and CPU
 *   workers AFF...       one thread per AFF (a CPU list such as 2-3, or "any"), pinned to it;
 *                        after a barrier each spins and notes every CPU its rseq cpu_id names,
 *                        checking each against getcpu and the online file; then each prints
 *                        them with its affinity, and main shows the CPUs again
 *   membarrier CPU       membarrier's rseq fence aimed at CPU while another thread spins
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WORKERS_MAX 8
#define SPINS       1000000
#define SEEN_MAX    32

static void read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, cap - 1);
    if (fd >= 0)
        close(fd);
    buf[n > 0 ? n : 0] = '\0';
    char *nl = strchr(buf, '\n');
    if (nl)
        *nl = '\0';
}

/* "0-3,6" for a CPU set, as the kernel writes it. */
static void set_list(const cpu_set_t *s, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < CPU_SETSIZE && n + 16 < cap; i++) {
        if (!CPU_ISSET(i, s))
            continue;
        int j = i;
        while (j + 1 < CPU_SETSIZE && CPU_ISSET(j + 1, s))
            j++;
        n += (size_t)(j == i ? snprintf(buf + n, cap - n, "%s%d", n ? "," : "", i)
                             : snprintf(buf + n, cap - n, "%s%d-%d", n ? "," : "", i, j));
        i = j;
    }
}

static int parse_list(const char *text, cpu_set_t *s)
{
    CPU_ZERO(s);
    for (const char *p = text; *p;) {
        char *end;
        long lo = strtol(p, &end, 10), hi = lo;
        if (end == p)
            return -1;
        if (*end == '-')
            hi = strtol(end + 1, &end, 10);
        for (long c = lo; c <= hi; c++)
            CPU_SET((int)c, s);
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return -1;
    }
    return 0;
}

static void affinity_list(char *buf, size_t cap)
{
    cpu_set_t s;
    if (sched_getaffinity(0, sizeof(s), &s) != 0)
        snprintf(buf, cap, "error");
    else
        set_list(&s, buf, cap);
}

static void show(const char *when)
{
    char online[128], possible[128], present[128], offline[128], aff[128];
    read_file("/sys/devices/system/cpu/online", online, sizeof(online));
    read_file("/sys/devices/system/cpu/possible", possible, sizeof(possible));
    read_file("/sys/devices/system/cpu/present", present, sizeof(present));
    read_file("/sys/devices/system/cpu/offline", offline, sizeof(offline));
    affinity_list(aff, sizeof(aff));
    printf("%s: onln %ld conf %ld online %s possible %s present %s offline %s affinity %s\n", when,
           sysconf(_SC_NPROCESSORS_ONLN), sysconf(_SC_NPROCESSORS_CONF), online, possible, present,
           offline[0] ? offline : "-", aff);
}

static int is_online(int cpu)
{
    char online[128];
    cpu_set_t s;
    read_file("/sys/devices/system/cpu/online", online, sizeof(online));
    return parse_list(online, &s) == 0 && CPU_ISSET(cpu, &s);
}

struct worker {
    pthread_t thread;
    const char *spec;
    int seen[SEEN_MAX], nseen;
    int getcpu_disagrees, offline_seen;
    int pin_errno; /* sched_setaffinity's, 0 if it pinned */
    char affinity[128];
};

static pthread_barrier_t start;

static void *work(void *arg)
{
    struct worker *w = arg;
    if (strcmp(w->spec, "any")) {
        cpu_set_t s;
        if (parse_list(w->spec, &s) != 0 || sched_setaffinity(0, sizeof(s), &s) != 0)
            w->pin_errno = errno;
    }
    pthread_barrier_wait(&start);
    int last = -1;
    for (int i = 0; i < SPINS; i++) {
        int cpu = sched_getcpu(); /* the rseq area's cpu_id */
        if (cpu == last)
            continue;
        last = cpu;
        if (w->nseen < SEEN_MAX)
            w->seen[w->nseen++] = cpu;
        unsigned int by_call;
        syscall(SYS_getcpu, &by_call, NULL, NULL);
        int online = is_online(cpu);
        /* The thread may have moved meanwhile; only a CPU it is still on must be online. */
        if (sched_getcpu() == cpu) {
            w->getcpu_disagrees += (int)by_call != cpu;
            w->offline_seen += !online;
        }
    }
    affinity_list(w->affinity, sizeof(w->affinity));
    return NULL;
}

static int workers(int n, char **specs)
{
    static struct worker w[WORKERS_MAX];
    if (n < 1 || n > WORKERS_MAX)
        return 2;
    show("start");
    fflush(stdout);
    pthread_barrier_init(&start, NULL, (unsigned)n);
    for (int i = 0; i < n; i++) {
        w[i].spec = specs[i];
        pthread_create(&w[i].thread, NULL, work, &w[i]);
    }
    for (int i = 0; i < n; i++)
        pthread_join(w[i].thread, NULL);
    for (int i = 0; i < n; i++) {
        printf("worker %d (%s): cpus", i, w[i].spec);
        for (int j = 0; j < w[i].nseen; j++)
            printf(" %d", w[i].seen[j]);
        printf(" | affinity %s | getcpu disagrees %d | offline cpu seen %d", w[i].affinity,
               w[i].getcpu_disagrees, w[i].offline_seen);
        printf(w[i].pin_errno ? " | pin: %s\n" : "\n", strerror(w[i].pin_errno));
    }
    show("end");
    return 0;
}

static volatile int spinning, stop;

static void *spinner(void *arg)
{
    (void)arg;
    spinning = 1;
    while (!stop)
        ;
    return NULL;
}

static int fence(int cpu)
{
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0) != 0) {
        perror("membarrier register");
        return 1;
    }
    pthread_t t;
    pthread_create(&t, NULL, spinner, NULL);
    while (!spinning)
        ;
    long ret = syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ,
                       MEMBARRIER_CMD_FLAG_CPU, cpu);
    printf("membarrier rseq cpu %d: %ld\n", cpu, ret);
    stop = 1;
    pthread_join(t, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    const char *s = argc > 1 ? argv[1] : "";
    if (!strcmp(s, "show")) {
        show("show");
        printf("cpu %d\n", sched_getcpu());
        return 0;
    }
    if (!strcmp(s, "workers"))
        return workers(argc - 2, argv + 2);
    if (!strcmp(s, "membarrier") && argc > 2)
        return fence(atoi(argv[2]));
    fprintf(stderr, "usage: hotplug_probe show | workers AFF... | membarrier CPU\n");
    return 2;
}
