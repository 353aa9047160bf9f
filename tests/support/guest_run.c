#include "guest_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "emu/loader.h"
#include "kernel-model/schedule.h"

const char *const guest_arches[2] = {"x86_64", "aarch64"};

const char *guest_path(const char *arch, const char *name)
{
    static char path[4096];
    snprintf(path, sizeof(path), "%s/%s/%s", GUEST_DIR, arch, name);
    return path;
}

static void slurp(int fd, char *buf, size_t cap)
{
    lseek(fd, 0, SEEK_SET);
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
}

int guest_run(const char *arch, const char *name, const char *const *args,
              const struct guest_opts *opts, struct guest_result *r)
{
    static const struct guest_opts defaults = {0};
    if (!opts)
        opts = &defaults;
    memset(r, 0, sizeof(*r));
    char err[512];
    enum elf_open_error kind;
    const char *path = guest_path(arch, name);
    struct elf_image *img = elf_image_open(path, &kind, err, sizeof(err));
    if (!img) {
        snprintf(r->err, sizeof(r->err), "%s: %s", path, err);
        return -1;
    }
    int out_fd = memfd_create("guest-stdout", 0), err_fd = memfd_create("guest-stderr", 0);
    FILE *diag = fdopen(dup(err_fd), "w");
    struct kernel_config cfg;
    kernel_config_defaults(&cfg);
    cfg.arch = elf_image_arch(img);
    cfg.ncpus = opts->cpus ? opts->cpus : 4;
    cfg.seed = opts->seed ? opts->seed : 1;
    cfg.max_insns = opts->max_insns ? opts->max_insns : GUEST_RUN_MAX_INSNS_DEFAULT;
    cfg.profile = opts->profile;
    cfg.envp = opts->envp;
    cfg.verify_icount = opts->verify_icount;
    cfg.no_fast_stores = opts->no_fast_stores;
    cfg.nodes = opts->nodes ? opts->nodes : 1;
    if (opts->no_cs_inject)
        cfg.cs_inject_span = 0;
    cfg.rseq_debug = opts->rseq_debug;
    cfg.rseq_watch = opts->rseq_watch;
    cfg.policy = opts->policy;
    if (opts->pct_depth)
        cfg.pct_depth = opts->pct_depth;
    if (opts->pct_steps)
        cfg.pct_steps = opts->pct_steps;
    if (opts->cpu_opv_nr)
        cfg.cpu_opv_nr = opts->cpu_opv_nr < 0 ? 0 : opts->cpu_opv_nr;
    cfg.offline = opts->offline;
    cfg.record = opts->record;
    struct schedule *sched = NULL;
    if (opts->schedule) {
        sched = schedule_parse(opts->schedule, strlen(opts->schedule), err, sizeof(err));
        if (!sched) {
            snprintf(r->err, sizeof(r->err), "schedule: %s", err);
            fclose(diag);
            close(out_fd);
            close(err_fd);
            elf_image_close(img);
            return -1;
        }
        cfg.policy = POLICY_SCRIPT;
        cfg.script = sched->events;
        cfg.nscript = sched->nevents;
        cfg.script_fill = sched->fill;
    }
    for (int i = 0; opts->injects && opts->injects[i] && i < KERNEL_INJECTS_MAX; i++) {
        if (kernel_inject_parse(opts->injects[i], &cfg.injects[i], err, sizeof(err)) != 0) {
            snprintf(r->err, sizeof(r->err), "%s", err);
            schedule_free(sched);
            fclose(diag);
            close(out_fd);
            close(err_fd);
            elf_image_close(img);
            return -1;
        }
        cfg.ninjects = i + 1;
    }
    cfg.stdin_fd = -1;
    cfg.stdout_fd = out_fd;
    cfg.stderr_fd = err_fd;
    cfg.diag = diag;
    const char *argv[64] = {path};
    int argc = 1;
    for (int i = 0; args && args[i] && argc < 63; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    int rc = -1;
    struct kernel *k = kernel_create(&cfg, err, sizeof(err));
    if (k && kernel_spawn(k, img, argv, err, sizeof(err)) == 0) {
        struct kernel_result res;
        kernel_run(k, &res);
        r->outcome = res.outcome;
        r->status = res.status;
        r->insns = res.insns;
        r->digest = res.digest;
        FILE *st = fmemopen(r->stats, sizeof(r->stats), "w");
        if (st) {
            kernel_print_stats(k, st);
            fclose(st);
        }
        rc = 0;
    }
    kernel_destroy(k);
    schedule_free(sched);
    fflush(diag);
    fclose(diag);
    slurp(out_fd, r->out, sizeof(r->out));
    slurp(err_fd, r->err, sizeof(r->err));
    if (rc != 0)
        snprintf(r->err + strlen(r->err), sizeof(r->err) - strlen(r->err), "%s", err);
    close(out_fd);
    close(err_fd);
    elf_image_close(img);
    return rc;
}

uint64_t guest_stat(const struct guest_result *r, const char *name)
{
    char key[96];
    snprintf(key, sizeof(key), "stat %s ", name);
    for (const char *p = r->stats; (p = strstr(p, key)) != NULL; p++)
        if (p == r->stats || p[-1] == '\n')
            return strtoull(p + strlen(key), NULL, 10);
    fprintf(stderr, "guest_stat: no figure '%s'\n", name);
    abort();
}

uint8_t *file_read_whole(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0)
        buf = malloc((size_t)len);
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf)
        *size = (size_t)len;
    return buf;
}
