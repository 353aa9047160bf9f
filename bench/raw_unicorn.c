/* Raw Unicorn on a benchmark guest's kernel: the yardstick bench/run compares rseqemu with.
 *
 *   raw_unicorn_stock|raw_unicorn_fast [--count block|code] [--no-run] GUEST ITERATIONS
 *
 * Loads GUEST's PT_LOAD segments into one plain engine (uc_mem_map_ptr onto host memory),
 * maps a stack, and calls the guest's bench_kernel(ITERATIONS) directly, as the ABI would:
 * x86-64 with rdi = ITERATIONS and a return address pushed on the stack, aarch64 with
 * x0 = ITERATIONS and x30 = the return address. The return address is STOP_ADDR, which is
 * also `until`, so the run ends when the kernel returns. The timed run has no hooks at all.
 *
 * --count runs the kernel once more beforehand, on a separate engine, with a hook that counts
 * the instructions retired (block: a block hook and per-block instruction counts, about as fast
 * as the plain run; code: a hook on every instruction, slow but trivially exact), and prints
 * `insns N` (and `blocks N`). --no-run skips the timed run; --empty-block-hook gives the timed
 * run an empty block hook, to measure what a block hook costs by itself.
 *
 * raw_unicorn_fast is the same program linked with raw_fast_stores.c, the store-path
 * interposition that rseqemu also uses: data and stack pages (never executable) drop
 * TLB_NOTDIRTY so guest stores stay on the JIT's inline path. */
#include <capstone/capstone.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unicorn/unicorn.h>
#include <unistd.h>

#ifdef RAW_FAST_STORES
#include "raw_fast_stores.h"
#endif

#define PAGE       4096u
#define STACK_TOP  0x7ff000000000u
#define STACK_SIZE (1u << 20)
#define STOP_ADDR  0x10000u /* below every static ELF's first PT_LOAD */
#define MAX_SEGS   16

struct seg {
    uint64_t start, end; /* page-aligned guest range */
    int prot;            /* PF_* */
};

struct guest {
    bool x86;
    uint64_t kernel; /* bench_kernel's address */
    struct seg segs[MAX_SEGS];
    int nsegs;
    uint64_t lo, hi; /* span of the PT_LOADs, page-aligned */
    int fd;
    Elf *elf;
};

/* One engine's guest memory. */
struct machine {
    uc_engine *uc;
    uint8_t *image; /* host memory behind [lo, hi) */
    uint8_t *stack; /* host memory behind the stack */
    uint8_t *stop;  /* host memory behind STOP_ADDR's page */
};

static void die(const char *fmt, const char *what)
{
    fprintf(stderr, "raw_unicorn: ");
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\n");
    exit(1);
}

static void check(uc_err rc, const char *what)
{
    if (rc != UC_ERR_OK) {
        fprintf(stderr, "raw_unicorn: %s: %s\n", what, uc_strerror(rc));
        exit(1);
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void load_guest(const char *path, struct guest *g)
{
    memset(g, 0, sizeof(*g));
    elf_version(EV_CURRENT);
    g->fd = open(path, O_RDONLY);
    if (g->fd < 0)
        die("cannot open %s", path);
    g->elf = elf_begin(g->fd, ELF_C_READ, NULL);
    GElf_Ehdr eh;
    if (!g->elf || !gelf_getehdr(g->elf, &eh) || eh.e_ident[EI_CLASS] != ELFCLASS64)
        die("%s is not a 64-bit ELF", path);
    if (eh.e_type != ET_EXEC)
        die("%s is not a static, non-PIE executable", path);
    if (eh.e_machine == EM_X86_64)
        g->x86 = true;
    else if (eh.e_machine != EM_AARCH64)
        die("%s is neither x86-64 nor aarch64", path);

    size_t n;
    if (elf_getphdrnum(g->elf, &n) != 0)
        die("%s has no program headers", path);
    g->lo = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(g->elf, (int)i, &ph) || ph.p_type != PT_LOAD || ph.p_memsz == 0)
            continue;
        if (g->nsegs == MAX_SEGS)
            die("%s has too many PT_LOAD segments", path);
        struct seg *s = &g->segs[g->nsegs++];
        s->start = ph.p_vaddr & ~(uint64_t)(PAGE - 1);
        s->end = (ph.p_vaddr + ph.p_memsz + PAGE - 1) & ~(uint64_t)(PAGE - 1);
        s->prot = (int)ph.p_flags;
        if (s->start < g->lo)
            g->lo = s->start;
        if (s->end > g->hi)
            g->hi = s->end;
    }
    if (!g->nsegs || g->lo <= STOP_ADDR)
        die("%s: unexpected PT_LOAD layout", path);

    /* bench_kernel in .symtab */
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(g->elf, scn)) && !g->kernel) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB)
            continue;
        Elf_Data *d = elf_getdata(scn, NULL);
        size_t count = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
        for (size_t i = 0; d && i < count; i++) {
            GElf_Sym sym;
            if (!gelf_getsym(d, (int)i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC)
                continue;
            const char *name = elf_strptr(g->elf, sh.sh_link, sym.st_name);
            if (name && !strcmp(name, "bench_kernel")) {
                g->kernel = sym.st_value;
                break;
            }
        }
    }
    if (!g->kernel)
        die("%s has no bench_kernel symbol", path);
}

/* The protection of one page: the union over the segments that touch it (segments may share
 * a page at their boundaries). */
static int page_prot(const struct guest *g, uint64_t page)
{
    int prot = 0;
    for (int i = 0; i < g->nsegs; i++)
        if (page >= g->segs[i].start && page < g->segs[i].end)
            prot |= g->segs[i].prot;
    return prot;
}

static uint32_t perm_of(int pf)
{
    uint32_t p = UC_PROT_READ;
    if (pf & PF_W)
        p |= UC_PROT_WRITE;
    if (pf & PF_X)
        p |= UC_PROT_EXEC;
    return p;
}

static void *host_alloc(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        die("%s", "out of memory");
    return p;
}

static void machine_open(const struct guest *g, struct machine *m)
{
    memset(m, 0, sizeof(*m));
    check(uc_open(g->x86 ? UC_ARCH_X86 : UC_ARCH_ARM64, g->x86 ? UC_MODE_64 : UC_MODE_ARM, &m->uc),
          "uc_open");
    /* The CPU models rseqemu uses (arch/x86_64.c, arch/aarch64.c). */
    check(uc_ctl_set_cpu_model(m->uc, g->x86 ? UC_CPU_X86_QEMU64 : UC_CPU_ARM64_MAX), "cpu model");

    /* The file's PT_LOAD contents in one host block. */
    m->image = host_alloc(g->hi - g->lo);
    size_t n;
    elf_getphdrnum(g->elf, &n);
    for (size_t i = 0; i < n; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(g->elf, (int)i, &ph) || ph.p_type != PT_LOAD || ph.p_filesz == 0)
            continue;
        if (pread(g->fd, m->image + (ph.p_vaddr - g->lo), ph.p_filesz, (off_t)ph.p_offset) !=
            (ssize_t)ph.p_filesz)
            die("%s", "cannot read a PT_LOAD segment");
    }
    /* Mapped in runs of pages with the same protection; pages between segments stay unmapped. */
    uint64_t page = g->lo;
    while (page < g->hi) {
        int prot = page_prot(g, page);
        uint64_t end = page + PAGE;
        while (end < g->hi && page_prot(g, end) == prot)
            end += PAGE;
        if (prot) {
            check(uc_mem_map_ptr(m->uc, page, end - page, perm_of(prot), m->image + (page - g->lo)),
                  "map a segment");
#ifdef RAW_FAST_STORES
            if (!(prot & PF_X))
                raw_fast_add_region(page, end);
#endif
        }
        page = end;
    }

    m->stack = host_alloc(STACK_SIZE);
    check(uc_mem_map_ptr(m->uc, STACK_TOP - STACK_SIZE, STACK_SIZE, UC_PROT_READ | UC_PROT_WRITE,
                         m->stack),
          "map the stack");
#ifdef RAW_FAST_STORES
    raw_fast_add_region(STACK_TOP - STACK_SIZE, STACK_TOP);
#endif

    /* The return address: a page of hlt (x86) or brk (aarch64), in case `until` were missed. */
    m->stop = host_alloc(PAGE);
    if (g->x86) {
        memset(m->stop, 0xf4, PAGE);
    } else {
        for (unsigned i = 0; i < PAGE / 4; i++)
            ((uint32_t *)m->stop)[i] = 0xd4200000; /* brk #0 */
    }
    check(uc_mem_map_ptr(m->uc, STOP_ADDR, PAGE, UC_PROT_READ | UC_PROT_EXEC, m->stop),
          "map the stop page");
}

static void machine_close(const struct guest *g, struct machine *m)
{
    uc_close(m->uc);
    munmap(m->image, g->hi - g->lo);
    munmap(m->stack, STACK_SIZE);
    munmap(m->stop, PAGE);
}

/* Sets up the call bench_kernel(iterations) returning to STOP_ADDR. */
static void machine_call(const struct guest *g, struct machine *m, uint64_t iterations)
{
    uint64_t stop = STOP_ADDR;
    if (g->x86) {
        /* At the entry of a function, rsp + 8 is 16-byte aligned. */
        uint64_t sp = STACK_TOP - 256 - 8;
        memcpy(m->stack + (sp - (STACK_TOP - STACK_SIZE)), &stop, 8);
        check(uc_reg_write(m->uc, UC_X86_REG_RSP, &sp), "write rsp");
        check(uc_reg_write(m->uc, UC_X86_REG_RDI, &iterations), "write rdi");
    } else {
        uint64_t sp = STACK_TOP - 256;
        check(uc_reg_write(m->uc, UC_ARM64_REG_SP, &sp), "write sp");
        check(uc_reg_write(m->uc, UC_ARM64_REG_X0, &iterations), "write x0");
        check(uc_reg_write(m->uc, UC_ARM64_REG_X30, &stop), "write x30");
    }
}

static uint64_t machine_result(const struct guest *g, struct machine *m)
{
    uint64_t pc, ret;
    uc_reg_read(m->uc, g->x86 ? UC_X86_REG_RIP : UC_ARM64_REG_PC, &pc);
    uc_reg_read(m->uc, g->x86 ? UC_X86_REG_RAX : UC_ARM64_REG_X0, &ret);
    if (pc != STOP_ADDR) {
        fprintf(stderr, "raw_unicorn: the kernel did not return (pc 0x%" PRIx64 ")\n", pc);
        exit(1);
    }
    return ret;
}

/* --count: instructions retired, by a block hook with per-block counts or a code hook. */
struct counter {
    uint64_t insns;
    bool x86;
    const struct guest *g;
    struct machine *m;
    csh cs;
    struct {
        uint64_t addr;
        uint32_t size, count;
    } cache[4096];
    uint64_t blocks; /* apart from insns, so that the two updates stay two plain adds */
};

#define CACHE_SLOT(addr) ((unsigned)(((addr) ^ ((addr) >> 12)) & 4095))

/* x86: decodes a block the first time it is seen. */
static __attribute__((noinline)) uint32_t block_insns_decode(struct counter *c, uint64_t addr,
                                                             uint32_t size)
{
    if (addr < c->g->lo || addr + size > c->g->hi)
        die("%s", "a block outside the image");
    const uint8_t *code = c->m->image + (addr - c->g->lo);
    size_t left = size;
    uint64_t pc = addr;
    uint32_t n = 0;
    cs_insn *insn = cs_malloc(c->cs);
    while (left > 0 && cs_disasm_iter(c->cs, &code, &left, &pc, insn))
        n++;
    cs_free(insn, 1);
    if (left > 0)
        die("%s", "capstone cannot decode a translated block");
    unsigned slot = CACHE_SLOT(addr);
    c->cache[slot].addr = addr;
    c->cache[slot].size = size;
    c->cache[slot].count = n;
    return n;
}

/* Called before every block, so it is kept a small leaf: at about 2 ns of guest code per
 * block, each nanosecond here shows (a callback with a full prologue measured ~25% slower). */
static void on_block(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    (void)uc;
    struct counter *c = user;
    uint32_t n;
    if (!c->x86) {
        n = size / 4;
    } else {
        unsigned slot = CACHE_SLOT(addr);
        if (c->cache[slot].addr == addr && c->cache[slot].size == size)
            n = c->cache[slot].count;
        else
            n = block_insns_decode(c, addr, size);
    }
    c->insns += n;
    c->blocks++;
}

static void on_code(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    (void)uc, (void)addr, (void)size;
    ((struct counter *)user)->insns++;
}

/* --empty-block-hook: the cost of a block hook alone, without the counting. */
static void on_block_empty(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    (void)uc, (void)addr, (void)size, (void)user;
}

static void usage(void)
{
    fprintf(stderr, "usage: raw_unicorn_{stock,fast} [--count block|code] [--no-run] "
                    "[--empty-block-hook] GUEST ITERATIONS\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *count_mode = NULL;
    bool run = true, empty_hook = false;
    int i = 1;
    for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
        if (!strcmp(argv[i], "--count") && i + 1 < argc)
            count_mode = argv[++i];
        else if (!strcmp(argv[i], "--no-run"))
            run = false;
        else if (!strcmp(argv[i], "--empty-block-hook"))
            empty_hook = true;
        else
            usage();
    }
    if (argc - i != 2 || (count_mode && strcmp(count_mode, "block") && strcmp(count_mode, "code")))
        usage();
    char *end;
    errno = 0;
    uint64_t iterations = strtoull(argv[i + 1], &end, 0);
    if (errno || *end)
        usage();

    struct guest g;
    load_guest(argv[i], &g);
    unsigned v = uc_version(NULL, NULL);
    printf("unicorn %u.%u.%u\n", v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff);
    printf("arch %s\n", g.x86 ? "x86_64" : "aarch64");
#ifdef RAW_FAST_STORES
    if (!raw_fast_available(g.x86))
        die("%s", "libunicorn does not export the TLB functions the fast store path needs");
    printf("engine fast\n");
#else
    printf("engine stock\n");
#endif

    uint64_t result = 0;
    bool have_result = false;
    if (count_mode) {
        struct machine m;
        machine_open(&g, &m);
        struct counter *c = calloc(1, sizeof(*c));
        if (!c)
            die("%s", "out of memory");
        c->g = &g;
        c->m = &m;
        c->x86 = g.x86;
        if (g.x86 && cs_open(CS_ARCH_X86, CS_MODE_64, &c->cs) != CS_ERR_OK)
            die("%s", "cs_open");
        uc_hook h;
        bool block = !strcmp(count_mode, "block");
        check(uc_hook_add(m.uc, &h, block ? UC_HOOK_BLOCK : UC_HOOK_CODE,
                          block ? (void *)on_block : (void *)on_code, c, 1, 0),
              "hook");
        machine_call(&g, &m, iterations);
        double t0 = now();
        check(uc_emu_start(m.uc, g.kernel, STOP_ADDR, 0, 0), "uc_emu_start (count)");
        double t1 = now();
        result = machine_result(&g, &m);
        have_result = true;
        printf("kernel 0x%016" PRIx64 "\n", result);
        printf("insns %" PRIu64 "\n", c->insns);
        if (block)
            printf("blocks %" PRIu64 "\n", c->blocks);
        printf("count_seconds %.6f\n", t1 - t0);
        if (g.x86)
            cs_close(&c->cs);
        free(c);
        machine_close(&g, &m);
    }

    if (run) {
        struct machine m;
        machine_open(&g, &m);
        if (empty_hook) {
            uc_hook h;
            check(uc_hook_add(m.uc, &h, UC_HOOK_BLOCK, (void *)on_block_empty, NULL, 1, 0), "hook");
        }
        machine_call(&g, &m, iterations);
        double t0 = now();
        check(uc_emu_start(m.uc, g.kernel, STOP_ADDR, 0, 0), "uc_emu_start");
        double t1 = now();
        uint64_t r = machine_result(&g, &m);
        if (have_result && r != result) {
            fprintf(stderr, "raw_unicorn: the counted run computed 0x%" PRIx64 "\n", result);
            return 1;
        }
        if (!have_result)
            printf("kernel 0x%016" PRIx64 "\n", r);
        printf("seconds %.6f\n", t1 - t0);
        machine_close(&g, &m);
    }
#ifdef RAW_FAST_STORES
    printf("tlb_fills %lu dirtied %lu\n", raw_fast_fills(), raw_fast_dirtied());
    if (raw_fast_dirtied() == 0)
        die("%s", "the store interposition was never called: the fast path is not active");
#endif
    elf_end(g.elf);
    close(g.fd);
    return 0;
}
