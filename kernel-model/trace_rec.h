/* Inside the kernel model: one traced event as a flat record, built once (symbols and
 * disassembly included) and written by every output the trace has. */
#ifndef RSEQEMU_KERNEL_MODEL_TRACE_REC_H
#define RSEQEMU_KERNEL_MODEL_TRACE_REC_H

#include <stdint.h>
#include <stdio.h>

#include "event.h"
#include "trace.h"

enum trace_field_type {
    TF_INT,  /* a signed number */
    TF_HEX,  /* an address or a mask, "0x..." */
    TF_STR,  /* a word or a text */
    TF_CODE, /* a code address with its symbol and instruction */
};

struct trace_field {
    const char *key;
    enum trace_field_type type;
    int64_t i;
    uint64_t u;
    const char *s;    /* TF_STR: the text; TF_CODE: the symbol ("" if none) */
    const char *insn; /* TF_CODE: the instruction ("" if it cannot be read) */
};

#define TRACE_FIELDS_MAX 12
#define TRACE_POOL_SIZE  2048

struct trace_rec {
    const char *ev; /* "switch", "syscall", "rseq_abort", ... */
    uint64_t ns;    /* virtual time */
    int cpu;        /* -1: none */
    int tid;        /* 0: none */
    uint64_t insns; /* the thread's position */
    int nfields;
    struct trace_field f[TRACE_FIELDS_MAX];
    size_t pool_used;
    char pool[TRACE_POOL_SIZE]; /* the fields' strings */
};

/* Called by event.c for every event, and by the kernel at the start and end of a run. */
void trace_event(struct kernel *k, enum event_kind kind, const struct task *t, uint64_t a,
                 uint64_t b, uint64_t c);
void trace_syscall(struct kernel *k, const struct task *t, const struct sys_args *args, long ret);
void trace_run_begin(struct kernel *k);
void trace_run_end(struct kernel *k);

/* The syscall as strace shows it: "write(1, \"hi\\n\", 3) = 3". */
void trace_syscall_format(struct kernel *k, const struct task *t, const struct sys_args *args,
                          long ret, char *buf, size_t len);
/* "<... futex resumed> = 0" for a blocked call that t returns from with ret. */
void trace_syscall_resumed(struct kernel *k, const struct task *t, long ret, char *buf, size_t len);

/* The outputs. Each keeps its own state; finish ends the document. */
struct trace_writer {
    void (*event)(void *state, const struct trace_rec *r);
    void (*finish)(void *state);
    void (*destroy)(void *state);
    void *state;
};
void trace_writer_text(struct trace_writer *w, FILE *out);
void trace_writer_json(struct trace_writer *w, FILE *out);
void trace_writer_perfetto(struct trace_writer *w, FILE *out);

/* A record as a JSON object (a jansson json_t): the JSON lines' and Perfetto's arguments. */
struct json_t;
struct json_t *trace_rec_json(const struct trace_rec *r);

#endif
