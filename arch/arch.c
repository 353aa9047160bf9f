#include "arch.h"

#include "le.h"

extern const struct arch_desc arch_x86_64;
extern const struct arch_desc arch_aarch64;

static const struct arch_desc *const arch_table[ARCH_COUNT] = {
    [ARCH_X86_64] = &arch_x86_64,
    [ARCH_AARCH64] = &arch_aarch64,
};

const struct arch_desc *arch_get(enum arch_id id)
{
    return (unsigned)id < ARCH_COUNT ? arch_table[id] : NULL;
}

const struct arch_desc *arch_for_elf_machine(uint16_t machine)
{
    for (int i = 0; i < ARCH_COUNT; i++)
        if (arch_table[i]->elf_machine == machine)
            return arch_table[i];
    return NULL;
}

bool arch_trap_signal(const struct arch_desc *a, int intno, int *sig, int *si_code)
{
    for (size_t i = 0; i < a->trap_count; i++) {
        if (a->traps[i].intno == intno) {
            *sig = a->traps[i].sig;
            *si_code = a->traps[i].si_code;
            return true;
        }
    }
    return false;
}

void arch_stat_put_times(const struct lx_kstat *st, uint8_t *out)
{
    le_put64(out + 72, (uint64_t)st->atime_sec);
    le_put64(out + 80, st->atime_nsec);
    le_put64(out + 88, (uint64_t)st->mtime_sec);
    le_put64(out + 96, st->mtime_nsec);
    le_put64(out + 104, (uint64_t)st->ctime_sec);
    le_put64(out + 112, st->ctime_nsec);
}
