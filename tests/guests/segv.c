/* Dereferences a null pointer without a handler: rseqemu must report SIGSEGV and exit with
 * 128 + 11 = 139, as a shell would for a native run. */
#include <stdio.h>

int main(int argc, char **argv)
{
    (void)argv;
    printf("dereferencing NULL\n");
    fflush(stdout);
    /* The compiler cannot prove the pointer null, so the load is really made. */
    volatile int *volatile p = (int *)(long)(argc - 1);
    return *p;
}
