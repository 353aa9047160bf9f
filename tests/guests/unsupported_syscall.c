/* Calls a system call rseqemu does not model (io_setup) twice. Each call must fail with ENOSYS,
 * as on a kernel built without it, and rseqemu must name the syscall on stderr once. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
    for (int i = 1; i <= 2; i++) {
        unsigned long ctx = 0;
        errno = 0;
        long r = syscall(SYS_io_setup, 8, &ctx);
        int e = errno;
        printf("io_setup call %d: returned %ld, errno %d (%s)\n", i, r, e,
               e == ENOSYS ? "ENOSYS" : strerror(e));
    }
    return 0;
}
