/* The initial process state elf_image_load builds: segments, brk, the stack mapping, and
 * argc/argv/envp/auxv and their strings placed exactly as fs/exec.c and fs/binfmt_elf.c
 * create_elf_tables() place them (spec 7.8, 7.9, 1.6). Read back through the address space of
 * a real machine; then the same seen from inside a static glibc guest (auxv_dump). */
#include <criterion/criterion.h>
#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/arena.h"
#include "emu/aspace.h"
#include "emu/emu.h"
#include "emu/loader.h"
#include "guest_run.h"

#define PAGE         4096ULL
#define PAGE_DOWN(x) ((x) & ~(PAGE - 1))
#define PAGE_UP(x)   (((x) + PAGE - 1) & ~(PAGE - 1))
#define ERRLEN       512
#define STACK_SIZE   (8ULL << 20)
#define MAX_ITEMS    64

/* ---- a machine with one address space and a loaded guest -------------------------------- */

struct machine {
    const struct arch_desc *arch;
    struct arena *arena;
    struct emu *emu;
    struct aspace *as;
    struct elf_image *img;
    uint8_t *file; /* the guest file's bytes */
    size_t file_size;
    struct exec_layout lay;
};

static const char *const default_argv[] = {"/usr/bin/prog", "-x", "second argument", "",
                                           "last",          NULL};
static const char *const default_envp[] = {"HOME=/home/user", "EMPTY=", "LANG=C.UTF-8", NULL};
static const char default_execfn[] = "/usr/local/bin/the-execfn";

static struct exec_args default_args(void)
{
    struct exec_args a = {.argv = default_argv,
                          .envp = default_envp,
                          .execfn = default_execfn,
                          .uid = 1234,
                          .gid = 5678,
                          .stack_size = STACK_SIZE};
    for (int i = 0; i < 16; i++)
        a.random[i] = (uint8_t)(0xa0 + i * 3);
    return a;
}

static uint8_t *slurp(const char *path, size_t *size)
{
    uint8_t *buf = file_read_whole(path, size);
    cr_assert_not_null(buf, "cannot read %s (are the guests built?)", path);
    return buf;
}

/* Opens arch/name and creates a machine for it; nothing is loaded yet. */
static void machine_open(struct machine *m, const char *arch, const char *name)
{
    memset(m, 0, sizeof(*m));
    const char *path = guest_path(arch, name);
    m->file = slurp(path, &m->file_size);
    char err[ERRLEN];
    enum elf_open_error kind;
    m->img = elf_image_open(path, &kind, err, sizeof(err));
    cr_assert_not_null(m->img, "%s: %s", path, err);
    m->arch = elf_image_arch(m->img);
    m->arena = arena_create(1ULL << 30);
    cr_assert_not_null(m->arena);
    struct emu_config cfg = {.arch = m->arch};
    const char *why = "?";
    m->emu = emu_create(&cfg, m->arena, &why);
    cr_assert_not_null(m->emu, "emu_create: %s", why);
    m->as = aspace_create(m->emu, &why);
    cr_assert_not_null(m->as, "aspace_create: %s", why);
}

static void machine_load(struct machine *m, const struct exec_args *args)
{
    char err[ERRLEN] = "";
    int rc = elf_image_load(m->img, m->as, args, &m->lay, err, sizeof(err));
    cr_assert_eq(rc, 0, "elf_image_load: %s", err);
}

static void machine_close(struct machine *m)
{
    aspace_destroy(m->as);
    emu_destroy(m->emu);
    arena_destroy(m->arena);
    elf_image_close(m->img);
    free(m->file);
}

static const Elf64_Ehdr *file_ehdr(const struct machine *m) { return (const Elf64_Ehdr *)m->file; }

static const Elf64_Phdr *file_phdr(const struct machine *m, int i)
{
    return (const Elf64_Phdr *)(m->file + file_ehdr(m)->e_phoff + (size_t)i * sizeof(Elf64_Phdr));
}

static guest_addr_t bias(const struct machine *m)
{
    return file_ehdr(m)->e_type == ET_DYN ? m->arch->pie_base : 0;
}

/* ---- reading guest memory ------------------------------------------------------------- */

static uint64_t rd64(const struct machine *m, guest_addr_t addr)
{
    uint64_t v = 0;
    cr_assert_eq(aspace_read(m->as, addr, &v, 8), 0, "cannot read 0x%llx",
                 (unsigned long long)addr);
    return v;
}

/* The string at addr, in a static buffer per call slot. */
static const char *rdstr(const struct machine *m, guest_addr_t addr)
{
    static char bufs[4][1 << 12];
    static int slot;
    char *b = bufs[slot++ % 4];
    long n = aspace_read_str(m->as, addr, b, sizeof(bufs[0]));
    cr_assert_geq(n, 0, "cannot read a string at 0x%llx (%ld)", (unsigned long long)addr, n);
    return b;
}

/* What sits above sp, parsed. */
struct initial_stack {
    uint64_t argc;
    guest_addr_t argv[MAX_ITEMS];
    guest_addr_t envp[MAX_ITEMS];
    size_t envc;
    guest_addr_t auxv_at;
    uint64_t aux[MAX_ITEMS][2]; /* up to and including AT_NULL */
    int naux;
};

static void read_stack(const struct machine *m, struct initial_stack *s)
{
    memset(s, 0, sizeof(*s));
    guest_addr_t p = m->lay.sp;
    s->argc = rd64(m, p);
    p += 8;
    cr_assert_lt(s->argc, MAX_ITEMS, "argc %llu", (unsigned long long)s->argc);
    for (uint64_t i = 0; i < s->argc; i++, p += 8)
        s->argv[i] = rd64(m, p);
    cr_assert_eq(rd64(m, p), 0, "argv[argc] is not NULL");
    p += 8;
    for (;; p += 8) {
        guest_addr_t e = rd64(m, p);
        if (!e)
            break;
        cr_assert_lt(s->envc, MAX_ITEMS - 1, "no envp terminator");
        s->envp[s->envc++] = e;
    }
    p += 8;
    s->auxv_at = p;
    for (;; p += 16) {
        cr_assert_lt(s->naux, MAX_ITEMS, "no AT_NULL");
        s->aux[s->naux][0] = rd64(m, p);
        s->aux[s->naux][1] = rd64(m, p + 8);
        if (s->aux[s->naux++][0] == LX_AT_NULL)
            break;
    }
}

static uint64_t aux_value(const struct initial_stack *s, uint64_t type)
{
    for (int i = 0; i < s->naux; i++)
        if (s->aux[i][0] == type)
            return s->aux[i][1];
    cr_assert_fail("no auxv entry %llu", (unsigned long long)type);
    return 0;
}

static bool aux_present(const struct initial_stack *s, uint64_t type)
{
    for (int i = 0; i < s->naux; i++)
        if (s->aux[i][0] == type)
            return true;
    return false;
}

static size_t count(const char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

/* Loads arch/name with args; the caller closes m. */
static void load(struct machine *m, const char *arch, const char *name,
                 const struct exec_args *args, struct initial_stack *s)
{
    machine_open(m, arch, name);
    machine_load(m, args);
    read_stack(m, s);
}

/* ---- argc, argv, envp ------------------------------------------------------------------- */

/* spec 7.8: sp 16-byte aligned at entry, pointing at argc. */
Test(initial_stack, sp_is_16_byte_aligned_and_points_at_argc)
{
    for (int a = 0; a < 2; a++) {
        /* Vary argc and string lengths so that both alignments of the pointer block occur. */
        const char *const argv1[] = {"p", NULL};
        const char *const argv2[] = {"prog", "a", NULL};
        const char *const argv3[] = {"prog", "ab", "abc", NULL};
        const char *const *argvs[] = {argv1, argv2, argv3, default_argv};
        for (size_t i = 0; i < sizeof(argvs) / sizeof(argvs[0]); i++) {
            struct machine m;
            struct initial_stack s;
            struct exec_args args = default_args();
            args.argv = argvs[i];
            load(&m, guest_arches[a], "hello", &args, &s);
            cr_expect_eq(m.lay.sp % 16, 0, "%s: sp 0x%llx", guest_arches[a],
                         (unsigned long long)m.lay.sp);
            cr_expect_eq(s.argc, count(argvs[i]));
            cr_expect(m.lay.sp >= m.lay.stack_low && m.lay.sp < m.arch->stack_top);
            machine_close(&m);
        }
    }
}

/* spec 7.8: argv[i] point to the given strings, then NULL; envp likewise. */
Test(initial_stack, argv_and_envp_point_to_the_given_strings)
{
    for (int a = 0; a < 2; a++) {
        struct machine m;
        struct initial_stack s;
        struct exec_args args = default_args();
        load(&m, guest_arches[a], "hello", &args, &s);
        cr_assert_eq(s.argc, count(default_argv));
        for (size_t i = 0; i < s.argc; i++)
            cr_expect_str_eq(rdstr(&m, s.argv[i]), default_argv[i], "argv[%zu]", i);
        cr_assert_eq(s.envc, count(default_envp));
        for (size_t i = 0; i < s.envc; i++)
            cr_expect_str_eq(rdstr(&m, s.envp[i]), default_envp[i], "envp[%zu]", i);
        machine_close(&m);
    }
}

Test(initial_stack, null_envp_gives_an_empty_environment)
{
    for (int a = 0; a < 2; a++) {
        struct machine m;
        struct initial_stack s;
        struct exec_args args = default_args();
        args.envp = NULL;
        load(&m, guest_arches[a], "hello", &args, &s);
        cr_expect_eq(s.envc, 0);
        cr_expect_eq(s.auxv_at, m.lay.sp + 8 * (1 + s.argc + 1 + 1));
        /* The file name directly above the last argument string. */
        guest_addr_t last = s.argv[s.argc - 1];
        cr_expect_eq(aux_value(&s, LX_AT_EXECFN), last + strlen(default_argv[s.argc - 1]) + 1);
        machine_close(&m);
    }
}

/* spec 7.8, fs/exec.c: a NULL word at the very top, the file name below it, then the
 * environment strings and the argument strings, each block in order (argv[0] lowest), all
 * contiguous. */
Test(initial_stack, strings_are_placed_as_fs_exec_places_them)
{
    for (int a = 0; a < 2; a++) {
        struct machine m;
        struct initial_stack s;
        struct exec_args args = default_args();
        load(&m, guest_arches[a], "hello", &args, &s);
        guest_addr_t top = m.arch->stack_top;
        cr_expect_eq(rd64(&m, top - 8), 0, "no NULL word at the top");
        guest_addr_t execfn = top - 8 - sizeof(default_execfn);
        cr_expect_eq(aux_value(&s, LX_AT_EXECFN), execfn, "AT_EXECFN 0x%llx, expected 0x%llx",
                     (unsigned long long)aux_value(&s, LX_AT_EXECFN), (unsigned long long)execfn);
        /* Walk down: envp[envc-1] ends where execfn starts, and so on. */
        guest_addr_t next = execfn;
        for (size_t i = s.envc; i-- > 0;) {
            next -= strlen(default_envp[i]) + 1;
            cr_expect_eq(s.envp[i], next, "envp[%zu] at 0x%llx, expected 0x%llx", i,
                         (unsigned long long)s.envp[i], (unsigned long long)next);
        }
        for (size_t i = s.argc; i-- > 0;) {
            next -= strlen(default_argv[i]) + 1;
            cr_expect_eq(s.argv[i], next, "argv[%zu] at 0x%llx, expected 0x%llx", i,
                         (unsigned long long)s.argv[i], (unsigned long long)next);
        }
        /* So the order is argv[0] < ... < argv[argc-1] < envp[0] < ... < execfn. */
        for (size_t i = 1; i < s.argc; i++)
            cr_expect_lt(s.argv[i - 1], s.argv[i]);
        cr_expect_lt(s.argv[s.argc - 1], s.envp[0]);
        for (size_t i = 1; i < s.envc; i++)
            cr_expect_lt(s.envp[i - 1], s.envp[i]);
        cr_expect_lt(s.envp[s.envc - 1], execfn);
        machine_close(&m);
    }
}

/* spec 7.8, create_elf_tables(): below the argument strings, 16-byte alignment, the platform
 * string, the 16 random bytes, then the vectors, whose start is rounded down to 16 — so every
 * address is determined. */
Test(initial_stack, platform_random_and_vectors_are_placed_as_create_elf_tables_does)
{
    for (int a = 0; a < 2; a++) {
        struct machine m;
        struct initial_stack s;
        struct exec_args args = default_args();
        load(&m, guest_arches[a], "hello", &args, &s);
        size_t plen = strlen(m.arch->platform) + 1;
        guest_addr_t platform = (s.argv[0] & ~15ULL) - plen;
        guest_addr_t random = platform - 16;
        cr_expect_eq(aux_value(&s, LX_AT_PLATFORM), platform, "AT_PLATFORM 0x%llx, expected 0x%llx",
                     (unsigned long long)aux_value(&s, LX_AT_PLATFORM),
                     (unsigned long long)platform);
        cr_expect_eq(aux_value(&s, LX_AT_RANDOM), random, "AT_RANDOM 0x%llx, expected 0x%llx",
                     (unsigned long long)aux_value(&s, LX_AT_RANDOM), (unsigned long long)random);
        /* STACK_ROUND(p - auxv words, argc + envp + argv items) */
        size_t words = 2 * (size_t)s.naux + (s.argc + 1) + (s.envc + 1) + 1;
        guest_addr_t sp = (random - 8 * words) & ~15ULL;
        cr_expect_eq(m.lay.sp, sp, "sp 0x%llx, expected 0x%llx", (unsigned long long)m.lay.sp,
                     (unsigned long long)sp);
        /* The vectors end at or below the random bytes. */
        cr_expect_leq(s.auxv_at + 16 * (size_t)s.naux, random);
        cr_expect_eq(m.lay.auxv, s.auxv_at);
        machine_close(&m);
    }
}

/* ---- the auxiliary vector --------------------------------------------------------------- */

static const uint64_t linux_aux_order[] = {
    LX_AT_MINSIGSTKSZ, LX_AT_HWCAP,  LX_AT_PAGESZ, LX_AT_CLKTCK,   LX_AT_PHDR,
    LX_AT_PHENT,       LX_AT_PHNUM,  LX_AT_BASE,   LX_AT_FLAGS,    LX_AT_ENTRY,
    LX_AT_UID,         LX_AT_EUID,   LX_AT_GID,    LX_AT_EGID,     LX_AT_SECURE,
    LX_AT_RANDOM,      LX_AT_HWCAP2, LX_AT_EXECFN, LX_AT_PLATFORM,
};
#define LINUX_AUX_COUNT (sizeof(linux_aux_order) / sizeof(linux_aux_order[0]))

static void expect_aux_order(const struct initial_stack *s, bool rseq, const char *what)
{
    size_t want = LINUX_AUX_COUNT + (rseq ? 2 : 0) + 1;
    cr_expect_eq((size_t)s->naux, want, "%s: %d auxv entries, expected %zu", what, s->naux, want);
    for (size_t i = 0; i < LINUX_AUX_COUNT && i < (size_t)s->naux; i++)
        cr_expect_eq(s->aux[i][0], linux_aux_order[i], "%s: auxv[%zu] is type %llu, expected %llu",
                     what, i, (unsigned long long)s->aux[i][0],
                     (unsigned long long)linux_aux_order[i]);
    if (rseq && (size_t)s->naux >= LINUX_AUX_COUNT + 3) {
        cr_expect_eq(s->aux[LINUX_AUX_COUNT][0], LX_AT_RSEQ_FEATURE_SIZE, "%s", what);
        cr_expect_eq(s->aux[LINUX_AUX_COUNT + 1][0], LX_AT_RSEQ_ALIGN, "%s", what);
    }
    cr_expect_eq(s->aux[s->naux - 1][0], LX_AT_NULL, "%s: last entry not AT_NULL", what);
    cr_expect_eq(s->aux[s->naux - 1][1], 0, "%s: AT_NULL value", what);
}

/* spec 7.8 and 1.6 (K61): Linux 6.1's entries in its order, no AT_RSEQ_*. */
Test(initial_stack, auxv_has_linux_6_1_entries_in_kernel_order)
{
    for (int a = 0; a < 2; a++) {
        struct machine m;
        struct initial_stack s;
        struct exec_args args = default_args();
        load(&m, guest_arches[a], "hello", &args, &s);
        expect_aux_order(&s, false, guest_arches[a]);
        cr_expect_not(aux_present(&s, LX_AT_RSEQ_FEATURE_SIZE));
        cr_expect_not(aux_present(&s, LX_AT_RSEQ_ALIGN));
        machine_close(&m);
    }
}

/* spec 1.6 (K63: 28/32; KNEW: 32/32): the AT_RSEQ_* pair after AT_PLATFORM. */
Test(initial_stack, auxv_has_rseq_entries_when_the_profile_has_them)
{
    static const uint32_t sizes[][2] = {{28, 32}, {32, 32}};
    for (int a = 0; a < 2; a++) {
        for (int k = 0; k < 2; k++) {
            struct machine m;
            struct initial_stack s;
            struct exec_args args = default_args();
            args.rseq_feature_size = sizes[k][0];
            args.rseq_align = sizes[k][1];
            load(&m, guest_arches[a], "hello", &args, &s);
            expect_aux_order(&s, true, guest_arches[a]);
            cr_expect_eq(aux_value(&s, LX_AT_RSEQ_FEATURE_SIZE), sizes[k][0]);
            cr_expect_eq(aux_value(&s, LX_AT_RSEQ_ALIGN), sizes[k][1]);
            machine_close(&m);
        }
    }
}

/* spec 7.8: the values of the plain entries. */
Test(initial_stack, auxv_values_match_the_arch_and_the_args)
{
    for (int a = 0; a < 2; a++) {
        struct machine m;
        struct initial_stack s;
        struct exec_args args = default_args();
        load(&m, guest_arches[a], "hello", &args, &s);
        const struct arch_desc *arch = m.arch;
        cr_expect_eq(aux_value(&s, LX_AT_MINSIGSTKSZ), arch->minsigstksz);
        cr_expect_eq(aux_value(&s, LX_AT_HWCAP), arch->hwcap);
        cr_expect_eq(aux_value(&s, LX_AT_HWCAP2), arch->hwcap2);
        cr_expect_eq(aux_value(&s, LX_AT_PAGESZ), 4096);
        cr_expect_eq(aux_value(&s, LX_AT_CLKTCK), 100);
        cr_expect_eq(aux_value(&s, LX_AT_PHENT), 56);
        cr_expect_eq(aux_value(&s, LX_AT_PHNUM), file_ehdr(&m)->e_phnum);
        cr_expect_eq(aux_value(&s, LX_AT_BASE), 0);
        cr_expect_eq(aux_value(&s, LX_AT_FLAGS), 0);
        cr_expect_eq(aux_value(&s, LX_AT_ENTRY), file_ehdr(&m)->e_entry);
        cr_expect_eq(aux_value(&s, LX_AT_UID), 1234);
        cr_expect_eq(aux_value(&s, LX_AT_EUID), 1234);
        cr_expect_eq(aux_value(&s, LX_AT_GID), 5678);
        cr_expect_eq(aux_value(&s, LX_AT_EGID), 5678);
        cr_expect_eq(aux_value(&s, LX_AT_SECURE), 0);
        cr_expect_eq(m.lay.entry, file_ehdr(&m)->e_entry);
        cr_expect_eq(m.lay.load_bias, 0);
        machine_close(&m);
    }
}

/* spec 7.8: AT_RANDOM points at exactly the 16 given bytes; AT_EXECFN and AT_PLATFORM at their
 * strings. */
Test(initial_stack, auxv_pointers_point_at_random_execfn_and_platform)
{
    for (int a = 0; a < 2; a++) {
        struct machine m;
        struct initial_stack s;
        struct exec_args args = default_args();
        load(&m, guest_arches[a], "hello", &args, &s);
        uint8_t random[16];
        cr_assert_eq(aspace_read(m.as, aux_value(&s, LX_AT_RANDOM), random, 16), 0);
        cr_expect_eq(memcmp(random, args.random, 16), 0, "AT_RANDOM bytes differ");
        cr_expect_str_eq(rdstr(&m, aux_value(&s, LX_AT_EXECFN)), default_execfn);
        cr_expect_str_eq(rdstr(&m, aux_value(&s, LX_AT_PLATFORM)), guest_arches[a]);
        cr_expect_str_eq(m.arch->platform, guest_arches[a]);
        machine_close(&m);
    }
}

/* spec 7.8: AT_PHDR is where the program headers are mapped: reading phnum * phent bytes there
 * gives the file's program header table. */
Test(initial_stack, at_phdr_points_at_the_mapped_program_headers)
{
    const char *names[] = {"hello", "hello_pie"};
    for (int a = 0; a < 2; a++) {
        for (int n = 0; n < 2; n++) {
            struct machine m;
            struct initial_stack s;
            struct exec_args args = default_args();
            load(&m, guest_arches[a], names[n], &args, &s);
            const Elf64_Ehdr *eh = file_ehdr(&m);
            guest_addr_t phdr = aux_value(&s, LX_AT_PHDR);
            cr_expect_eq(phdr, m.lay.phdr);
            size_t len = (size_t)eh->e_phnum * sizeof(Elf64_Phdr);
            uint8_t *buf = malloc(len);
            cr_assert_eq(aspace_read(m.as, phdr, buf, len), 0, "%s/%s: AT_PHDR 0x%llx unreadable",
                         guest_arches[a], names[n], (unsigned long long)phdr);
            cr_expect_eq(memcmp(buf, m.file + eh->e_phoff, len), 0,
                         "%s/%s: bytes at AT_PHDR are not the program headers", guest_arches[a],
                         names[n]);
            free(buf);
            machine_close(&m);
        }
    }
}

/* A static PIE runs at the arch's PIE base: entry, AT_ENTRY and AT_PHDR carry the bias;
 * AT_BASE stays 0 (no interpreter). */
Test(initial_stack, static_pie_entries_carry_the_load_bias)
{
    for (int a = 0; a < 2; a++) {
        struct machine m;
        struct initial_stack s;
        struct exec_args args = default_args();
        load(&m, guest_arches[a], "hello_pie", &args, &s);
        const Elf64_Ehdr *eh = file_ehdr(&m);
        cr_assert_eq(eh->e_type, ET_DYN);
        cr_expect_eq(m.lay.load_bias, m.arch->pie_base);
        cr_expect_eq(m.lay.entry, eh->e_entry + m.arch->pie_base);
        cr_expect_eq(aux_value(&s, LX_AT_ENTRY), eh->e_entry + m.arch->pie_base);
        cr_expect_eq(aux_value(&s, LX_AT_BASE), 0);
        cr_expect_geq(aux_value(&s, LX_AT_PHDR), m.arch->pie_base);
        expect_aux_order(&s, false, guest_arches[a]);
        machine_close(&m);
    }
}

/* ---- mappings --------------------------------------------------------------------------- */

/* spec 7.8: the stack mapping is [stack_top - stack_size, stack_top), read-write (GNU_STACK
 * says RW), marked as the stack. */
Test(initial_stack, stack_mapping_spans_stack_size_below_stack_top)
{
    static const uint64_t sizes[] = {STACK_SIZE, 1ULL << 20, 256ULL << 10};
    for (int a = 0; a < 2; a++) {
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            struct machine m;
            struct initial_stack s;
            struct exec_args args = default_args();
            args.stack_size = sizes[i];
            load(&m, guest_arches[a], "hello", &args, &s);
            struct vma_info v;
            cr_assert(aspace_lookup(m.as, m.arch->stack_top - 1, &v));
            cr_expect_eq(v.start, m.arch->stack_top - sizes[i], "stack starts at 0x%llx",
                         (unsigned long long)v.start);
            cr_expect_eq(v.end, m.arch->stack_top);
            cr_expect_eq(v.prot, LX_PROT_READ | LX_PROT_WRITE);
            cr_expect(v.flags & ASPACE_MAP_STACK);
            cr_expect_eq(m.lay.stack_low, m.arch->stack_top - sizes[i]);
            cr_expect(aspace_range_free(m.as, m.arch->stack_top - sizes[i] - PAGE, PAGE),
                      "something mapped right below the stack");
            machine_close(&m);
        }
    }
}

/* fs/exec.c setup_arg_pages: PT_GNU_STACK with PF_X (EXSTACK_ENABLE_X) makes the stack
 * executable; without PF_X it is not. */
Test(initial_stack, gnu_stack_with_pf_x_makes_the_stack_executable)
{
    for (int a = 0; a < 2; a++) {
        struct machine m;
        machine_open(&m, guest_arches[a], "hello");
        /* Reopen the image from a copy whose PT_GNU_STACK has PF_X. */
        uint8_t *copy = malloc(m.file_size);
        memcpy(copy, m.file, m.file_size);
        const Elf64_Ehdr *eh = (const Elf64_Ehdr *)copy;
        bool found = false;
        for (int i = 0; i < eh->e_phnum; i++) {
            Elf64_Phdr *p = (Elf64_Phdr *)(copy + eh->e_phoff + (size_t)i * sizeof(Elf64_Phdr));
            if (p->p_type == PT_GNU_STACK) {
                p->p_flags |= PF_X;
                found = true;
            }
        }
        cr_assert(found, "no PT_GNU_STACK");
        char err[ERRLEN];
        enum elf_open_error kind;
        elf_image_close(m.img);
        m.img = elf_image_open_mem(copy, m.file_size, "execstack", &kind, err, sizeof(err));
        free(copy);
        cr_assert_not_null(m.img, "%s", err);
        struct exec_args args = default_args();
        machine_load(&m, &args);
        struct vma_info v;
        cr_assert(aspace_lookup(m.as, m.arch->stack_top - 1, &v));
        cr_expect_eq(v.prot, LX_PROT_READ | LX_PROT_WRITE | LX_PROT_EXEC);
        machine_close(&m);
    }
}

/* Whether a byte of loaded code was rewritten as a virtualized time instruction. */
static bool in_time_site(const struct machine *m, guest_addr_t addr)
{
    struct time_site site;
    for (guest_addr_t k = 0; k < 4; k++)
        if (aspace_time_site(m->as, addr - k, &site) && k < site.len)
            return true;
    return false;
}

static int prot_of(uint32_t flags)
{
    return (flags & PF_R ? LX_PROT_READ : 0) | (flags & PF_W ? LX_PROT_WRITE : 0) |
           (flags & PF_X ? LX_PROT_EXEC : 0);
}

/* Each PT_LOAD is mapped page by page with its protection (the union where two segments share
 * a page), holds the file's bytes (apart from virtualized time instructions), and its bss
 * reads as zero. */
Test(initial_stack, segments_are_mapped_with_their_protections_and_contents)
{
    const char *names[] = {"hello", "hello_pie"};
    for (int a = 0; a < 2; a++) {
        for (int n = 0; n < 2; n++) {
            struct machine m;
            struct initial_stack s;
            struct exec_args args = default_args();
            load(&m, guest_arches[a], names[n], &args, &s);
            const Elf64_Ehdr *eh = file_ehdr(&m);
            guest_addr_t b = bias(&m);
            int checked_exec = 0, checked_bss = 0;
            for (int i = 0; i < eh->e_phnum; i++) {
                const Elf64_Phdr *p = file_phdr(&m, i);
                if (p->p_type != PT_LOAD)
                    continue;
                guest_addr_t start = p->p_vaddr + b;
                /* Protection of every page. */
                for (guest_addr_t pg = PAGE_DOWN(start); pg < start + p->p_memsz; pg += PAGE) {
                    int want = 0;
                    for (int j = 0; j < eh->e_phnum; j++) {
                        const Elf64_Phdr *q = file_phdr(&m, j);
                        guest_addr_t qs = q->p_vaddr + b;
                        if (q->p_type == PT_LOAD && PAGE_DOWN(qs) <= pg &&
                            pg < PAGE_UP(qs + q->p_memsz))
                            want |= prot_of(q->p_flags);
                    }
                    struct vma_info v;
                    cr_assert(aspace_lookup(m.as, pg, &v), "%s/%s: page 0x%llx unmapped",
                              guest_arches[a], names[n], (unsigned long long)pg);
                    cr_expect_eq(v.prot, want, "%s/%s: page 0x%llx prot %d, expected %d",
                                 guest_arches[a], names[n], (unsigned long long)pg, v.prot, want);
                    if (v.prot != want)
                        break;
                }
                /* File bytes; for the last segment, up to the end of its last page, which
                 * Linux zeroes past the file data (padzero) like the rest of the bss. */
                bool last = true;
                for (int j = i + 1; j < eh->e_phnum; j++)
                    last &= file_phdr(&m, j)->p_type != PT_LOAD;
                uint64_t span = last ? PAGE_UP(start + p->p_memsz) - start : p->p_memsz;
                uint8_t *mem = malloc(span);
                cr_assert_eq(aspace_read(m.as, start, mem, span), 0);
                size_t diffs = 0, patched = 0;
                for (uint64_t off = 0; off < p->p_filesz; off++) {
                    if (mem[off] == m.file[p->p_offset + off])
                        continue;
                    if (in_time_site(&m, start + off))
                        patched++;
                    else if (diffs++ < 4)
                        cr_expect_fail("%s/%s: byte at 0x%llx is 0x%02x, file has 0x%02x",
                                       guest_arches[a], names[n], (unsigned long long)(start + off),
                                       mem[off], m.file[p->p_offset + off]);
                }
                cr_expect_eq(diffs, 0);
                if (p->p_flags & PF_X)
                    checked_exec++;
                /* bss. */
                for (uint64_t off = p->p_filesz; off < span; off++)
                    if (mem[off] != 0) {
                        cr_expect_fail("%s/%s: bss byte at 0x%llx is 0x%02x", guest_arches[a],
                                       names[n], (unsigned long long)(start + off), mem[off]);
                        break;
                    }
                if (p->p_memsz > p->p_filesz)
                    checked_bss++;
                free(mem);
            }
            cr_expect_gt(checked_exec, 0);
            cr_expect_gt(checked_bss, 0);
            machine_close(&m);
        }
    }
}

/* spec 7.9: the initial break is the page-aligned end of the last PT_LOAD, with nothing mapped
 * there yet. */
Test(initial_stack, brk_is_page_aligned_end_of_last_segment)
{
    const char *names[] = {"hello", "hello_pie"};
    for (int a = 0; a < 2; a++) {
        for (int n = 0; n < 2; n++) {
            struct machine m;
            struct initial_stack s;
            struct exec_args args = default_args();
            load(&m, guest_arches[a], names[n], &args, &s);
            guest_addr_t end = 0;
            for (int i = 0; i < file_ehdr(&m)->e_phnum; i++) {
                const Elf64_Phdr *p = file_phdr(&m, i);
                if (p->p_type == PT_LOAD && p->p_vaddr + p->p_memsz > end)
                    end = p->p_vaddr + p->p_memsz;
            }
            guest_addr_t want = PAGE_UP(end + bias(&m));
            cr_expect_eq(m.lay.brk, want, "%s/%s: brk 0x%llx, expected 0x%llx", guest_arches[a],
                         names[n], (unsigned long long)m.lay.brk, (unsigned long long)want);
            cr_expect_eq(m.lay.brk % PAGE, 0);
            cr_expect(aspace_range_free(m.as, m.lay.brk, PAGE));
            cr_expect(aspace_range_mapped(m.as, m.lay.brk - PAGE, PAGE));
            machine_close(&m);
        }
    }
}

/* ---- limits and determinism ------------------------------------------------------------- */

/* Linux refuses (E2BIG) argument strings over a quarter of RLIMIT_STACK; the loader fails
 * cleanly with a message. */
Test(initial_stack, absurdly_large_argv_fails_with_a_message)
{
    for (int a = 0; a < 2; a++) {
        struct machine m;
        machine_open(&m, guest_arches[a], "hello");
        struct exec_args args = default_args();
        args.stack_size = 1ULL << 20;
        size_t len = args.stack_size / 4 + 1;
        char *big = malloc(len + 1);
        memset(big, 'x', len);
        big[len] = '\0';
        const char *const argv[] = {"prog", big, NULL};
        args.argv = argv;
        char err[ERRLEN] = "";
        struct exec_layout lay;
        cr_expect_eq(elf_image_load(m.img, m.as, &args, &lay, err, sizeof(err)), -1);
        cr_expect_not_null(strstr(err, "too large"), "message: %s", err);
        free(big);
        machine_close(&m);
    }
}

Test(initial_stack, absurdly_large_envp_fails_with_a_message)
{
    for (int a = 0; a < 2; a++) {
        struct machine m;
        machine_open(&m, guest_arches[a], "hello");
        struct exec_args args = default_args();
        args.stack_size = 1ULL << 20;
        /* Many small strings rather than one big one. */
        enum { N = 40 };
        static char strs[N][8192];
        const char *envp[N + 1];
        for (int i = 0; i < N; i++) {
            memset(strs[i], 'a' + i % 26, sizeof(strs[i]) - 1);
            strs[i][sizeof(strs[i]) - 1] = '\0';
            envp[i] = strs[i];
        }
        envp[N] = NULL;
        args.envp = envp;
        char err[ERRLEN] = "";
        struct exec_layout lay;
        cr_expect_eq(elf_image_load(m.img, m.as, &args, &lay, err, sizeof(err)), -1);
        cr_expect_not_null(strstr(err, "too large"), "message: %s", err);
        machine_close(&m);
    }
}

/* Many empty arguments: few string bytes (under a quarter of the stack), but their pointers
 * alone need more than the whole stack. Linux counts the pointers against the same limit
 * (fs/exec.c bprm_stack_limits: ptr_size) and fails with E2BIG; the loader must fail too, not
 * put sp below the stack mapping. */
Test(initial_stack, arguments_whose_pointers_overflow_the_stack_fail_with_a_message)
{
    for (int a = 0; a < 2; a++) {
        struct machine m;
        machine_open(&m, guest_arches[a], "hello");
        struct exec_args args = default_args();
        args.stack_size = 1ULL << 20;
        size_t n = 200000; /* 200000 string bytes < 256 KiB; 1.6 MB of pointers > 1 MiB */
        const char **argv = calloc(n + 2, sizeof(*argv));
        argv[0] = "prog";
        for (size_t i = 1; i <= n; i++)
            argv[i] = "";
        args.argv = argv;
        args.envp = NULL;
        char err[ERRLEN] = "";
        struct exec_layout lay;
        int rc = elf_image_load(m.img, m.as, &args, &lay, err, sizeof(err));
        cr_expect_eq(rc, -1, "%s: loaded, sp 0x%llx, stack from 0x%llx", guest_arches[a],
                     (unsigned long long)lay.sp, (unsigned long long)lay.stack_low);
        if (rc == 0)
            cr_expect_geq(lay.sp, lay.stack_low, "%s: sp below the stack mapping", guest_arches[a]);
        else
            cr_expect_not_null(strstr(err, "too large"), "message: %s", err);
        free(argv);
        machine_close(&m);
    }
}

/* Just under the limit is fine, and the long string arrives intact. */
Test(initial_stack, large_argv_under_the_limit_loads)
{
    for (int a = 0; a < 2; a++) {
        struct machine m;
        struct initial_stack s;
        struct exec_args args = default_args();
        args.stack_size = 1ULL << 20;
        size_t len = 100000;
        char *big = malloc(len + 1);
        for (size_t i = 0; i < len; i++)
            big[i] = (char)('a' + i % 26);
        big[len] = '\0';
        const char *const argv[] = {"prog", big, NULL};
        args.argv = argv;
        args.envp = NULL;
        load(&m, guest_arches[a], "hello", &args, &s);
        cr_assert_eq(s.argc, 2);
        char *back = malloc(len + 1);
        cr_assert_eq(aspace_read_str(m.as, s.argv[1], back, len + 1), (long)len);
        cr_expect_eq(memcmp(back, big, len + 1), 0);
        free(back);
        free(big);
        machine_close(&m);
    }
}

/* The same arguments give the same stack, byte for byte. */
Test(initial_stack, same_args_give_the_same_stack_bytes)
{
    for (int a = 0; a < 2; a++) {
        struct machine m1, m2;
        struct initial_stack s1, s2;
        struct exec_args args = default_args();
        load(&m1, guest_arches[a], "hello", &args, &s1);
        load(&m2, guest_arches[a], "hello", &args, &s2);
        cr_assert_eq(m1.lay.sp, m2.lay.sp);
        size_t len = m1.arch->stack_top - m1.lay.sp;
        uint8_t *b1 = malloc(len), *b2 = malloc(len);
        cr_assert_eq(aspace_read(m1.as, m1.lay.sp, b1, len), 0);
        cr_assert_eq(aspace_read(m2.as, m2.lay.sp, b2, len), 0);
        cr_expect_eq(memcmp(b1, b2, len), 0);
        free(b1);
        free(b2);
        machine_close(&m1);
        machine_close(&m2);
    }
}

/* ---- seen from the guest ---------------------------------------------------------------- */

static void expect_line(const char *out, const char *line, const char *what)
{
    char want[4200];
    snprintf(want, sizeof(want), "%s\n", line);
    const char *p = strstr(out, want);
    cr_expect(p && (p == out || p[-1] == '\n'), "%s: no line \"%s\" in:\n%s", what, line, out);
}

/* spec 7.8 and 1.6: a static glibc program reads the auxv the loader built: getauxval values,
 * AT_RSEQ_* only with the 6.18 profile, and the strings in fs/exec.c order. */
Test(initial_stack, auxv_dump_guest_sees_the_profiles_auxv)
{
    static const enum kernel_profile profiles[] = {KERNEL_6_1, KERNEL_6_18};
    static const char *const envp[] = {"A=1", "BB=22", NULL};
    const char *const guest_args[] = {"alpha", "beta", "", "gamma", NULL};
    for (int a = 0; a < 2; a++) {
        const char *arch = guest_arches[a];
        const struct arch_desc *desc = arch_get(a == 0 ? ARCH_X86_64 : ARCH_AARCH64);
        for (size_t k = 0; k < 2; k++) {
            struct guest_opts opts = {.profile = profiles[k], .envp = envp};
            static struct guest_result r;
            char what[64];
            snprintf(what, sizeof(what), "%s/%s", arch, k == 0 ? "6.1" : "6.18");
            cr_assert_eq(guest_run(arch, "auxv_dump", guest_args, &opts, &r), 0, "%s: %s", what,
                         r.err);
            cr_expect_eq(r.outcome, KERNEL_EXITED, "%s: outcome %d: %s", what, r.outcome, r.err);
            cr_expect_eq(r.status, 0, "%s: status %d", what, r.status);
            char line[4200];
            expect_line(r.out, "AT_PAGESZ 4096", what);
            expect_line(r.out, "AT_PHENT 56", what);
            if (profiles[k] == KERNEL_6_1) {
                expect_line(r.out, "AT_RSEQ_FEATURE_SIZE absent", what);
                expect_line(r.out, "AT_RSEQ_ALIGN absent", what);
            } else {
                expect_line(r.out, "AT_RSEQ_FEATURE_SIZE 28", what);
                expect_line(r.out, "AT_RSEQ_ALIGN 32", what);
            }
            snprintf(line, sizeof(line), "AT_MINSIGSTKSZ %llu",
                     (unsigned long long)desc->minsigstksz);
            expect_line(r.out, line, what);
            expect_line(r.out, "AT_SECURE 0", what);
            expect_line(r.out, "AT_BASE 0", what);
            snprintf(line, sizeof(line), "AT_PLATFORM %s", arch);
            expect_line(r.out, line, what);
            snprintf(line, sizeof(line), "AT_EXECFN %s", guest_path(arch, "auxv_dump"));
            expect_line(r.out, line, what);
            expect_line(r.out, "AT_ENTRY is _start: yes", what);
            expect_line(r.out, "argc 5", what);
            expect_line(r.out, "argv ascending: yes", what);
            expect_line(r.out, "argv contiguous: yes", what);
            expect_line(r.out, "envp follows argv: yes", what);
            expect_line(r.out, "execfn follows envp: yes", what);
            expect_line(r.out, "null word after execfn: yes", what);
            expect_line(r.out, "stack top after it: yes", what);
            expect_line(r.out, "platform below argv: yes", what);
            expect_line(r.out, "random below platform: yes", what);
        }
    }
}
