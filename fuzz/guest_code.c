#include "guest_code.h"

#include <string.h>

#include "arch/le.h"

/* Linux's exit_group on each architecture (kernel-model/syscalls.def). */
static const uint64_t exit_group_nr[ARCH_COUNT] = {[ARCH_X86_64] = 231, [ARCH_AARCH64] = 94};

bool guest_code_bytes(struct guest_code *c, const void *bytes, size_t n)
{
    if (n > c->cap - c->len)
        return false;
    memcpy(c->buf + c->len, bytes, n);
    c->len += n;
    return true;
}

/* x86-64: movabs reg, imm64 (REX.W, with REX.B for r8-r15). */
static bool x86_mov(struct guest_code *c, int reg, uint64_t v)
{
    uint8_t insn[10] = {(uint8_t)(0x48 | (reg >> 3)), (uint8_t)(0xb8 + (reg & 7))};
    le_put64(insn + 2, v);
    return guest_code_bytes(c, insn, sizeof(insn));
}

/* aarch64: movz xd, #v[15:0], then movk for each other 16 bits. */
static bool a64_mov(struct guest_code *c, int reg, uint64_t v)
{
    for (int hw = 0; hw < 4; hw++) {
        uint32_t base = hw == 0 ? 0xd2800000u : 0xf2800000u;
        uint8_t insn[4];
        le_put32(insn, base | (uint32_t)hw << 21 | (uint32_t)(v >> (16 * hw) & 0xffff) << 5 |
                           (uint32_t)reg);
        if (!guest_code_bytes(c, insn, 4))
            return false;
    }
    return true;
}

bool guest_code_syscall(struct guest_code *c, uint64_t nr, const uint64_t a[6])
{
    size_t start = c->len;
    bool ok = true;
    if (c->arch == ARCH_X86_64) {
        static const int arg_regs[6] = {7, 6, 2, 10, 8, 9}; /* rdi rsi rdx r10 r8 r9 */
        ok &= x86_mov(c, 0, nr);
        for (int i = 0; i < 6; i++)
            ok &= x86_mov(c, arg_regs[i], a[i]);
        ok &= guest_code_bytes(c, "\x0f\x05", 2); /* syscall */
    } else {
        ok &= a64_mov(c, 8, nr);
        for (int i = 0; i < 6; i++)
            ok &= a64_mov(c, i, a[i]);
        ok &= guest_code_bytes(c, "\x01\x00\x00\xd4", 4); /* svc #0 */
    }
    if (!ok)
        c->len = start;
    return ok;
}

bool guest_code_exit_with_result(struct guest_code *c)
{
    size_t start = c->len;
    bool ok;
    if (c->arch == ARCH_X86_64) {
        /* mov rdi, rax; then the call */
        ok = guest_code_bytes(c, "\x48\x89\xc7", 3) && x86_mov(c, 0, exit_group_nr[c->arch]) &&
             guest_code_bytes(c, "\x0f\x05", 2);
    } else {
        /* x0 holds the result already */
        ok = a64_mov(c, 8, exit_group_nr[c->arch]) && guest_code_bytes(c, "\x01\x00\x00\xd4", 4);
    }
    if (!ok)
        c->len = start;
    return ok;
}
