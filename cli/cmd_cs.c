/* rseqemu cs: the critical sections a program declares, each with its descriptor, its code and
 * its abort handler, and a warning for each way a descriptor is wrong (kernel-model/rseq_decl.h
 * reads and checks them; this prints). */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "emu/disasm.h"
#include "emu/loader.h"
#include "exit_codes.h"
#include "kernel-model/rseq_decl.h"
#include "options.h"
#include "program.h"

/* A section this long is a wrong descriptor, not code to read. */
#define SECTION_INSNS_MAX 200
/* The abort handler is shown up to its first branch, normally its first instruction. */
#define ABORT_INSNS_MAX 4
#define INSN_BYTES_MAX  16

static const char synopsis[] =
    "usage: rseqemu cs [options] PROG\n"
    "\n"
    "Lists the rseq critical sections PROG declares (__rseq_cs_ptr_array, else __rseq_cs): for\n"
    "each descriptor its fields, its code and its abort handler, and a warning for each check\n"
    "the kernel would fail (version, flags, wrap-around, abort_ip inside the section, the\n"
    "signature before abort_ip) or that marks it wrong (code outside an executable section,\n"
    "misaligned, listed twice).\n"
    "\n"
    "exit status: 0 all well formed (or none declared), 1 warnings, 64 usage, 65 malformed\n"
    "program, 66 cannot open, 69 unsupported program (also a static-PIE program that declares\n"
    "sections: their addresses are relocated when it starts)";

struct lister {
    const struct elf_image *img;
    struct disasm *dis;
};

/* Where an address is, in words: "func+0x1c", else "section+0x1c", else "?". */
static void where(const struct elf_image *img, guest_addr_t addr, char *buf, size_t len)
{
    if (!elf_image_where(img, addr, buf, len))
        snprintf(buf, len, "?");
}

/* A descriptor is named by the data object that holds it (a C array of them, or one named
 * descriptor), else by its section: the selftests' and librseq's are local labels. */
static void descriptor_name(const struct elf_image *img, guest_addr_t addr, char *buf, size_t len)
{
    struct elf_section s;
    if (elf_image_object(img, addr, buf, len))
        return;
    if (elf_image_section_at(img, addr, &s))
        snprintf(buf, len, "%s+0x%llx", s.name, (unsigned long long)(addr - s.addr));
    else
        snprintf(buf, len, "in no section");
}

struct walk {
    size_t insns;
    bool complete; /* reached the end, or stopped at a branch or undecodable bytes */
};

/* Decodes the code from `from` up to `to`, at most max instructions, up to the first branch
 * when asked; prints each one when print. */
static struct walk walk_code(const struct lister *l, guest_addr_t from, guest_addr_t to, size_t max,
                             bool to_branch, bool print)
{
    struct walk w = {0, true};
    guest_addr_t pc = from;
    while (pc < to) {
        if (w.insns == max) {
            w.complete = false;
            break;
        }
        struct elf_section s;
        if (!elf_image_section_at(l->img, pc, &s) || !s.exec || !s.data) {
            if (print)
                printf("      (no code in the file at 0x%llx)\n", (unsigned long long)pc);
            break;
        }
        uint64_t avail = s.addr + s.size - pc;
        char text[160], name[160];
        bool branch;
        size_t len = disasm_bytes(l->dis, s.data + (pc - s.addr),
                                  avail < INSN_BYTES_MAX ? avail : INSN_BYTES_MAX, pc, text,
                                  sizeof(text), &branch);
        w.insns++;
        if (print) {
            where(l->img, pc, name, sizeof(name));
            printf("      0x%llx  %s:  %s\n", (unsigned long long)pc, name, text);
        }
        if (len == 0 || (to_branch && branch))
            break;
        pc += len;
    }
    if (print && !w.complete && to_branch)
        printf("      ...\n");
    else if (print && !w.complete)
        printf("      ... not shown: 0x%llx bytes more, up to 0x%llx\n",
               (unsigned long long)(to - pc), (unsigned long long)to);
    return w;
}

static void print_signature(const struct lister *l, const struct rseq_cs_decl *cs)
{
    uint32_t word;
    struct rseq_code_view view = rseq_code_view_of(l->img);
    uint32_t sig = elf_image_arch(l->img)->rseq_sig;
    if (!view.read_u32(view.ctx, cs->abort_ip - 4, &word))
        printf(" signature not in the file\n");
    else if (word == sig)
        printf(" signature 0x%08x ok\n", word);
    else
        printf(" signature 0x%08x, not 0x%08x\n", word, sig);
}

/* One descriptor: its fields, its code, its abort handler. */
static void print_descriptor(const struct lister *l, size_t i, const struct rseq_cs_decl *cs)
{
    char name[160];
    descriptor_name(l->img, cs->addr, name, sizeof(name));
    printf("[%zu] descriptor 0x%llx (%s)", i, (unsigned long long)cs->addr, name);
    if (!cs->in_file) {
        printf("  not in the file\n");
        return;
    }
    printf("  version %u  flags 0x%x\n", cs->version, cs->flags);
    guest_addr_t commit = cs->start_ip + cs->post_commit_offset;
    bool wraps = commit < cs->start_ip;
    where(l->img, cs->start_ip, name, sizeof(name));
    printf("    start   0x%llx  %s\n", (unsigned long long)cs->start_ip, name);
    where(l->img, commit, name, sizeof(name));
    printf("    commit  0x%llx  %s", (unsigned long long)commit, name);
    if (wraps) {
        printf("  (start + 0x%llx wraps around)\n", (unsigned long long)cs->post_commit_offset);
    } else {
        struct walk w = walk_code(l, cs->start_ip, commit, SECTION_INSNS_MAX, false, false);
        printf("  (%s%zu instruction%s)\n", w.complete ? "" : "more than ", w.insns,
               w.insns == 1 ? "" : "s");
    }
    where(l->img, cs->abort_ip, name, sizeof(name));
    printf("    abort   0x%llx  %s ", (unsigned long long)cs->abort_ip, name);
    print_signature(l, cs);
    if (!wraps && cs->post_commit_offset) {
        printf("    code:\n");
        walk_code(l, cs->start_ip, commit, SECTION_INSNS_MAX, false, true);
    }
    printf("    abort handler:\n");
    walk_code(l, cs->abort_ip, UINT64_MAX, ABORT_INSNS_MAX, true, true);
}

/* Lists them all; the number of warnings printed. */
static size_t list_descriptors(const struct lister *l, const struct rseq_decls *d)
{
    struct rseq_code_view view = rseq_code_view_of(l->img);
    uint32_t sig = elf_image_arch(l->img)->rseq_sig;
    size_t warnings = 0, flawed = 0;
    for (size_t i = 0; i < d->count; i++) {
        const struct rseq_cs_decl *cs = &d->cs[i];
        printf("\n");
        print_descriptor(l, i, cs);
        struct rseq_cs_warning w[RSEQ_CS_WARNINGS_MAX];
        size_t n = rseq_cs_check(d->cs, i, sig, &view, w);
        for (size_t k = 0; k < n; k++)
            printf("warning: [%zu] descriptor 0x%llx: %s\n", i, (unsigned long long)cs->addr,
                   w[k].text);
        warnings += n;
        flawed += n != 0;
    }
    printf("\n");
    if (flawed)
        printf("%zu of %zu critical section%s with warnings\n", flawed, d->count,
               d->count == 1 ? "" : "s");
    else
        printf("%s well formed\n", d->count == 1 ? "the critical section is" : "all are");
    return warnings;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static int list_program(const struct elf_image *img, const char *prog)
{
    struct rseq_decls d;
    if (rseq_decls_read(img, &d) != 0) {
        fprintf(stderr, "rseqemu cs: out of memory\n");
        return EXIT_INTERNAL;
    }
    if (d.relocated && d.count) {
        fprintf(stderr,
                "rseqemu cs: %s: a static-PIE program: the addresses of the critical sections "
                "it declares (%zu entr%s of %s) are relocated when it starts, which cs does not "
                "do: nothing is listed\n",
                prog, d.count, d.count == 1 ? "y" : "ies", d.section);
        return EXIT_UNSUPPORTED;
    }
    const char *name = base_name(prog);
    int status = 0;
    if (!d.section)
        printf("%s: no critical sections declared\n", name);
    else if (d.count == 0)
        printf("%s: no critical sections declared (%s is empty)\n", name, d.section);
    else
        printf("%s: %zu critical section%s (from %s)\n", name, d.count, d.count == 1 ? "" : "s",
               d.section);
    if (d.trailing) {
        printf("warning: %s: 0x%llx bytes after its last whole entry\n", d.section,
               (unsigned long long)d.trailing);
        status = 1;
    }
    if (d.no_data && d.count) {
        printf("warning: %s: its bytes are not in the file\n", d.section);
        status = 1;
    }
    if (d.cs) {
        struct lister l = {img, disasm_create(elf_image_arch(img))};
        if (!l.dis) {
            fprintf(stderr, "rseqemu cs: cannot start the disassembler\n");
            rseq_decls_free(&d);
            return EXIT_INTERNAL;
        }
        if (list_descriptors(&l, &d))
            status = 1;
        disasm_destroy(l.dis);
    }
    rseq_decls_free(&d);
    return status;
}

int cmd_cs(int argc, char **argv)
{
    bool help;
    int first = opt_parse("cs", NULL, 0, argc, argv, &help);
    if (help) {
        opt_print_help(synopsis, NULL, 0);
        return 0;
    }
    if (first < 0)
        return EXIT_USAGE;
    if (first != argc - 1) {
        fprintf(stderr, "rseqemu cs: expected one program\nusage: rseqemu cs [options] PROG\n");
        return EXIT_USAGE;
    }
    int status;
    struct elf_image *img = program_open(argv[first], &status);
    if (!img)
        return status;
    status = list_program(img, argv[first]);
    elf_image_close(img);
    return status;
}
