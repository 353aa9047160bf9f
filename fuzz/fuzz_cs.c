/* `rseqemu cs` (cli/cmd_cs.c over kernel-model/rseq_decl.c and rseq_decl_check.c): the whole
 * command on the input as the program file, which it reads as ELF (its sections, symbols,
 * __rseq_cs and __rseq_cs_ptr_array), lists and checks; the listing goes where stdout does
 * (scripts/fuzz closes it). Its exit status must be one README documents for it. */
#include <stdio.h>

#include "cli/commands.h"
#include "harness.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    harness_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = harness_input_file(data, size);
    char *argv[] = {"cs", (char *)path, NULL};
    int status = cmd_cs(2, argv);
    fflush(stdout);
    if (status != 0 && status != 1 && status != 65 && status != 66 && status != 69)
        harness_fail("fuzz_cs: rseqemu cs exited %d", status);
    return 0;
}
