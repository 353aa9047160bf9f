/* Inside emu/: the engine of one address space. uc_backend.c implements it and is, with the
 * store interposer, the only code that calls Unicorn. */
#ifndef RSEQEMU_EMU_BACKEND_H
#define RSEQEMU_EMU_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/arch.h"
#include "cpu.h"

struct emu;
struct aspace;
struct backend;

struct backend *backend_open(struct emu *emu, struct aspace *as, const char **err);
void backend_close(struct backend *b);

/* A window (windows.h): one engine region with every permission over host memory; the
 * VMAs decide what the guest may do (engine_pages.h). 0 or -LX_ENOMEM. */
int backend_window_add(struct backend *b, guest_addr_t base, uint64_t len, void *host);
void backend_window_remove(struct backend *b, guest_addr_t base, uint64_t len);
/* The VMAs over [addr, addr+len) changed: the engines forget what they learnt of its pages,
 * and, when code may have been there, its translations. */
void backend_forget(struct backend *b, guest_addr_t addr, uint64_t len, bool code);

enum regs_part { REGS_GPR = 1, REGS_FP = 2 };
void backend_regs_store(struct backend *b, const struct arch_regs *regs, int parts);
void backend_regs_load(struct backend *b, struct arch_regs *regs, int parts);

/* The context whose registers the engine currently holds (NULL after a switch-out). */
struct cpu_ctx *backend_loaded(const struct backend *b);
void backend_set_loaded(struct backend *b, struct cpu_ctx *ctx);

void backend_run(struct backend *b, const struct emu_run_params *p, struct emu_exit *out);

/* The address space's watched code changed (watch.h). */
void backend_watch_changed(struct backend *b);
/* Forget cached per-block instruction counts (code was unmapped or changed protection). */
void backend_code_changed(struct backend *b, guest_addr_t addr, uint64_t len);

/* For snapshots (snapshot.c): empty both engines' TLBs, so that every page is filled again
 * before it is used; save and restore the engine's whole CPU state; and take up the watch table
 * as the arena now holds it, clearing caches only if it changed. */
void backend_tlb_flush(struct backend *b);
void backend_env_save(struct backend *b);
void backend_env_restore(struct backend *b);
void backend_watch_refresh(struct backend *b);

#endif
