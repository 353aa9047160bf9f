/* A static-PIE program (built with -static-pie, an ET_DYN file): prints where main runs, whether
 * that is above the PIE base region, whether its self-relocation worked, and its arguments.
 * test_loader compares the address with the loader's bias (spec 7.8, ET_DYN variant). */
#include <stdint.h>
#include <stdio.h>

/* A pointer in writable data: correct only after _dl_relocate_static_pie applied its
 * R_*_RELATIVE relocation with the load bias. */
static int (*volatile main_ptr)(int, char **);
static const char *volatile greeting = "hello from a static PIE";

int main(int argc, char **argv)
{
#if defined(__x86_64__)
    const uintptr_t pie_floor = 0x500000000000ULL;
#elif defined(__aarch64__)
    const uintptr_t pie_floor = 0xaaaa00000000ULL;
#else
#error "unsupported guest architecture"
#endif
    main_ptr = main;
    uintptr_t at = (uintptr_t)main_ptr;
    printf("%s\n", greeting);
    printf("main = %#lx\n", (unsigned long)at);
    printf("main above pie floor: %s\n", at >= pie_floor ? "yes" : "no");
    for (int i = 0; i < argc; i++)
        printf("argv[%d] = %s\n", i, argv[i]);
    return 0;
}
