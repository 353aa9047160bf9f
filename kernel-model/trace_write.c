/* The readable trace and the JSON lines: one event per line, the same fields in both. */
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "trace_rec.h"

static void text_field(FILE *out, const struct trace_field *f)
{
    switch (f->type) {
    case TF_INT:
        fprintf(out, " %s=%" PRId64, f->key, f->i);
        break;
    case TF_HEX:
        fprintf(out, " %s=0x%" PRIx64, f->key, f->u);
        break;
    case TF_STR:
        /* A syscall reads best as strace prints it, with nothing in front. */
        if (!strcmp(f->key, "call"))
            fprintf(out, " %s", f->s);
        else if (strcmp(f->key, "name") && strcmp(f->key, "nr") && strcmp(f->key, "ret"))
            fprintf(out, " %s=%s", f->key, f->s);
        break;
    case TF_CODE:
        fprintf(out, " %s=0x%" PRIx64, f->key, f->u);
        if (f->s[0])
            fprintf(out, " <%s>", f->s);
        if (f->insn[0])
            fprintf(out, " (%s)", f->insn);
        break;
    }
}

static void text_event(void *state, const struct trace_rec *r)
{
    FILE *out = state;
    fprintf(out, "%10" PRIu64 ".%03" PRIu64 "us ", r->ns / 1000, r->ns % 1000);
    if (r->cpu >= 0)
        fprintf(out, "cpu%-2d ", r->cpu);
    else
        fputs("      ", out);
    if (r->tid)
        fprintf(out, "tid %-4d @%-10" PRIu64 " ", r->tid, r->insns);
    else
        fprintf(out, "%20s", "");
    fprintf(out, "%-15s", r->ev);
    bool syscall = !strcmp(r->ev, "syscall");
    for (int i = 0; i < r->nfields; i++)
        if (!syscall || !strcmp(r->f[i].key, "call"))
            text_field(out, &r->f[i]);
    fputc('\n', out);
}

void trace_writer_text(struct trace_writer *w, FILE *out)
{
    *w = (struct trace_writer){.event = text_event, .state = out};
}

static json_t *hex(uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
    return json_string(buf);
}

/* json_string() refuses text that is not UTF-8; guest bytes are escaped before they get here,
 * so this is only a guard. */
static json_t *str(const char *s)
{
    json_t *j = json_string(s);
    return j ? j : json_string("?");
}

json_t *trace_rec_json(const struct trace_rec *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "ev", json_string(r->ev));
    json_object_set_new(o, "t", json_integer((json_int_t)r->ns));
    if (r->cpu >= 0)
        json_object_set_new(o, "cpu", json_integer(r->cpu));
    if (r->tid) {
        json_object_set_new(o, "tid", json_integer(r->tid));
        json_object_set_new(o, "insns", json_integer((json_int_t)r->insns));
    }
    for (int i = 0; i < r->nfields; i++) {
        const struct trace_field *f = &r->f[i];
        char key[64];
        switch (f->type) {
        case TF_INT:
            json_object_set_new(o, f->key, json_integer(f->i));
            break;
        case TF_HEX:
            json_object_set_new(o, f->key, hex(f->u));
            break;
        case TF_STR:
            json_object_set_new(o, f->key, str(f->s));
            break;
        case TF_CODE:
            json_object_set_new(o, f->key, hex(f->u));
            snprintf(key, sizeof(key), "%s_sym", f->key);
            json_object_set_new(o, key, str(f->s));
            snprintf(key, sizeof(key), "%s_insn", f->key);
            json_object_set_new(o, key, str(f->insn));
            break;
        }
    }
    return o;
}

static void json_event(void *state, const struct trace_rec *r)
{
    FILE *out = state;
    json_t *o = trace_rec_json(r);
    /* Keys in insertion order: the lines of two runs compare as text. */
    json_dumpf(o, out, JSON_COMPACT | JSON_PRESERVE_ORDER);
    fputc('\n', out);
    json_decref(o);
}

void trace_writer_json(struct trace_writer *w, FILE *out)
{
    *w = (struct trace_writer){.event = json_event, .state = out};
}
