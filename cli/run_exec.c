/* One run: load, spawn, run, report; and the header of its recording. */
#include "run_exec.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "crash_handler.h"
#include "emu/loader.h"
#include "exit_codes.h"
#include "kernel-model/schedule.h"
#include "kernel-model/trace.h"
#include "program.h"

static int exit_for_result(const struct kernel_result *r)
{
    switch (r->outcome) {
    case KERNEL_EXITED:
        return r->status;
    case KERNEL_SIGNALED:
        return 128 + r->status;
    case KERNEL_DEADLOCK:
        return EXIT_DEADLOCK;
    case KERNEL_RUNAWAY:
        return EXIT_RUNAWAY;
    case KERNEL_BAD_SCHEDULE:
        return EXIT_BAD_INPUT;
    default:
        return EXIT_INTERNAL;
    }
}

/* The header a replay needs: the program, its hash, and every option that shapes the run. */
static void write_record_header(FILE *out, const struct run_exec *r, uint64_t hash)
{
    struct schedule s = {.version =
                             schedule_version_for(r->cfg.policy, r->cfg.script, r->cfg.nscript),
                         .program = (char *)r->prog,
                         .has_hash = true,
                         .program_hash = hash,
                         .argv = (char **)r->argv,
                         .envp = (char **)r->cfg.envp,
                         .cpus = r->cfg.ncpus,
                         .offline = r->cfg.offline,
                         .nodes = r->cfg.nodes,
                         .seed = r->cfg.seed,
                         .max_insns = r->cfg.max_insns,
                         .max_mem = r->cfg.max_mem,
                         .cs_inject_span = r->cfg.cs_inject_span,
                         .kernel = r->cfg.profile,
                         .rseq_debug = r->cfg.rseq_debug,
                         .cpu_opv_nr = r->cfg.cpu_opv_nr,
                         .policy = r->cfg.policy,
                         .pct_depth = r->cfg.pct_depth,
                         .pct_steps = r->cfg.pct_steps,
                         .fill = FILL_NONE};
    snprintf(s.arch, sizeof(s.arch), "%s", r->cfg.arch->name);
    schedule_write_header(out, &s);
}

/* The trace's files: opened before the run, so a typo costs nothing. */
struct trace_files {
    struct trace *trace;
    FILE *json, *perfetto;
};

static FILE *open_output(const char *option, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        fprintf(stderr, "rseqemu: %s %s: %s\n", option, path, strerror(errno));
    return f;
}

static int trace_open(struct run_exec *r, struct trace_files *tf)
{
    *tf = (struct trace_files){0};
    if (!r->trace && !r->trace_json && !r->perfetto)
        return 0;
    if (r->trace_json && !(tf->json = open_output("--trace-json", r->trace_json)))
        return -1;
    if (r->perfetto && !(tf->perfetto = open_output("--perfetto", r->perfetto)))
        return -1;
    tf->trace = trace_create();
    if (r->trace)
        trace_add_output(tf->trace, TRACE_TEXT, stderr);
    if (tf->json)
        trace_add_output(tf->trace, TRACE_JSON, tf->json);
    if (tf->perfetto)
        trace_add_output(tf->trace, TRACE_PERFETTO, tf->perfetto);
    r->cfg.trace = tf->trace;
    return 0;
}

/* A trace that could not be written completely is an error: the user would read a wrong one. */
static int trace_close(struct run_exec *r, struct trace_files *tf, int code)
{
    trace_finish(tf->trace);
    const struct {
        FILE *f;
        const char *option, *path;
    } files[] = {{tf->json, "--trace-json", r->trace_json},
                 {tf->perfetto, "--perfetto", r->perfetto}};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        if (files[i].f && (ferror(files[i].f) | fclose(files[i].f)) != 0) {
            fprintf(stderr, "rseqemu: %s %s: %s\n", files[i].option, files[i].path,
                    strerror(errno));
            if (code == 0)
                code = EXIT_INTERNAL;
        }
    }
    trace_destroy(tf->trace);
    r->cfg.trace = NULL;
    return code;
}

int run_exec(struct run_exec *r)
{
    int status;
    struct elf_image *img = program_open(r->prog, &status);
    if (!img)
        return status;
    uint64_t hash = elf_image_hash(img);
    if (r->check_hash && hash != r->expected_hash) {
        fprintf(stderr,
                "rseqemu: %s: the program %s is not the one recorded (program-hash %016llx, "
                "now %016llx)\n",
                r->replaying, r->prog, (unsigned long long)r->expected_hash,
                (unsigned long long)hash);
        elf_image_close(img);
        return EXIT_BAD_INPUT;
    }
    r->cfg.arch = elf_image_arch(img);
    if (r->expected_arch && strcmp(r->expected_arch, r->cfg.arch->name)) {
        fprintf(stderr, "rseqemu: %s: recorded for %s, but %s is %s\n", r->replaying,
                r->expected_arch, r->prog, r->cfg.arch->name);
        elf_image_close(img);
        return EXIT_BAD_INPUT;
    }
    FILE *record = NULL;
    if (r->record) {
        record = fopen(r->record, "w");
        if (!record) {
            fprintf(stderr, "rseqemu: --record %s: %s\n", r->record, strerror(errno));
            elf_image_close(img);
            return EXIT_NO_INPUT;
        }
        write_record_header(record, r, hash);
        r->cfg.record = record;
    }
    int code;
    char err[512];
    struct kernel *k = NULL;
    struct trace_files tf;
    if (trace_open(r, &tf) != 0) {
        code = EXIT_NO_INPUT;
        goto out;
    }
    const char *crash_kind = NULL;
    unsigned long long crash_event = 0;
    int crash_env = crash_test_from_env(&crash_kind, &crash_event);
    if (crash_env < 0) {
        fprintf(stderr, "rseqemu: RSEQEMU_CRASH_TEST must be abort, segv or engine, with "
                        "an optional :EVENT number\n");
        code = EXIT_USAGE;
        goto out;
    }
    r->cfg.crash_test = crash_kind;
    r->cfg.crash_test_event = crash_event;
    crash_handler_note_record(r->record);
    k = kernel_create(&r->cfg, err, sizeof(err));
    if (!k) {
        fprintf(stderr, "rseqemu: %s\n", err);
        code = EXIT_INTERNAL;
        goto out;
    }
    int spawned = kernel_spawn(k, img, (const char *const *)r->argv, err, sizeof(err));
    if (spawned != 0) {
        fprintf(stderr, "rseqemu: %s: %s\n", r->prog, err);
        code = spawned == -2 ? EXIT_USAGE : EXIT_BAD_INPUT;
        goto out;
    }
    struct kernel_result res;
    kernel_run(k, &res);
    fflush(stdout);
    if (r->stats)
        kernel_print_stats(k, stderr);
    if (r->digest)
        fprintf(stderr, "digest: %016llx\n", (unsigned long long)res.digest);
    code = exit_for_result(&res);
    if (res.outcome != KERNEL_EXITED && !(r->quiet && res.outcome == KERNEL_SIGNALED))
        fprintf(stderr, "rseqemu: run with %s ended after %llu instructions%s%s\n", r->cmd,
                (unsigned long long)res.insns, record ? "; replay it with rseqemu replay " : "",
                record ? r->record : "");
out:
    kernel_destroy(k);
    code = trace_close(r, &tf, code);
    if (record && fclose(record) != 0) {
        fprintf(stderr, "rseqemu: --record %s: %s\n", r->record, strerror(errno));
        if (code == 0)
            code = EXIT_INTERNAL;
    }
    elf_image_close(img);
    return code;
}
