/* Disassembly and symbol names for reports and traces (never on a hot path). */
#ifndef RSEQEMU_EMU_DISASM_H
#define RSEQEMU_EMU_DISASM_H

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

#endif
