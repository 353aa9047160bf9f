/* rseqemu: a deterministic emulator for testing Linux restartable sequences. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "crash_handler.h"
#include "exit_codes.h"

static const char usage[] =
    "usage: rseqemu <command> [options]\n"
    "\n"
    "commands:\n"
    "  run [options] -- PROG [ARGS...]   run a static x86-64 or aarch64 program\n"
    "  replay [options] FILE             run a recorded or written schedule again\n"
    "  sweep [options] -- PROG [ARGS...] inject every event at every boundary of every\n"
    "                                    critical section; report what fails\n"
    "  timeline TRACE -o FILE.svg        draw a --trace-json file, a lane per vCPU\n"
    "  cs PROG                           list the rseq critical sections PROG declares\n"
    "\n"
    "rseqemu <command> --help describes a command's options.\n"
    "rseqemu --version prints the version.\n";

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
};

static const struct command commands[] = {
    {"run", cmd_run}, {"replay", cmd_replay},     {"sweep", cmd_sweep},
    {"cs", cmd_cs},   {"timeline", cmd_timeline},
};

int main(int argc, char **argv)
{
    crash_handler_install(argc, argv);
    if (argc < 2) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(usage, stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("rseqemu %s\n", RSEQEMU_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "rseqemu: unknown command '%s'\n%s", argv[1], usage);
    return EXIT_USAGE;
}
