/* CPU lists as Linux writes them ("0-3,6"): the sysfs CPU files, --offline and the schedule
 * header's offline line. A mask has a bit per CPU, CPU 0 the lowest. */
#ifndef RSEQEMU_KERNEL_MODEL_CPULIST_H
#define RSEQEMU_KERNEL_MODEL_CPULIST_H

#include <stddef.h>
#include <stdint.h>

/* "N" and "N-M" items separated by commas, every CPU below `limit` (at most 64). 0, or -1 with
 * the reason in err. */
int cpulist_parse(const char *text, int limit, uint64_t *mask, char *err, size_t errlen);

/* The list of mask's CPUs, NUL-terminated ("" for none); its length, cut at cap - 1. */
size_t cpulist_format(uint64_t mask, char *buf, size_t cap);

#endif
