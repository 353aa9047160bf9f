/* A tiny static guest on a whole modelled machine, built once per fuzzer process and restored
 * from an in-process snapshot before every input, so that an input costs only its own run.
 *
 * The guest is an ELF made in memory: a writable and executable code area at GM_CODE (its entry
 * point), a read-write area at GM_DATA, a read-only page at GM_RODATA, nothing mapped at
 * GM_UNMAPPED, and the stack the loader maps. An input puts its code and data there and runs
 * under an instruction budget. */
#ifndef RSEQEMU_FUZZ_GUEST_MACHINE_H
#define RSEQEMU_FUZZ_GUEST_MACHINE_H

#include <stddef.h>
#include <stdint.h>

#include "arch/arch.h"
#include "kernel-model/kernel.h"

#define GM_CODE      0x401000ULL
#define GM_CODE_SIZE 0x4000ULL
#define GM_DATA      0x410000ULL
#define GM_DATA_SIZE 0x4000ULL
#define GM_RODATA    0x420000ULL
#define GM_UNMAPPED  0x430000ULL
#define GM_CPUS      4

struct guest_machine;

/* The machine for one architecture; exits the process with a message if it cannot be built (a
 * harness without its machine has nothing to test). */
struct guest_machine *guest_machine_get(enum arch_id arch);
const struct arch_desc *guest_machine_arch(const struct guest_machine *m);

/* The ELF file of the guest, for seed corpora: its bytes and size. */
const uint8_t *guest_machine_elf(enum arch_id arch, size_t *size);

/* Restores the machine, writes code at GM_CODE and data at GM_DATA + data_off, and runs at most
 * max_insns instructions. The guest's outcome is in *res; a failure of the machine itself
 * (KERNEL_ERROR) aborts the process, which is what a fuzzer reports. */
void guest_machine_run(struct guest_machine *m, const uint8_t *code, size_t code_len,
                       const uint8_t *data, size_t data_len, uint64_t data_off, uint64_t max_insns,
                       struct kernel_result *res);

#endif
