/* Uses memory as a leaking program does.
 *   mem_hog touch TOTAL_MIB CHUNK_MIB   maps CHUNK_MIB at a time and writes every page, until
 *                                       TOTAL_MIB are in use; prints each chunk it filled
 *   mem_hog map SIZE_MIB                one private writable mapping of SIZE_MIB: its errno
 * Exits 0 when it got everything it asked for. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MIB (1UL << 20)

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "touch")) {
        unsigned long total = strtoul(argv[2], NULL, 0), chunk = strtoul(argv[3], NULL, 0);
        for (unsigned long used = 0; used < total; used += chunk) {
            char *p =
                mmap(NULL, chunk * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) {
                printf("mmap after %lu MiB: %s\n", used, strerror(errno));
                return 1;
            }
            for (unsigned long off = 0; off < chunk * MIB; off += 4096)
                p[off] = 1;
            printf("%lu MiB in use\n", used + chunk);
            fflush(stdout);
        }
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "map")) {
        unsigned long size = strtoul(argv[2], NULL, 0);
        void *p =
            mmap(NULL, size * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        printf("mmap of %lu MiB: %s\n", size, p == MAP_FAILED ? strerror(errno) : "mapped");
        return p == MAP_FAILED;
    }
    fprintf(stderr, "usage: mem_hog touch TOTAL_MIB CHUNK_MIB | map SIZE_MIB\n");
    return 2;
}
