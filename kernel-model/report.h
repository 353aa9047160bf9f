/* What the emulator tells its user: diagnostics, and where a thread is, in words. */
#ifndef RSEQEMU_KERNEL_MODEL_REPORT_H
#define RSEQEMU_KERNEL_MODEL_REPORT_H

#include <stddef.h>

#include "kstate.h"

/* "rseqemu: ..." on the diagnostic stream, unless the run is quiet. */
void report_diag(struct kernel *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Always printed: the reason a run ends badly. */
void report_fatal(struct kernel *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "0x401136 <main+0x16>: mov dword ptr [rax], 1" for an address in t's address space. */
void report_location(struct kernel *k, const struct task *t, guest_addr_t addr, char *buf,
                     size_t len);
/* One line per live thread: where it is and what it waits for. */
void report_threads(struct kernel *k);

#endif
