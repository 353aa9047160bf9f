/* Inside explore/: what the sweep (sweep.c) found, as the reports (sweep_out.c) print it. */
#ifndef RSEQEMU_EXPLORE_SWEEP_INTERNAL_H
#define RSEQEMU_EXPLORE_SWEEP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernel-model/schedule.h"
#include "sweep.h"

enum cell { CELL_NA, CELL_PASS, CELL_FAIL };

/* A row of a section's table: one instruction boundary, over all its entries swept. */
struct boundary {
    uint64_t pc;
    char loc[256]; /* "0x401136 <worker+0x16>: mov dword ptr [rax], 1" */
    char role[20]; /* before, start_ip, inside, post_commit_ip, after, syscall */
    uint8_t cell[SWEEP_EVENT_COUNT];
};

enum site_kind { SITE_CS, SITE_SYSCALL };

struct site_entry {
    int tid;
    uint64_t pos;  /* position of the section's first instruction (or of the syscall) */
    uint64_t iter; /* host-loop iteration from whose start the window is reached */
    bool others;   /* other threads were live */
};

struct site {
    enum site_kind kind;
    uint64_t start, end; /* a section; a syscall site: the IP past the call, twice */
    char name[24];       /* the syscall's name */
    char loc[256];
    struct site_entry *entries;
    size_t nentries, cap_entries;
    uint64_t seen, stride; /* entries are kept one in `stride`, up to a bound */
    uint32_t swept;
    struct boundary *rows;
    size_t nrows, cap_rows;
};

#define SITE_NONE UINT32_MAX /* a failure of the base run: no site, no event */

struct failure {
    uint32_t site, row; /* the boundary's row in its site's table */
    uint64_t pc;
    enum sweep_event event;
    char outcome[64];  /* "exit 1", "killed by SIGSEGV", "deadlock", ... */
    char message[256]; /* what the program or the emulator said last */
    char summary[640];
    char file[512];
    struct sched_event events[3];
    size_t nevents;
    uint64_t digest;
};

struct sweep_restore_stats {
    uint64_t count, pages, pages_max, small, arena_bytes;
    double us, us_max, small_us; /* small: restores of at most 64 pages */
};

struct sweep_results {
    const struct sweep_config *cfg;
    struct kernel_result base;
    uint64_t schedules, passed, failed, not_applicable;
    struct site *sites;
    size_t nsites;
    struct failure *failures;
    size_t nfailures, cap_failures;
    bool replay_mismatch;
    struct sweep_restore_stats restore; /* this process's (a worker's are not counted) */
};

/* src cut to fit dst[len]. */
static inline void str_copy(char *dst, size_t len, const char *src)
{
    size_t n = strnlen(src, len - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* sweep_out.c */
int sweep_write_failure(const struct sweep_results *res, struct failure *f, uint64_t max_insns,
                        uint64_t program_hash);
void sweep_print_table(const struct sweep_results *res, FILE *out);
void sweep_print_stats(const struct sweep_results *res, double seconds, FILE *out);
int sweep_write_json(const struct sweep_results *res, const char *path);
int sweep_write_junit(const struct sweep_results *res, const char *path);
/* "worker+0x1c" from a location "0x401136 <worker+0x1c>: ...", or the address. */
void sweep_loc_symbol(const char *loc, uint64_t pc, char *buf, size_t len);
const char *sweep_outcome_text(const struct kernel_result *r, char *buf, size_t len);

#endif
