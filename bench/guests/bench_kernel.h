#ifndef BENCH_KERNEL_H
#define BENCH_KERNEL_H
#include <stdint.h>

/* A pure compute kernel: no calls, no TLS, no syscalls. Its value depends only on iterations. */
__attribute__((noinline)) uint64_t bench_kernel(uint64_t iterations);

#endif
