/* What every harness shares: the input as a file, for the harnesses that go through the same
 * entry points as the command line (which open a path), and a stream for the harness's own
 * messages that stays open when libFuzzer closes the target's output (-close_fd_mask=3, which
 * scripts/fuzz passes: rseqemu's messages about each malformed input would drown the rest). */
#ifndef RSEQEMU_FUZZ_HARNESS_H
#define RSEQEMU_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The path of a file holding exactly these bytes; the same path every time. */
const char *harness_input_file(const uint8_t *data, size_t size);
/* Call from LLVMFuzzerInitialize, before libFuzzer closes stderr. */
void harness_init(void);
/* stderr as it was at harness_init(). */
FILE *harness_err(void);
/* Prints why the input is a failure and aborts, which libFuzzer reports as a crash. */
_Noreturn void harness_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
