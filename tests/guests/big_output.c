/* Writes exactly 1 MiB of a known pattern to stdout, in writes of varying sizes, and a
 * shorter pattern to stderr, so a test can check that every byte passes through unchanged. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define STDOUT_BYTES (1 << 20)
#define STDERR_BYTES 100000

/* Byte i of either stream: every value 0..255 appears, including NUL and newline. */
static unsigned char pattern(unsigned long i) { return (unsigned char)((i * 7 + (i >> 8)) & 0xff); }

static int emit(int fd, unsigned long total)
{
    static unsigned char buf[65536];
    unsigned long done = 0, chunk = 1;
    while (done < total) {
        unsigned long n = chunk;
        if (n > total - done)
            n = total - done;
        for (unsigned long i = 0; i < n; i++)
            buf[i] = pattern(done + i);
        unsigned long off = 0;
        while (off < n) {
            ssize_t w = write(fd, buf + off, n - off);
            if (w <= 0)
                return 1;
            off += (unsigned long)w;
        }
        done += n;
        chunk = chunk * 3 % 65521 + 1; /* sizes from 1 byte to 64 KiB */
    }
    return 0;
}

int main(void)
{
    if (emit(1, STDOUT_BYTES) || emit(2, STDERR_BYTES))
        return 1;
    return 0;
}
