#include "program.h"

#include <stdio.h>

#include "emu/loader.h"
#include "exit_codes.h"

static const int status_of[] = {
    [ELF_OPEN_CANNOT_READ] = EXIT_NO_INPUT,
    [ELF_OPEN_MALFORMED] = EXIT_BAD_INPUT,
    [ELF_OPEN_UNSUPPORTED] = EXIT_UNSUPPORTED,
};

struct elf_image *program_open(const char *path, int *status)
{
    char err[512];
    enum elf_open_error kind;
    struct elf_image *img = elf_image_open(path, &kind, err, sizeof(err));
    if (!img) {
        fprintf(stderr, "rseqemu: %s: %s\n", path, err);
        *status = kind < sizeof(status_of) / sizeof(status_of[0]) && status_of[kind]
                      ? status_of[kind]
                      : EXIT_BAD_INPUT;
    }
    return img;
}
