/* Disassembly for reports and traces, and instruction boundaries of watched code (never on a
 * hot path). */
#ifndef RSEQEMU_EMU_DISASM_H
#define RSEQEMU_EMU_DISASM_H

#include <stdbool.h>
#include <stddef.h>

#include "arch/arch.h"

struct aspace;
struct disasm;

struct disasm *disasm_create(const struct arch_desc *arch);
void disasm_destroy(struct disasm *d);
/* "mov eax, 1" for the instruction at addr; its length, or 0 when the bytes cannot be read or
 * decoded (buf then says why). */
size_t disasm_one(struct disasm *d, const struct aspace *as, guest_addr_t addr, char *buf,
                  size_t len);

/* The same for code the caller holds: the instruction at the start of the size bytes of code,
 * which run at addr. With branch non-NULL, *branch says whether the instruction may send control
 * elsewhere (a jump, call, return or trap). */
size_t disasm_bytes(struct disasm *d, const uint8_t *code, size_t size, guest_addr_t addr,
                    char *buf, size_t len, bool *branch);

/* Addresses of the instructions in [addr, addr + size) of straight-line code (a translation
 * block): how many were stored in out (at most max); 0 when the code cannot be read. */
size_t disasm_insn_addrs(struct disasm *d, const struct aspace *as, guest_addr_t addr, size_t size,
                         guest_addr_t *out, size_t max);

#endif
