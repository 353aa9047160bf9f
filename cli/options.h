/* A small table-driven parser for long options: each subcommand lists its options as data. */
#ifndef RSEQEMU_CLI_OPTIONS_H
#define RSEQEMU_CLI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum opt_kind {
    OPT_FLAG,   /* bool */
    OPT_U64,    /* uint64_t, decimal or 0x-hex */
    OPT_STRING, /* const char * */
    OPT_LIST,   /* struct opt_list: repeatable string */
};

#define OPT_LIST_MAX 64
struct opt_list {
    const char *items[OPT_LIST_MAX + 1]; /* NULL-terminated */
    int count;
};

struct opt {
    const char *name; /* without the leading "--" */
    enum opt_kind kind;
    void *dest;
    const char *arg; /* the argument's name in help, NULL for flags */
    const char *help;
};

/* Parses argv[1..] up to "--" or the first non-option. Returns the index of the first
 * positional argument, or -1 after printing a one-line error to stderr. --help sets *help. */
int opt_parse(const char *cmd, const struct opt *opts, size_t n, int argc, char **argv, bool *help);
void opt_print_help(const char *synopsis, const struct opt *opts, size_t n);

#endif
