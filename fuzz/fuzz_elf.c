/* The ELF loader (emu/loader.c) through the entry point `rseqemu run` uses: the input is the
 * program file, opened by program_open() as run opens it, then loaded and run on 2 vCPUs under
 * a small instruction and memory budget, so that every header field, the segment table (PT_LOAD,
 * PT_TLS, PT_INTERP, PT_GNU_STACK...), the section headers and the symbol table reach the loader,
 * the initial stack and the first instructions. Then the image's symbolization, which reports and
 * `cs` use, at the addresses the file names. A refusal must get a status README documents (65, 66,
 * 69); a run must not end with the machine failing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/program.h"
#include "emu/loader.h"
#include "harness.h"
#include "kernel-model/kernel.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    harness_init();
    return 0;
}

/* Symbolization and section lookups at the entry point and around it. */
static void symbolize(const uint8_t *data, size_t size)
{
    char err[256], buf[160];
    enum elf_open_error kind;
    struct elf_image *img = elf_image_open_mem(data, size, "input", &kind, err, sizeof(err));
    if (!img)
        return;
    uint64_t entry = 0;
    if (size >= 32)
        memcpy(&entry, data + 24, sizeof(entry)); /* e_entry */
    entry += elf_image_is_pie(img) ? elf_image_arch(img)->pie_base : 0;
    const uint64_t at[] = {entry, entry - 1, entry + 0x40, entry - 0x1000, 0, UINT64_MAX};
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        struct elf_section s;
        elf_image_symbolize(img, at[i], buf, sizeof(buf));
        elf_image_where(img, at[i], buf, sizeof(buf));
        elf_image_object(img, at[i], buf, sizeof(buf));
        elf_image_section_at(img, at[i], &s);
    }
    elf_image_symbol(img, "main");
    elf_image_close(img);
}

/* One machine per architecture, snapshotted before its first process: each input is spawned
 * on it after a restore, since building a machine costs far more than a short run. */
static struct kernel *machine(const struct arch_desc *arch)
{
    static struct kernel *machines[ARCH_COUNT];
    static FILE *diag;
    if (machines[arch->id])
        return machines[arch->id];
    if (!diag && !(diag = fopen("/dev/null", "w")))
        harness_fail("fuzz_elf: cannot open /dev/null");
    struct kernel_config cfg;
    kernel_config_defaults(&cfg);
    cfg.arch = arch;
    cfg.ncpus = 2;
    cfg.max_insns = 5000;
    cfg.max_mem = 64ULL << 20;
    cfg.diag = diag;
    cfg.quiet = true;
    char err[512];
    struct kernel *k = kernel_create(&cfg, err, sizeof(err));
    if (!k)
        harness_fail("fuzz_elf: cannot build the machine: %s", err);
    kernel_snapshot_take(k);
    return machines[arch->id] = k;
}

/* kernel_spawn's refusals (the program does not fit the machine) are the guest's to have. */
static void run(struct elf_image *img, const char *path)
{
    struct kernel *k = machine(elf_image_arch(img));
    kernel_snapshot_restore(k);
    char err[512];
    const char *const argv[] = {path, NULL};
    if (kernel_spawn(k, img, argv, err, sizeof(err)) == 0) {
        struct kernel_result res;
        kernel_run(k, &res);
        if (res.outcome == KERNEL_ERROR || res.outcome == KERNEL_BAD_SCHEDULE ||
            res.outcome == KERNEL_PAUSED)
            harness_fail("fuzz_elf: the machine failed (outcome %d): %s", res.outcome, res.message);
        if (getenv("FUZZ_ELF_DIGEST"))
            fprintf(harness_err(), "outcome %d status %d insns %llu digest %016llx\n", res.outcome,
                    res.status, (unsigned long long)res.insns, (unsigned long long)res.digest);
    }
    kernel_snapshot_restore(k); /* the image goes now: nothing may point to it */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = harness_input_file(data, size);
    int status;
    struct elf_image *img = program_open(path, &status);
    if (!img) {
        if (status != 65 && status != 66 && status != 69)
            harness_fail("fuzz_elf: a refused program gets status %d", status);
        return 0;
    }
    run(img, path);
    elf_image_close(img);
    symbolize(data, size);
    return 0;
}
