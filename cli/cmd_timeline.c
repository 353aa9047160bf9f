/* rseqemu timeline: draw a run's --trace-json as an SVG, a lane per vCPU. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "exit_codes.h"
#include "options.h"
#include "timeline.h"

int cmd_timeline(int argc, char **argv)
{
    struct {
        const char *output;
        uint64_t from_us, to_us, width;
    } o = {.width = 1400};
    const struct opt opts[] = {
        {"o", OPT_STRING, &o.output, "FILE.svg", "where the drawing goes (required)"},
        {"from", OPT_U64, &o.from_us, "US", "start at this virtual time, in microseconds"},
        {"to", OPT_U64, &o.to_us, "US", "end at this virtual time (default: the run's end)"},
        {"width", OPT_U64, &o.width, "PX", "width of the drawing (default 1400)"},
    };
    const size_t nopts = sizeof(opts) / sizeof(opts[0]);
    const char *synopsis = "usage: rseqemu timeline TRACE -o FILE.svg [options]\n"
                           "TRACE is a file written by run or replay --trace-json.";
    /* Options may come before and after TRACE. */
    const char *trace = NULL;
    bool help;
    int i = 0;
    while (i < argc) {
        int first = opt_parse("timeline", opts, nopts, argc - i, argv + i, &help);
        if (help) {
            opt_print_help(synopsis, opts, nopts);
            return 0;
        }
        if (first < 0)
            return EXIT_USAGE;
        i += first;
        if (i >= argc)
            break;
        if (trace) {
            fprintf(stderr, "rseqemu timeline: one trace at a time ('%s' and '%s')\n", trace,
                    argv[i]);
            return EXIT_USAGE;
        }
        trace = argv[i];
    }
    if (!trace || !o.output) {
        fprintf(stderr, "rseqemu timeline: %s\n%s\n",
                trace ? "-o FILE.svg is required" : "no trace given", synopsis);
        return EXIT_USAGE;
    }
    if (o.width < 200 || o.width > 100000) {
        fprintf(stderr, "rseqemu timeline: --width must be between 200 and 100000\n");
        return EXIT_USAGE;
    }
    if (o.to_us && o.to_us <= o.from_us) {
        fprintf(stderr, "rseqemu timeline: --to must be after --from\n");
        return EXIT_USAGE;
    }
    FILE *in = fopen(trace, "r");
    if (!in) {
        fprintf(stderr, "rseqemu timeline: %s: %s\n", trace, strerror(errno));
        return EXIT_NO_INPUT;
    }
    struct timeline tl;
    char err[256];
    int rc = timeline_read(&tl, in, err, sizeof(err));
    fclose(in);
    if (rc != 0) {
        fprintf(stderr, "rseqemu timeline: %s: %s\n", trace, err);
        timeline_free(&tl);
        return EXIT_BAD_INPUT;
    }
    FILE *out = fopen(o.output, "w");
    if (!out) {
        fprintf(stderr, "rseqemu timeline: %s: %s\n", o.output, strerror(errno));
        timeline_free(&tl);
        return EXIT_NO_INPUT;
    }
    struct timeline_view v = {
        .from_ns = o.from_us * 1000, .to_ns = o.to_us * 1000, .width = (int)o.width};
    timeline_svg(&tl, &v, out);
    timeline_free(&tl);
    if ((ferror(out) | fclose(out)) != 0) {
        fprintf(stderr, "rseqemu timeline: %s: %s\n", o.output, strerror(errno));
        return EXIT_INTERNAL;
    }
    return 0;
}
