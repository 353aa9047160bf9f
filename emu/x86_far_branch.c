/* A far call or jump with a register operand (FF /3 or FF /5 with mod = 3) makes Debian's
 * Unicorn 2.0.1 abort ("tcg fatal error", tcg.c:3073): its x86 translator reads the far
 * pointer from a memory operand the instruction does not have. The instruction is undefined,
 * and a CPU raises #UD (Linux: SIGILL) for it; garbage a guest jumps into can hold it.
 *
 * The translator fetches instruction bytes through cpu_ldub_code_x86_64() and translates a
 * block in gen_intermediate_code_x86_64(), both reached through interposable relocations. The
 * wrapper of the latter decodes the block ahead of the translator and, if an instruction of it
 * is such a far branch, the byte fetches during that translation read its ModRM byte as /7
 * (FF /7 is undefined too, and the translator raises #UD for it at the instruction). Guest
 * memory is not changed. */
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
/* The ModRM byte to read as /7 during the translation in progress. */
static uint64_t undefined_modrm = NO_ADDR;

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
        size_t modrm = far_branch_modrm(p, left);
        if (modrm) {
            found = addr + modrm;
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
    undefined_modrm = src && src->code ? scan_block(src, pc, max_insns) : NO_ADDR;
    real_gen_code(cpu, tb, max_insns);
    undefined_modrm = NO_ADDR;
}

uint32_t cpu_ldub_code_x86_64(void *env, uint64_t addr);
uint32_t cpu_ldub_code_x86_64(void *env, uint64_t addr)
{
    uint32_t b = real_ldub_code(env, addr);
    return addr == undefined_modrm ? (b | 0x38) : b; /* reg field 7 */
}

/* Resolved before any engine exists, as fault_pc.c's helpers. */
__attribute__((constructor)) static void x86_far_branch_resolve(void)
{
    real_gen_code = (gen_code_fn)dlsym(RTLD_NEXT, "gen_intermediate_code_x86_64");
    real_ldub_code = (ldub_code_fn)dlsym(RTLD_NEXT, "cpu_ldub_code_x86_64");
}

bool x86_far_branch_wired(void) { return real_gen_code && real_ldub_code; }
