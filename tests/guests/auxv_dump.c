/* The initial process state as a static glibc program sees it (spec 7.8, 1.6): selected
 * getauxval() values, and where the argument, environment and file name strings lie.
 * One "key value" line each; test_initial_stack compares them. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#ifndef AT_RSEQ_FEATURE_SIZE
#define AT_RSEQ_FEATURE_SIZE 27
#endif
#ifndef AT_RSEQ_ALIGN
#define AT_RSEQ_ALIGN 28
#endif
#ifndef AT_MINSIGSTKSZ
#define AT_MINSIGSTKSZ 51
#endif

extern char **environ;
extern void _start(void);

static void aux(const char *name, unsigned long type)
{
    errno = 0;
    unsigned long v = getauxval(type);
    if (v == 0 && errno == ENOENT)
        printf("%s absent\n", name);
    else
        printf("%s %lu\n", name, v);
}

static const char *yes(int c) { return c ? "yes" : "no"; }

int main(int argc, char **argv)
{
    aux("AT_PAGESZ", AT_PAGESZ);
    aux("AT_PHENT", AT_PHENT);
    aux("AT_RSEQ_FEATURE_SIZE", AT_RSEQ_FEATURE_SIZE);
    aux("AT_RSEQ_ALIGN", AT_RSEQ_ALIGN);
    aux("AT_MINSIGSTKSZ", AT_MINSIGSTKSZ);
    aux("AT_SECURE", AT_SECURE);
    aux("AT_BASE", AT_BASE);
    const char *platform = (const char *)getauxval(AT_PLATFORM);
    const char *execfn = (const char *)getauxval(AT_EXECFN);
    printf("AT_PLATFORM %s\n", platform ? platform : "(null)");
    printf("AT_EXECFN %s\n", execfn ? execfn : "(null)");
    printf("AT_ENTRY is _start: %s\n", yes(getauxval(AT_ENTRY) == (uintptr_t)&_start));
    printf("argc %d\n", argc);

    /* fs/exec.c copies the strings so that each follows the previous one: argv[0] lowest, then
     * the rest of argv, then envp, then the file name. */
    int ascending = 1, contiguous = 1;
    const char *prev = NULL;
    for (int i = 0; i < argc; i++) {
        if (prev && (uintptr_t)argv[i] <= (uintptr_t)prev)
            ascending = 0;
        if (prev && argv[i] != prev + strlen(prev) + 1)
            contiguous = 0;
        prev = argv[i];
    }
    printf("argv ascending: %s\n", yes(ascending));
    printf("argv contiguous: %s\n", yes(contiguous));
    int env_after = 1;
    for (char **e = environ; *e; e++) {
        if (*e != prev + strlen(prev) + 1)
            env_after = 0;
        prev = *e;
    }
    printf("envp follows argv: %s\n", yes(env_after));
    printf("execfn follows envp: %s\n", yes(execfn == prev + strlen(prev) + 1));
    /* A NULL word, then the top of the stack, right after the file name. */
    const char *end = execfn + strlen(execfn) + 1;
    static const char zero[8];
    printf("null word after execfn: %s\n", yes(memcmp(end, zero, 8) == 0));
    printf("stack top after it: %s\n", yes(((uintptr_t)end + 8) % 4096 == 0));
    /* create_elf_tables: the platform string below the argument strings, AT_RANDOM below it. */
    const char *random = (const char *)getauxval(AT_RANDOM);
    printf("platform below argv: %s\n",
           yes((uintptr_t)platform + strlen(platform) < (uintptr_t)argv[0]));
    printf("random below platform: %s\n", yes((uintptr_t)random + 16 <= (uintptr_t)platform));
    return 0;
}
