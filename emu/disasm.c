#include "disasm.h"

#include <capstone/capstone.h>
#include <stdio.h>
#include <stdlib.h>

#include "aspace.h"

struct disasm {
    csh cs;
};

struct disasm *disasm_create(const struct arch_desc *arch)
{
    struct disasm *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    cs_arch a = arch->id == ARCH_X86_64 ? CS_ARCH_X86 : CS_ARCH_ARM64;
    cs_mode m = arch->id == ARCH_X86_64 ? CS_MODE_64 : CS_MODE_ARM;
    if (cs_open(a, m, &d->cs) != CS_ERR_OK) {
        free(d);
        return NULL;
    }
    return d;
}

void disasm_destroy(struct disasm *d)
{
    if (!d)
        return;
    cs_close(&d->cs);
    free(d);
}

size_t disasm_one(struct disasm *d, const struct aspace *as, guest_addr_t addr, char *buf,
                  size_t len)
{
    uint8_t code[16];
    size_t have = 0;
    /* An instruction may end near the end of a mapping: take what can be read. */
    for (size_t want = sizeof(code); want >= 1; want /= 2) {
        if (aspace_read(as, addr, code, want) == 0) {
            have = want;
            break;
        }
    }
    if (have == 0) {
        snprintf(buf, len, "(unreadable)");
        return 0;
    }
    cs_insn *insn = NULL;
    size_t n = cs_disasm(d->cs, code, have, addr, 1, &insn);
    if (n == 0) {
        snprintf(buf, len, "(bad)");
        return 0;
    }
    snprintf(buf, len, "%s%s%s", insn[0].mnemonic, insn[0].op_str[0] ? " " : "", insn[0].op_str);
    size_t size = insn[0].size;
    cs_free(insn, n);
    return size;
}
