/* Machine code the guest harnesses write for both architectures: a system call with its number
 * and six arguments loaded as constants, and the exit_group that ends a program. */
#ifndef RSEQEMU_FUZZ_GUEST_CODE_H
#define RSEQEMU_FUZZ_GUEST_CODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/arch.h"

struct guest_code {
    enum arch_id arch;
    uint8_t *buf;
    size_t len, cap;
};

/* Appends bytes; false (and nothing written) when they do not fit. */
bool guest_code_bytes(struct guest_code *c, const void *bytes, size_t n);
/* nr(a[0], ..., a[5]) with the result in the return register. */
bool guest_code_syscall(struct guest_code *c, uint64_t nr, const uint64_t a[6]);
/* exit_group(the return register): a syscall's result becomes the exit status. */
bool guest_code_exit_with_result(struct guest_code *c);
/* The most bytes a syscall or an exit takes, which a program keeps free for its ending. */
#define GUEST_CODE_CALL_MAX 96

#endif
