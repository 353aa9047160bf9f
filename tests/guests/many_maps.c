/* Many one-page mappings, as allocators and runtimes make them.
 *   many_maps N       maps N pages with alternating PROT_READ and PROT_READ|PROT_WRITE (so
 *                     that no two neighbours can merge), writes to each writable one, checks
 *                     them all, then unmaps them one by one.
 *   many_maps limit   maps pages until mmap fails, prints how many mappings the process then
 *                     has in all (with those it started with) and the errno, and unmaps
 *                     them all again.
 *   many_maps merge N maps N read-write pages one after the other: they merge into one.
 *   many_maps spread N maps one page in each of N gigabytes far apart, writes to each, and
 *                     prints how many it got and why the first refused one was refused.
 * Exits 0 when every check passed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096

/* The process's mappings: the lines of /proc/self/maps but [vsyscall], which is no VMA of
 * the process and does not count towards vm.max_map_count. */
static long count_maps(void)
{
    static char all[1 << 23];
    int fd = open("/proc/self/maps", O_RDONLY);
    if (fd < 0)
        return -1;
    size_t got = 0;
    ssize_t n;
    while (got < sizeof(all) - 1 && (n = read(fd, all + got, sizeof(all) - 1 - got)) > 0)
        got += (size_t)n;
    close(fd);
    all[got] = 0;
    long lines = 0;
    for (size_t i = 0; i < got; i++)
        lines += all[i] == '\n';
    return strstr(all, "[vsyscall]") ? lines - 1 : lines;
}

static int prot_of(long i) { return i % 2 ? PROT_READ : PROT_READ | PROT_WRITE; }

static int run_n(long n)
{
    char **pages = malloc(sizeof(*pages) * (size_t)n);
    if (!pages)
        return 2;
    for (long i = 0; i < n; i++) {
        pages[i] = mmap(NULL, PAGE, prot_of(i), MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (pages[i] == MAP_FAILED) {
            printf("mmap %ld failed: %s\n", i, strerror(errno));
            return 1;
        }
        if (prot_of(i) & PROT_WRITE)
            pages[i][i % PAGE] = (char)(i | 1);
    }
    for (long i = 0; i < n; i++) {
        char want = prot_of(i) & PROT_WRITE ? (char)(i | 1) : 0;
        if (pages[i][i % PAGE] != want) {
            printf("page %ld holds %d, not %d\n", i, pages[i][i % PAGE], want);
            return 1;
        }
    }
    for (long i = 0; i < n; i++) {
        if (munmap(pages[i], PAGE) != 0) {
            printf("munmap %ld failed: %s\n", i, strerror(errno));
            return 1;
        }
    }
    printf("mapped, checked and unmapped %ld pages\n", n);
    return 0;
}

static int run_limit(void)
{
    static char *pages[1 << 17];
    long before = count_maps(), n = 0;
    for (;; n++) {
        pages[n] = mmap(NULL, PAGE, prot_of(n), MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (pages[n] == MAP_FAILED) {
            printf("mapping %ld failed: %s\n", n + 1, strerror(errno));
            break;
        }
        if (n + 1 == (long)(sizeof(pages) / sizeof(pages[0])))
            return 1;
    }
    long all = count_maps();
    printf("started with %ld mappings, made %ld, %ld in all\n", before, n, all);
    for (long i = 0; i < n; i++) {
        if (munmap(pages[i], PAGE) != 0) {
            printf("munmap %ld failed: %s\n", i, strerror(errno));
            return 1;
        }
    }
    long after = count_maps();
    printf("unmapped them all: %ld mappings left\n", after);
    return all == before + n && after == before ? 0 : 1;
}

static int run_merge(long n)
{
    long before = count_maps();
    char *first = NULL;
    for (long i = 0; i < n; i++) {
        char *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return 1;
        p[0] = 1;
        if (first && p != first - PAGE) {
            printf("page %ld not placed below the one before\n", i);
            return 1;
        }
        first = p;
    }
    long after = count_maps();
    printf("%ld adjacent pages added %ld mappings\n", n, after - before);
    return after - before == 1 ? 0 : 1;
}

static int run_spread(long n)
{
    long got = 0;
    for (; got < n; got++) {
        char *want = (char *)(0x10000000000UL + ((unsigned long)got << 30));
        char *p = mmap(want, PAGE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (p == MAP_FAILED) {
            printf("mapping %ld failed: %s\n", got + 1, strerror(errno));
            break;
        }
        p[0] = 1;
    }
    printf("mapped %ld gigabytes apart\n", got);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "spread") == 0)
        return run_spread(atol(argv[2]));
    if (argc >= 2 && strcmp(argv[1], "limit") == 0)
        return run_limit();
    if (argc >= 3 && strcmp(argv[1], "merge") == 0)
        return run_merge(atol(argv[2]));
    if (argc >= 2)
        return run_n(atol(argv[1]));
    fprintf(stderr, "usage: many_maps N | limit | merge N | spread N\n");
    return 2;
}
