/* A minimal, self-contained copy of rseqemu's store-path interposition (emu/fast_stores.c) for
 * the raw-Unicorn benchmark harness: after the library fills a TLB entry, pages registered
 * here (never executable) get TLB_NOTDIRTY cleared, so stores to them stay on the JIT's inline
 * path. */
#ifndef RAW_FAST_STORES_H
#define RAW_FAST_STORES_H
#include <stdbool.h>
#include <stdint.h>

/* Whether the library exports the functions the interposition needs. */
bool raw_fast_available(bool x86);
/* Stores to [start, end) may skip the code-invalidation check. */
void raw_fast_add_region(uint64_t start, uint64_t end);
/* How many TLB fills went through the interposer, and how many were marked dirty. */
unsigned long raw_fast_fills(void);
unsigned long raw_fast_dirtied(void);

#endif
