/* Disassembly of code the caller holds (emu/disasm.c): the text, the length, and whether the
 * instruction leaves straight-line code, on both architectures. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "emu/disasm.h"

struct insn_case {
    enum arch_id arch;
    uint8_t code[8];
    size_t size;
    const char *text;
    size_t len;
    bool branch;
};

static const struct insn_case cases[] = {
    {ARCH_X86_64, {0x90}, 1, "nop", 1, false},
    {ARCH_X86_64, {0x48, 0x83, 0xc0, 0x01}, 4, "add rax, 1", 4, false},
    {ARCH_X86_64, {0xeb, 0xfe}, 2, "jmp 0x1000", 2, true},
    {ARCH_X86_64, {0x75, 0x02}, 2, "jne 0x1004", 2, true},
    {ARCH_X86_64, {0xc3}, 1, "ret", 1, true},
    {ARCH_X86_64, {0x0f, 0x05}, 2, "syscall", 2, true},
    {ARCH_AARCH64, {0x1f, 0x20, 0x03, 0xd5}, 4, "nop", 4, false},
    {ARCH_AARCH64, {0x00, 0x00, 0x00, 0x14}, 4, "b #0x1000", 4, true},
    {ARCH_AARCH64, {0xc0, 0x03, 0x5f, 0xd6}, 4, "ret", 4, true},
    {ARCH_AARCH64, {0x01, 0x00, 0x00, 0xd4}, 4, "svc #0", 4, true},
};

Test(disasm, bytes_give_text_length_and_branch)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct insn_case *c = &cases[i];
        struct disasm *d = disasm_create(arch_get(c->arch));
        cr_assert_not_null(d);
        char text[128];
        bool branch = !c->branch;
        size_t len = disasm_bytes(d, c->code, c->size, 0x1000, text, sizeof(text), &branch);
        cr_expect_eq(len, c->len, "case %zu: length %zu", i, len);
        cr_expect_str_eq(text, c->text, "case %zu", i);
        cr_expect_eq(branch, c->branch, "case %zu (%s): branch %d", i, text, branch);
        /* Without the question, the same answer. */
        cr_expect_eq(disasm_bytes(d, c->code, c->size, 0x1000, text, sizeof(text), NULL), c->len);
        cr_expect_str_eq(text, c->text);
        disasm_destroy(d);
    }
}

Test(disasm, undecodable_or_cut_bytes_give_zero)
{
    struct disasm *d = disasm_create(arch_get(ARCH_X86_64));
    char text[64];
    const uint8_t cut[] = {0x48, 0x83}; /* add rax, imm8 without its operands */
    cr_expect_eq(disasm_bytes(d, cut, sizeof(cut), 0x1000, text, sizeof(text), NULL), 0);
    cr_expect_str_eq(text, "(bad)");
    bool branch = true;
    cr_expect_eq(disasm_bytes(d, cut, 0, 0x1000, text, sizeof(text), &branch), 0);
    cr_expect_not(branch);
    disasm_destroy(d);
    d = disasm_create(arch_get(ARCH_AARCH64));
    const uint8_t udf[] = {0x00, 0x00, 0x00, 0x00};
    cr_expect_eq(disasm_bytes(d, udf, sizeof(udf), 0x1000, text, sizeof(text), NULL), 0);
    disasm_destroy(d);
}
