/* A far call or jump with a register operand (FF /3 or FF /5 with mod = 3) makes Debian's
 * Unicorn 2.0.1 abort ("tcg fatal error", tcg.c:3073): its x86 translator reads the far
 * pointer from a memory operand the instruction does not have. So does a LOCK prefix on an
 * instruction that cannot take one (lock cmpsd). Both are undefined, and a CPU raises #UD
 * (Linux: SIGILL) for them; garbage a guest jumps into can hold them.
 *
 * The translator fetches instruction bytes through cpu_ldub_code_x86_64() and translates a
 * block in gen_intermediate_code_x86_64(), both reached through interposable relocations. The
 * wrapper of the latter decodes the block ahead of the translator and, if an instruction of it
 * is one of these, the byte fetches during that translation read one of its bytes so that the
 * translator sees an instruction it knows to be undefined, and raises #UD at it. Guest memory
 * is not changed. */
#include <capstone/capstone.h>
#include <dlfcn.h>
#include <stdint.h>

#include "emu_internal.h"
#include "engine_pages.h"

#define NO_ADDR UINT64_MAX
/* The most bytes a block's decoding looks at: the translator's own limit is a page. */
#define SCAN_MAX 4096

typedef void (*gen_code_fn)(void *cpu, void *tb, int max_insns);
typedef uint32_t (*ldub_code_fn)(void *env, uint64_t addr);

static gen_code_fn real_gen_code;
static ldub_code_fn real_ldub_code;
/* The byte the translation in progress reads differently, and what it reads there: a far
 * branch's ModRM as /7, or a wrongly locked instruction's opcode as 0xd6 (salc, undefined in
 * 64-bit mode). Either way the translator raises #UD at the instruction. */
static uint64_t undefined_at = NO_ADDR;
static uint8_t undefined_byte;

static bool legacy_prefix(uint8_t b)
{
    return b == 0x66 || b == 0x67 || b == 0xf0 || b == 0xf2 || b == 0xf3 || b == 0x2e ||
           b == 0x36 || b == 0x3e || b == 0x26 || b == 0x64 || b == 0x65;
}

/* The offset of the ModRM byte if the instruction at code[0] is FF /3 or FF /5 with a register
 * operand; 0 otherwise. */
static size_t far_branch_modrm(const uint8_t *code, size_t len)
{
    size_t i = 0;
    while (i < len && i < 14 && legacy_prefix(code[i]))
        i++;
    if (i < len && (code[i] & 0xf0) == 0x40) /* REX */
        i++;
    if (i + 1 >= len || code[i] != 0xff)
        return 0;
    uint8_t modrm = code[i + 1];
    int reg = modrm >> 3 & 7;
    return modrm >> 6 == 3 && (reg == 3 || reg == 5) ? i + 1 : 0;
}

/* LOCK is allowed only on these, with a memory destination (Intel SDM, LOCK); on anything
 * else a CPU raises #UD, and the translator may die of it (lock cmpsd does). The offset of
 * the opcode when the instruction at code[0] has a LOCK it may not have; 0 otherwise. */
static size_t bad_lock_opcode(const uint8_t *code, size_t len)
{
    size_t i = 0;
    bool lock = false;
    while (i < len && i < 14 && legacy_prefix(code[i]))
        lock |= code[i++] == 0xf0;
    if (!lock)
        return 0;
    size_t opcode = i;
    if (i < len && (code[i] & 0xf0) == 0x40) /* REX */
        opcode = ++i;
    if (i + 1 >= len)
        return 0; /* cut short: the translator faults fetching the rest */
    bool two = code[i] == 0x0f;
    if (two && i + 2 >= len)
        return 0;
    uint8_t op = code[i + two], modrm = code[i + two + 1];
    int reg = modrm >> 3 & 7;
    bool ok;
    if (!two)
        ok = (op < 0x40 && (op & 7) <= 1 && (op >> 3 & 7) != 7) || op == 0x86 || op == 0x87 ||
             ((op == 0x80 || op == 0x81 || op == 0x83) && reg != 7) ||
             ((op == 0xf6 || op == 0xf7) && (reg == 2 || reg == 3)) ||
             ((op == 0xfe || op == 0xff) && reg <= 1);
    else
        ok = op == 0xab || op == 0xb3 || op == 0xbb || op == 0xb0 || op == 0xb1 || op == 0xc0 ||
             op == 0xc1 || (op == 0xba && reg >= 5) || (op == 0xc7 && reg == 1);
    return ok && modrm >> 6 != 3 ? 0 : opcode;
}

/* Decodes the block from pc as the translator will, up to its first branch. */
static uint64_t scan_block(struct page_source *src, uint64_t pc, int max_insns)
{
    static csh cs;
    static bool cs_ready;
    if (!cs_ready && cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
        return NO_ADDR;
    cs_ready = true;
    size_t len = SCAN_MAX;
    const uint8_t *code = src->code(src, pc, &len);
    if (!code)
        return NO_ADDR;
    cs_insn *insn = cs_malloc(cs);
    uint64_t found = NO_ADDR, addr = pc;
    const uint8_t *p = code;
    size_t left = len;
    for (int n = 0; n < max_insns && left > 0; n++) {
        size_t modrm = far_branch_modrm(p, left), opcode = bad_lock_opcode(p, left);
        if (modrm || opcode) {
            found = addr + (modrm ? modrm : opcode);
            undefined_byte = modrm ? (uint8_t)(p[modrm] | 0x38) : 0xd6;
            break;
        }
        if (!cs_disasm_iter(cs, &p, &left, &addr, insn))
            break; /* undefined: the translator raises #UD there itself */
        if (cs_insn_group(cs, insn, CS_GRP_JUMP) || cs_insn_group(cs, insn, CS_GRP_CALL) ||
            cs_insn_group(cs, insn, CS_GRP_RET) || cs_insn_group(cs, insn, CS_GRP_INT))
            break;
    }
    cs_free(insn, 1);
    return found;
}

void gen_intermediate_code_x86_64(void *cpu, void *tb, int max_insns);
void gen_intermediate_code_x86_64(void *cpu, void *tb, int max_insns)
{
    struct page_source *src = page_source_current();
    /* TranslationBlock's first field is the block's pc (QEMU 5, which 2.0.1 is built on). */
    uint64_t pc = *(const uint64_t *)tb;
    undefined_at = src && src->code ? scan_block(src, pc, max_insns) : NO_ADDR;
    real_gen_code(cpu, tb, max_insns);
    undefined_at = NO_ADDR;
}

uint32_t cpu_ldub_code_x86_64(void *env, uint64_t addr);
uint32_t cpu_ldub_code_x86_64(void *env, uint64_t addr)
{
    uint32_t b = real_ldub_code(env, addr);
    return addr == undefined_at ? undefined_byte : b;
}

/* Resolved before any engine exists, as fault_pc.c's helpers. */
__attribute__((constructor)) static void x86_far_branch_resolve(void)
{
    real_gen_code = (gen_code_fn)dlsym(RTLD_NEXT, "gen_intermediate_code_x86_64");
    real_ldub_code = (ldub_code_fn)dlsym(RTLD_NEXT, "cpu_ldub_code_x86_64");
}

bool x86_far_branch_wired(void) { return real_gen_code && real_ldub_code; }
