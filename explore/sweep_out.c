/* What a sweep writes: a schedule file per distinct failure, the table of each section, and
 * the same as JSON and JUnit XML for scripts and CI systems. Nothing here depends on time or
 * on the order workers finished in, so every run of the same sweep writes the same bytes. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "emu/loader.h"
#include "kernel-model/signal.h"
#include "sweep_internal.h"

static const char *const cell_names[] = {
    [CELL_NA] = "n/a", [CELL_PASS] = "pass", [CELL_FAIL] = "FAIL"};

static const char *event_name(enum sweep_event e)
{
    return e < SWEEP_EVENT_COUNT ? sweep_event_names[e] : "none";
}

const char *sweep_outcome_text(const struct kernel_result *r, char *buf, size_t len)
{
    switch (r->outcome) {
    case KERNEL_EXITED:
        snprintf(buf, len, "exit %d", r->status);
        break;
    case KERNEL_SIGNALED:
        snprintf(buf, len, "killed by %s", signal_name(r->status));
        break;
    case KERNEL_DEADLOCK:
        snprintf(buf, len, "deadlock");
        break;
    case KERNEL_RUNAWAY:
        snprintf(buf, len, "runaway");
        break;
    case KERNEL_BAD_SCHEDULE:
        snprintf(buf, len, "not applicable");
        break;
    default:
        snprintf(buf, len, "internal error");
        break;
    }
    return buf;
}

void sweep_loc_symbol(const char *loc, uint64_t pc, char *buf, size_t len)
{
    const char *sym = strchr(loc, '<');
    if (!sym) {
        snprintf(buf, len, "0x%llx", (unsigned long long)pc);
        return;
    }
    size_t n = 0;
    for (const char *c = sym + 1; *c && *c != '>' && n + 1 < len; c++)
        buf[n++] = *c;
    buf[n] = '\0';
}

/* The symbol, made safe for a file name. */
static void file_stem(const char *loc, uint64_t pc, char *buf, size_t len)
{
    sweep_loc_symbol(loc, pc, buf, len);
    for (char *c = buf; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '+' && *c != '_' && *c != '.')
            *c = '_';
}

int sweep_write_failure(const struct sweep_results *res, struct failure *f, uint64_t max_insns,
                        uint64_t program_hash)
{
    const struct sweep_config *cfg = res->cfg;
    const struct boundary *b = f->site != SITE_NONE ? &res->sites[f->site].rows[f->row] : NULL;
    char stem[96] = "base";
    if (b)
        file_stem(b->loc, f->pc, stem, sizeof(stem));
    snprintf(f->file, sizeof(f->file), "%s/%03zu-%s-%s.sched", cfg->out_dir, res->nfailures, stem,
             event_name(f->event));
    FILE *out = fopen(f->file, "w");
    if (!out) {
        fprintf(stderr, "rseqemu: %s: %s\n", f->file, strerror(errno));
        return -1;
    }
    const struct kernel_config *kc = &cfg->kcfg;
    struct schedule s = {.version = schedule_version_for(POLICY_SCRIPT, f->events, f->nevents),
                         .program = (char *)cfg->prog,
                         .has_hash = true,
                         .program_hash = program_hash,
                         .argv = (char **)cfg->argv,
                         .envp = (char **)kc->envp,
                         .cpus = kc->ncpus,
                         .offline = kc->offline,
                         .nodes = kc->nodes,
                         .seed = kc->seed,
                         .max_insns = max_insns,
                         .cs_inject_span = kc->cs_inject_span,
                         .kernel = kc->profile,
                         .rseq_debug = kc->rseq_debug,
                         .cpu_opv_nr = kc->cpu_opv_nr,
                         .policy = POLICY_SCRIPT,
                         .fill = FILL_ROUND_ROBIN};
    snprintf(s.arch, sizeof(s.arch), "%s", elf_image_arch(cfg->img)->name);
    schedule_write_header(out, &s);
    fprintf(out, "# rseqemu sweep found: %s\n", f->summary);
    if (b)
        fprintf(out, "# at %s (%s)\n", b->loc, b->role);
    for (size_t i = 0; i < f->nevents; i++)
        schedule_write_event(out, f->events[i].tid, f->events[i].at,
                             (enum sched_verb)f->events[i].verb, f->events[i].arg);
    if (fclose(out) != 0) {
        fprintf(stderr, "rseqemu: %s: %s\n", f->file, strerror(errno));
        return -1;
    }
    return 0;
}

static const char *site_title(const struct site *st, char *buf, size_t len)
{
    if (st->kind == SITE_CS)
        snprintf(buf, len, "section [0x%llx, 0x%llx) %s", (unsigned long long)st->start,
                 (unsigned long long)st->end, st->loc);
    else
        snprintf(buf, len, "%s call returning to %s", st->name, st->loc);
    return buf;
}

void sweep_print_table(const struct sweep_results *res, FILE *out)
{
    for (size_t i = 0; i < res->nsites; i++) {
        const struct site *st = &res->sites[i];
        if (!st->swept)
            continue;
        char title[400];
        fprintf(out, "\n%s: %u entr%s swept\n", site_title(st, title, sizeof(title)), st->swept,
                st->swept == 1 ? "y" : "ies");
        fprintf(out, "  %-14s %-58s %-7s %-7s %-7s %-7s\n", "boundary", "instruction", "preempt",
                "migrate", "signal", "stall");
        for (size_t j = 0; j < st->nrows; j++) {
            const struct boundary *b = &st->rows[j];
            char insn[59];
            str_copy(insn, sizeof(insn), b->loc);
            fprintf(out, "  %-14s %-58s", b->role, insn);
            for (int e = 0; e < SWEEP_EVENT_COUNT; e++)
                fprintf(out, " %-7s", cell_names[b->cell[e]]);
            fputc('\n', out);
        }
    }
    char base[64];
    fprintf(
        out,
        "\nsweep: %llu schedules, %llu passed, %llu failed (%zu distinct), %llu not "
        "applicable; base run: %s, %llu instructions\n",
        (unsigned long long)res->schedules, (unsigned long long)res->passed,
        (unsigned long long)res->failed, res->nfailures, (unsigned long long)res->not_applicable,
        sweep_outcome_text(&res->base, base, sizeof(base)), (unsigned long long)res->base.insns);
    for (size_t i = 0; i < res->nfailures; i++)
        fprintf(out, "FAIL %s\n     replay: rseqemu replay %s\n", res->failures[i].summary,
                res->failures[i].file);
    fflush(out);
}

static json_t *events_json(const struct failure *f)
{
    json_t *a = json_array();
    for (size_t i = 0; i < f->nevents; i++) {
        char line[128];
        snprintf(line, sizeof(line), "%d:%llu %s", f->events[i].tid,
                 (unsigned long long)f->events[i].at,
                 sched_verb_name((enum sched_verb)f->events[i].verb));
        if (sched_verb_has_arg((enum sched_verb)f->events[i].verb))
            snprintf(line + strlen(line), sizeof(line) - strlen(line), " %d", f->events[i].arg);
        json_array_append_new(a, json_string(line));
    }
    return a;
}

static int dump(json_t *root, const char *path)
{
    int rc = json_dump_file(root, path, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    json_decref(root);
    if (rc != 0)
        fprintf(stderr, "rseqemu: --json %s: cannot write it\n", path);
    return rc;
}

int sweep_write_json(const struct sweep_results *res, const char *path)
{
    char text[64];
    json_t *root = json_object();
    json_object_set_new(root, "program", json_string(res->cfg->prog));
    json_object_set_new(root, "base",
                        json_pack("{s:s, s:I}", "outcome",
                                  sweep_outcome_text(&res->base, text, sizeof(text)), "insns",
                                  (json_int_t)res->base.insns));
    json_object_set_new(root, "schedules", json_integer((json_int_t)res->schedules));
    json_object_set_new(root, "passed", json_integer((json_int_t)res->passed));
    json_object_set_new(root, "failed", json_integer((json_int_t)res->failed));
    json_object_set_new(root, "not_applicable", json_integer((json_int_t)res->not_applicable));
    json_t *sites = json_array();
    for (size_t i = 0; i < res->nsites; i++) {
        const struct site *st = &res->sites[i];
        if (!st->swept)
            continue;
        json_t *rows = json_array();
        for (size_t j = 0; j < st->nrows; j++) {
            const struct boundary *b = &st->rows[j];
            json_t *row = json_pack("{s:I, s:s, s:s}", "pc", (json_int_t)b->pc, "location", b->loc,
                                    "role", b->role);
            for (int e = 0; e < SWEEP_EVENT_COUNT; e++)
                json_object_set_new(row, sweep_event_names[e], json_string(cell_names[b->cell[e]]));
            json_array_append_new(rows, row);
        }
        json_array_append_new(sites, json_pack("{s:s, s:s, s:I, s:I, s:s, s:i, s:o}", "kind",
                                               st->kind == SITE_CS ? "section" : "syscall", "name",
                                               st->kind == SITE_CS ? "rseq" : st->name, "start",
                                               (json_int_t)st->start, "end", (json_int_t)st->end,
                                               "location", st->loc, "entries", (int)st->swept,
                                               "boundaries", rows));
    }
    json_object_set_new(root, "sites", sites);
    json_t *fails = json_array();
    for (size_t i = 0; i < res->nfailures; i++) {
        const struct failure *f = &res->failures[i];
        json_array_append_new(fails,
                              json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:o}", "file", f->file,
                                        "pc", (json_int_t)f->pc, "event", event_name(f->event),
                                        "outcome", f->outcome, "message", f->message, "summary",
                                        f->summary, "events", events_json(f)));
    }
    json_object_set_new(root, "failures", fails);
    return dump(root, path);
}

static void xml_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '&':
            fputs("&amp;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\n')
                fputc(*s, out);
        }
    }
}

int sweep_write_junit(const struct sweep_results *res, const char *path)
{
    FILE *out = fopen(path, "w");
    if (!out) {
        fprintf(stderr, "rseqemu: --junit %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cases = 0, failing = 0;
    for (size_t i = 0; i < res->nsites; i++) {
        if (!res->sites[i].swept)
            continue;
        for (int e = 0; e < SWEEP_EVENT_COUNT; e++) {
            cases++;
            bool failed = false;
            for (size_t j = 0; j < res->nfailures; j++)
                failed |= res->failures[j].site == i && res->failures[j].event == (unsigned)e;
            failing += failed;
        }
    }
    for (size_t j = 0; j < res->nfailures; j++) {
        cases += res->failures[j].site == SITE_NONE;
        failing += res->failures[j].site == SITE_NONE;
    }
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n", out);
    fputs("  <testsuite name=\"rseqemu sweep ", out);
    xml_text(out, res->cfg->prog);
    fprintf(out, "\" tests=\"%zu\" failures=\"%zu\">\n", cases, failing);
    for (size_t i = 0; i < res->nsites; i++) {
        const struct site *st = &res->sites[i];
        if (!st->swept)
            continue;
        char title[400];
        site_title(st, title, sizeof(title));
        for (int e = 0; e < SWEEP_EVENT_COUNT; e++) {
            fputs("    <testcase classname=\"", out);
            xml_text(out, title);
            fprintf(out, "\" name=\"%s\">\n", sweep_event_names[e]);
            for (size_t j = 0; j < res->nfailures; j++) {
                const struct failure *f = &res->failures[j];
                if (f->site != i || f->event != (unsigned)e)
                    continue;
                fputs("      <failure message=\"", out);
                xml_text(out, f->summary);
                fputs("\">rseqemu replay ", out);
                xml_text(out, f->file);
                fputs("</failure>\n", out);
            }
            fputs("    </testcase>\n", out);
        }
    }
    for (size_t j = 0; j < res->nfailures; j++) {
        const struct failure *f = &res->failures[j];
        if (f->site != SITE_NONE)
            continue;
        fputs("    <testcase classname=\"base run\" name=\"no event\">\n      <failure message=\"",
              out);
        xml_text(out, f->summary);
        fputs("\">rseqemu replay ", out);
        xml_text(out, f->file);
        fputs("</failure>\n    </testcase>\n", out);
    }
    fputs("  </testsuite>\n</testsuites>\n", out);
    if (fclose(out) != 0) {
        fprintf(stderr, "rseqemu: --junit %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

void sweep_print_stats(const struct sweep_results *res, double seconds, FILE *out)
{
    const struct sweep_restore_stats *r = &res->restore;
    fprintf(out, "stat schedules %llu\n", (unsigned long long)res->schedules);
    fprintf(out, "stat seconds %.3f\n", seconds);
    fprintf(out, "stat schedules_per_second %.1f\n",
            seconds > 0 ? (double)res->schedules / seconds : 0.0);
    fprintf(out, "stat restores %llu\n", (unsigned long long)r->count);
    fprintf(out, "stat restore_us_mean %.1f\n", r->count ? r->us / (double)r->count : 0.0);
    fprintf(out, "stat restore_us_max %.1f\n", r->us_max);
    fprintf(out, "stat restore_pages_mean %.1f\n",
            r->count ? (double)r->pages / (double)r->count : 0.0);
    fprintf(out, "stat restore_pages_max %llu\n", (unsigned long long)r->pages_max);
    fprintf(out, "stat restores_le64_pages %llu\n", (unsigned long long)r->small);
    fprintf(out, "stat restore_le64_us_mean %.1f\n",
            r->small ? r->small_us / (double)r->small : 0.0);
    fprintf(out, "stat arena_bytes %llu\n", (unsigned long long)r->arena_bytes);
}
