#include "harness.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static FILE *err_stream;

const char *harness_input_file(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz-input", MFD_CLOEXEC);
        if (fd < 0)
            harness_fail("memfd_create failed");
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        harness_fail("cannot write the input file");
    return path;
}

void harness_init(void)
{
    if (err_stream)
        return;
    int fd = dup(STDERR_FILENO);
    err_stream = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (err_stream)
        setvbuf(err_stream, NULL, _IOLBF, 0);
}

FILE *harness_err(void) { return err_stream ? err_stream : stderr; }

void harness_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(harness_err(), fmt, ap);
    va_end(ap);
    fputc('\n', harness_err());
    fflush(harness_err());
    abort();
}
