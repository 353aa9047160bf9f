#include "options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool parse_u64(const char *s, uint64_t *out)
{
    if (!*s || *s == '-')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static const struct opt *find(const struct opt *opts, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(opts[i].name) == len && !strncmp(opts[i].name, name, len))
            return &opts[i];
    return NULL;
}

int opt_parse(const char *cmd, const struct opt *opts, size_t n, int argc, char **argv, bool *help)
{
    *help = false;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--"))
            return i + 1;
        /* A one-letter option ("-o") is an opt whose name is that letter. */
        bool short_opt = a[0] == '-' && a[1] && a[1] != '-' && !a[2];
        if (a[0] != '-' || (a[1] != '-' && !short_opt))
            return i;
        if (!strcmp(a, "--help")) {
            *help = true;
            return i;
        }
        const char *name = a + (short_opt ? 1 : 2), *eq = short_opt ? NULL : strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const struct opt *o = find(opts, n, name, len);
        if (!o) {
            fprintf(stderr, "rseqemu %s: unknown option '%s' (see rseqemu %s --help)\n", cmd, a,
                    cmd);
            return -1;
        }
        if (o->kind == OPT_FLAG) {
            if (eq) {
                fprintf(stderr, "rseqemu %s: --%s takes no value\n", cmd, o->name);
                return -1;
            }
            *(bool *)o->dest = true;
            continue;
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val) {
            fprintf(stderr, "rseqemu %s: --%s needs %s\n", cmd, o->name, o->arg);
            return -1;
        }
        switch (o->kind) {
        case OPT_U64:
            if (!parse_u64(val, o->dest)) {
                fprintf(stderr, "rseqemu %s: --%s: '%s' is not a number\n", cmd, o->name, val);
                return -1;
            }
            break;
        case OPT_STRING:
            *(const char **)o->dest = val;
            break;
        case OPT_LIST: {
            struct opt_list *l = o->dest;
            if (l->count == OPT_LIST_MAX) {
                fprintf(stderr, "rseqemu %s: more than %d --%s options\n", cmd, OPT_LIST_MAX,
                        o->name);
                return -1;
            }
            l->items[l->count++] = val;
            l->items[l->count] = NULL;
            break;
        }
        default:
            break;
        }
    }
    return i;
}

void opt_print_help(const char *synopsis, const struct opt *opts, size_t n)
{
    printf("%s\n\noptions:\n", synopsis);
    for (size_t i = 0; i < n; i++) {
        char left[64];
        snprintf(left, sizeof(left), "%s%s%s%s", opts[i].name[1] ? "--" : "-", opts[i].name,
                 opts[i].arg ? " " : "", opts[i].arg ? opts[i].arg : "");
        printf("  %-24s %s\n", left, opts[i].help);
    }
    printf("  %-24s %s\n", "--help", "this text");
}
