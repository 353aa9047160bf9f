#include "disasm.h"

#include <capstone/capstone.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "aspace.h"

struct disasm {
    csh cs;
    bool fixed4; /* aarch64: every instruction is 4 bytes */
};

struct disasm *disasm_create(const struct arch_desc *arch)
{
    struct disasm *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    cs_arch a = arch->id == ARCH_X86_64 ? CS_ARCH_X86 : CS_ARCH_ARM64;
    cs_mode m = arch->id == ARCH_X86_64 ? CS_MODE_64 : CS_MODE_ARM;
    d->fixed4 = arch->id == ARCH_AARCH64;
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
    return disasm_bytes(d, code, have, addr, buf, len, NULL);
}

/* Capstone's groups of the instructions that leave straight-line code. */
static const uint8_t branch_groups[] = {CS_GRP_JUMP, CS_GRP_CALL, CS_GRP_RET, CS_GRP_INT,
                                        CS_GRP_IRET};

size_t disasm_bytes(struct disasm *d, const uint8_t *code, size_t size, guest_addr_t addr,
                    char *buf, size_t len, bool *branch)
{
    /* Groups need Capstone's detail, which costs: only for the callers that ask. */
    if (branch)
        cs_option(d->cs, CS_OPT_DETAIL, CS_OPT_ON);
    cs_insn *insn = NULL;
    size_t n = cs_disasm(d->cs, code, size, addr, 1, &insn);
    size_t insn_size = 0;
    if (n == 0) {
        snprintf(buf, len, "(bad)");
    } else {
        snprintf(buf, len, "%s%s%s", insn[0].mnemonic, insn[0].op_str[0] ? " " : "",
                 insn[0].op_str);
        insn_size = insn[0].size;
    }
    if (branch) {
        *branch = false;
        for (size_t i = 0; n && i < sizeof(branch_groups); i++)
            *branch |= cs_insn_group(d->cs, &insn[0], branch_groups[i]);
        cs_option(d->cs, CS_OPT_DETAIL, CS_OPT_OFF);
    }
    if (n)
        cs_free(insn, n);
    return insn_size;
}

size_t disasm_insn_addrs(struct disasm *d, const struct aspace *as, guest_addr_t addr, size_t size,
                         guest_addr_t *out, size_t max)
{
    if (d->fixed4) {
        size_t n = 0;
        for (guest_addr_t a = addr; a < addr + size && n < max; a += 4)
            out[n++] = a;
        return n;
    }
    /* The engine fetched this code, so it is mapped executable (maybe not readable). */
    const uint8_t *code = aspace_host(as, addr, size, LX_PROT_EXEC);
    if (!code)
        return 0;
    cs_insn *insn = cs_malloc(d->cs);
    const uint8_t *p = code;
    size_t left = size, n = 0;
    uint64_t pc = addr;
    while (n < max && left > 0) {
        out[n++] = pc;
        if (!cs_disasm_iter(d->cs, &p, &left, &pc, insn))
            break; /* an undecodable tail: the one instruction the engine stopped on */
    }
    cs_free(insn, 1);
    return n;
}
