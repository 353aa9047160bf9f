/* `rseqemu timeline`'s reader of --trace-json files (cli/timeline_read.c) and the SVG it draws
 * from what it read (cli/timeline_svg.c), whole and zoomed. A trace it refuses must say why. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/timeline.h"
#include "emu/hash.h"
#include "harness.h"

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    harness_init();
    devnull = fopen("/dev/null", "w");
    if (!devnull)
        harness_fail("cannot open /dev/null");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *in = fmemopen((void *)data, size, "r");
    if (!in)
        return 0; /* fmemopen refuses an empty buffer */
    struct timeline tl;
    char err[256] = "";
    int rc = timeline_read(&tl, in, err, sizeof(err));
    fclose(in);
    if (rc != 0 && !err[0])
        harness_fail("fuzz_timeline: a trace refused without a reason");
    if (rc == 0) {
        /* The whole run as `timeline` draws it by default, then a window and a width the
         * input decides (--from, --to in whole microseconds, --width 200..100000). */
        struct timeline_view whole = {.width = 1400};
        timeline_svg(&tl, &whole, devnull);
        struct hash64 h = HASH64_INIT;
        hash64_bytes(&h, data, size);
        uint64_t end_us = tl.end_ns / 1000 + 1;
        uint64_t from_us = (h.h & 0xffff) * end_us / 0x10000;
        uint64_t to_us = from_us + 1 + (h.h >> 16 & 0xffff) * end_us / 0x10000;
        struct timeline_view zoom = {.from_ns = from_us * 1000,
                                     .to_ns = to_us * 1000,
                                     .width = 200 + (int)(h.h >> 32 & 0x7ff)};
        timeline_svg(&tl, &zoom, devnull);
    }
    timeline_free(&tl);
    return 0;
}
