/* The ELF loader's checks (emu/loader.c): good static programs of both architectures open, and
 * every kind of bad file is refused with the right enum elf_open_error and a message naming the
 * problem. Bad files are the built guests with bytes changed. Also the static-PIE guest, opened
 * and run end to end (spec 7.8, 7.9). */
#include <criterion/criterion.h>
#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/loader.h"
#include "guest_run.h"

#define ERRLEN 512

/* A guest file read into memory, to be changed byte by byte. */
struct file {
    uint8_t *data;
    size_t size;
};

static struct file read_guest(const char *arch, const char *name)
{
    const char *path = guest_path(arch, name);
    struct file out;
    out.data = file_read_whole(path, &out.size);
    cr_assert_not_null(out.data, "cannot read %s (are the guests built?)", path);
    return out;
}

static Elf64_Ehdr *ehdr(const struct file *f) { return (Elf64_Ehdr *)f->data; }

static Elf64_Phdr *phdr(const struct file *f, int i)
{
    return (Elf64_Phdr *)(f->data + ehdr(f)->e_phoff + (size_t)i * sizeof(Elf64_Phdr));
}

/* Index of the nth (0-based) program header of a type, -1 if there is none. */
static int find_phdr(const struct file *f, uint32_t type, int nth)
{
    for (int i = 0; i < ehdr(f)->e_phnum; i++)
        if (phdr(f, i)->p_type == type && nth-- == 0)
            return i;
    return -1;
}

static int last_load(const struct file *f)
{
    int last = -1;
    for (int i = 0; i < ehdr(f)->e_phnum; i++)
        if (phdr(f, i)->p_type == PT_LOAD)
            last = i;
    return last;
}

static const Elf64_Shdr *shdr(const struct file *f, int i)
{
    return (const Elf64_Shdr *)(f->data + ehdr(f)->e_shoff + (size_t)i * sizeof(Elf64_Shdr));
}

/* The file's own symbol table, parsed here independently of libelf. */
static const Elf64_Sym *file_symbol(const struct file *f, const char *name)
{
    for (int i = 0; i < ehdr(f)->e_shnum; i++) {
        const Elf64_Shdr *sh = shdr(f, i);
        if (sh->sh_type != SHT_SYMTAB)
            continue;
        const char *strtab = (const char *)f->data + shdr(f, (int)sh->sh_link)->sh_offset;
        const Elf64_Sym *syms = (const Elf64_Sym *)(f->data + sh->sh_offset);
        for (size_t j = 0; j < sh->sh_size / sizeof(Elf64_Sym); j++)
            if (strcmp(strtab + syms[j].st_name, name) == 0 && syms[j].st_shndx != SHN_UNDEF)
                return &syms[j];
    }
    return NULL;
}

static const Elf64_Shdr *file_section(const struct file *f, const char *name)
{
    const char *names = (const char *)f->data + shdr(f, ehdr(f)->e_shstrndx)->sh_offset;
    for (int i = 0; i < ehdr(f)->e_shnum; i++)
        if (strcmp(names + shdr(f, i)->sh_name, name) == 0)
            return shdr(f, i);
    return NULL;
}

static const char *kind_name(enum elf_open_error k)
{
    switch (k) {
    case ELF_OPEN_OK:
        return "OK";
    case ELF_OPEN_CANNOT_READ:
        return "CANNOT_READ";
    case ELF_OPEN_MALFORMED:
        return "MALFORMED";
    case ELF_OPEN_UNSUPPORTED:
        return "UNSUPPORTED";
    }
    return "?";
}

/* Opens bytes that must be refused with kind want and a message containing each of the
 * NULL-terminated substrings. */
static void expect_refused_v(const void *data, size_t size, const char *what,
                             enum elf_open_error want, const char *const *substrings)
{
    char err[ERRLEN] = "";
    enum elf_open_error kind = ELF_OPEN_OK;
    struct elf_image *img = elf_image_open_mem(data, size, "mutant", &kind, err, sizeof(err));
    if (img)
        elf_image_close(img);
    cr_assert_null(img, "%s: opened, but should be refused as %s", what, kind_name(want));
    cr_log_info("%s: %s: %s", what, kind_name(kind), err);
    cr_expect_eq(kind, want, "%s: refused as %s, expected %s (message: %s)", what, kind_name(kind),
                 kind_name(want), err);
    cr_expect_neq(err[0], '\0', "%s: no message", what);
    cr_expect_null(strchr(err, '\n'), "%s: message is not one line: %s", what, err);
    for (int i = 0; substrings[i]; i++)
        cr_expect_not_null(strstr(err, substrings[i]), "%s: message \"%s\" does not mention \"%s\"",
                           what, err, substrings[i]);
}

#define expect_refused(data, size, what, want, ...)                                                \
    expect_refused_v((data), (size), (what), (want), (const char *const[]){__VA_ARGS__, NULL})

static struct elf_image *open_ok(const struct file *f, const char *what)
{
    char err[ERRLEN] = "";
    enum elf_open_error kind = ELF_OPEN_MALFORMED;
    struct elf_image *img = elf_image_open_mem(f->data, f->size, what, &kind, err, sizeof(err));
    cr_assert_not_null(img, "%s: refused (%s): %s", what, kind_name(kind), err);
    cr_assert_eq(kind, ELF_OPEN_OK, "%s: kind %s", what, kind_name(kind));
    return img;
}

static const struct arch_desc *arch_named(const char *name)
{
    return arch_get(strcmp(name, "x86_64") == 0 ? ARCH_X86_64 : ARCH_AARCH64);
}

/* ---- good files ------------------------------------------------------------------------- */

/* spec 7.9: the static guests of both architectures are ET_EXEC and open. */
Test(loader, static_guests_of_both_arches_open_with_their_arch)
{
    for (int a = 0; a < 2; a++) {
        char err[ERRLEN] = "";
        enum elf_open_error kind = ELF_OPEN_MALFORMED;
        const char *path = guest_path(guest_arches[a], "hello");
        struct elf_image *img = elf_image_open(path, &kind, err, sizeof(err));
        cr_assert_not_null(img, "%s: %s", path, err);
        cr_expect_eq(kind, ELF_OPEN_OK);
        const struct arch_desc *arch = elf_image_arch(img);
        cr_assert_not_null(arch);
        cr_expect_eq(arch, arch_named(guest_arches[a]), "%s: wrong arch descriptor", path);
        cr_expect_str_eq(arch->name, guest_arches[a]);
        cr_expect_eq(arch->elf_machine, a == 0 ? EM_X86_64 : EM_AARCH64);
        cr_expect_not(elf_image_is_pie(img), "%s: ET_EXEC reported as PIE", path);
        cr_expect_str_eq(elf_image_name(img), path);
        cr_expect_eq(elf_image_path(img)[0], '/', "path not absolute: %s", elf_image_path(img));
        elf_image_close(img);
    }
}

Test(loader, static_pie_guests_open_as_pie)
{
    for (int a = 0; a < 2; a++) {
        struct file f = read_guest(guest_arches[a], "hello_pie");
        cr_assert_eq(ehdr(&f)->e_type, ET_DYN, "hello_pie is not built as static PIE");
        cr_assert_eq(find_phdr(&f, PT_INTERP, 0), -1, "hello_pie has an interpreter");
        struct elf_image *img = open_ok(&f, "hello_pie");
        cr_expect_eq(elf_image_arch(img), arch_named(guest_arches[a]));
        cr_expect(elf_image_is_pie(img));
        elf_image_close(img);
        free(f.data);
    }
}

/* Symbols are found, with the load bias applied for a PIE, at the value the file's own symbol
 * table gives. */
Test(loader, main_symbol_is_found_at_its_symtab_value_plus_bias)
{
    const char *names[] = {"hello", "hello_pie"};
    for (int a = 0; a < 2; a++) {
        for (int n = 0; n < 2; n++) {
            struct file f = read_guest(guest_arches[a], names[n]);
            const Elf64_Sym *sym = file_symbol(&f, "main");
            cr_assert_not_null(sym, "%s/%s has no main in .symtab", guest_arches[a], names[n]);
            struct elf_image *img = open_ok(&f, names[n]);
            guest_addr_t bias = n == 1 ? elf_image_arch(img)->pie_base : 0;
            guest_addr_t main_addr = elf_image_symbol(img, "main");
            cr_expect_eq(main_addr, sym->st_value + bias, "%s/%s: main at 0x%llx, expected 0x%llx",
                         guest_arches[a], names[n], (unsigned long long)main_addr,
                         (unsigned long long)(sym->st_value + bias));
            cr_expect_eq(elf_image_symbol(img, "no_such_symbol_anywhere"), 0);
            elf_image_close(img);
            free(f.data);
        }
    }
}

Test(loader, addresses_inside_main_symbolize_as_main_plus_offset)
{
    const char *names[] = {"hello", "hello_pie"};
    for (int a = 0; a < 2; a++) {
        for (int n = 0; n < 2; n++) {
            struct file f = read_guest(guest_arches[a], names[n]);
            const Elf64_Sym *sym = file_symbol(&f, "main");
            cr_assert_not_null(sym);
            cr_assert_gt(sym->st_size, 8, "main too small to test offsets");
            struct elf_image *img = open_ok(&f, names[n]);
            guest_addr_t m = elf_image_symbol(img, "main");
            char buf[128];
            cr_assert(elf_image_symbolize(img, m, buf, sizeof(buf)));
            cr_expect_str_eq(buf, "main");
            cr_assert(elf_image_symbolize(img, m + 4, buf, sizeof(buf)));
            cr_expect_str_eq(buf, "main+0x4");
            guest_addr_t last = m + sym->st_size - 1;
            char want[64];
            snprintf(want, sizeof(want), "main+0x%llx", (unsigned long long)(sym->st_size - 1));
            cr_assert(elf_image_symbolize(img, last, buf, sizeof(buf)));
            cr_expect_str_eq(buf, want);
            /* Just past main is not main. */
            if (elf_image_symbolize(img, m + sym->st_size, buf, sizeof(buf)))
                cr_expect_null(strstr(buf, "main+"), "0x%llx past main symbolized as %s",
                               (unsigned long long)(m + sym->st_size), buf);
            elf_image_close(img);
            free(f.data);
        }
    }
}

/* Below the first mapped page there is no code or data: a fault address there (a NULL
 * dereference) is not "<symbol>+0x...". glibc's absolute symbols (_nl_current_LC_CTYPE_used = 2,
 * SHN_ABS, NOTYPE) are flags for the linker, not addresses. */
Test(loader, low_addresses_do_not_symbolize_as_absolute_symbols)
{
    const char *names[] = {"hello", "hello_pie"};
    for (int a = 0; a < 2; a++) {
        for (int n = 0; n < 2; n++) {
            struct file f = read_guest(guest_arches[a], names[n]);
            struct elf_image *img = open_ok(&f, names[n]);
            char buf[128] = "";
            guest_addr_t probes[] = {0x8, 0x1000,
                                     n == 1 ? elf_image_arch(img)->pie_base - 0x1000 : 0x3ff000};
            for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
                cr_expect_not(elf_image_symbolize(img, probes[i], buf, sizeof(buf)),
                              "%s/%s: unmapped 0x%llx symbolized as %s", guest_arches[a], names[n],
                              (unsigned long long)probes[i], buf);
            elf_image_close(img);
            free(f.data);
        }
    }
}

Test(loader, text_section_is_found_with_the_files_bytes)
{
    const char *names[] = {"hello", "hello_pie"};
    for (int a = 0; a < 2; a++) {
        for (int n = 0; n < 2; n++) {
            struct file f = read_guest(guest_arches[a], names[n]);
            const Elf64_Shdr *text = file_section(&f, ".text");
            cr_assert_not_null(text);
            struct elf_image *img = open_ok(&f, names[n]);
            guest_addr_t bias = n == 1 ? elf_image_arch(img)->pie_base : 0;
            struct elf_section sec;
            cr_assert(elf_image_section(img, ".text", &sec));
            cr_expect_eq(sec.addr, text->sh_addr + bias);
            cr_expect_eq(sec.size, text->sh_size);
            cr_assert_not_null(sec.data);
            cr_expect_eq(memcmp(sec.data, f.data + text->sh_offset, text->sh_size), 0);
            guest_addr_t m = elf_image_symbol(img, "main");
            cr_expect(m >= sec.addr && m < sec.addr + sec.size, "main outside .text");
            /* NOBITS has no file data. */
            cr_assert(elf_image_section(img, ".bss", &sec));
            cr_expect_null(sec.data);
            cr_expect_not(elf_image_section(img, ".no_such_section", &sec));
            elf_image_close(img);
            free(f.data);
        }
    }
}

/* The section holding an address: code is executable, data is not, unloaded bytes are in none;
 * a static-PIE program's addresses carry the load bias. */
Test(loader, section_at_finds_the_section_holding_an_address)
{
    const char *names[] = {"hello", "hello_pie"};
    for (int a = 0; a < 2; a++) {
        for (int n = 0; n < 2; n++) {
            struct file f = read_guest(guest_arches[a], names[n]);
            struct elf_image *img = open_ok(&f, names[n]);
            struct elf_section text, data, sec;
            cr_assert(elf_image_section(img, ".text", &text));
            cr_assert(elf_image_section(img, ".data", &data));
            guest_addr_t m = elf_image_symbol(img, "main");
            cr_assert(elf_image_section_at(img, m, &sec));
            cr_expect_str_eq(sec.name, ".text");
            cr_expect(sec.exec);
            cr_expect_eq(sec.addr, text.addr);
            cr_assert(elf_image_section_at(img, text.addr + text.size - 1, &sec));
            cr_expect_str_eq(sec.name, ".text");
            cr_assert(elf_image_section_at(img, data.addr, &sec));
            cr_expect_str_eq(sec.name, ".data");
            cr_expect_not(sec.exec);
            cr_expect_eq(sec.data, data.data);
            cr_expect_not(elf_image_section_at(img, 0, &sec));
            cr_expect_not(elf_image_section_at(img, UINT64_MAX, &sec));
            elf_image_close(img);
            free(f.data);
        }
    }
}

/* Data objects name the addresses inside them; code and unnamed bytes are no object. */
Test(loader, object_names_an_address_inside_a_data_object)
{
    for (int a = 0; a < 2; a++) {
        struct file f = read_guest(guest_arches[a], "hello");
        struct elf_image *img = open_ok(&f, "hello");
        guest_addr_t out = elf_image_symbol(img, "_IO_2_1_stdout_");
        cr_assert_neq(out, 0);
        char buf[64];
        cr_assert(elf_image_object(img, out, buf, sizeof(buf)));
        cr_expect_str_eq(buf, "_IO_2_1_stdout_");
        cr_assert(elf_image_object(img, out + 8, buf, sizeof(buf)));
        cr_expect_str_eq(buf, "_IO_2_1_stdout_+0x8");
        cr_expect_not(elf_image_object(img, elf_image_symbol(img, "main"), buf, sizeof(buf)));
        cr_expect_not(elf_image_object(img, 0, buf, sizeof(buf)));
        elf_image_close(img);
        free(f.data);
    }
}

/* elf_image_open_mem copies: changing the caller's buffer afterwards changes nothing. */
Test(loader, open_mem_copies_the_bytes)
{
    struct file f = read_guest("x86_64", "hello"), pristine = read_guest("x86_64", "hello");
    struct elf_image *img = open_ok(&f, "hello");
    uint64_t hash = elf_image_hash(img);
    guest_addr_t m = elf_image_symbol(img, "main");
    memset(f.data, 0xa5, f.size);
    free(f.data);
    cr_expect_eq(elf_image_symbol(img, "main"), m);
    struct elf_section sec;
    cr_assert(elf_image_section(img, ".text", &sec));
    const Elf64_Shdr *text = file_section(&pristine, ".text");
    cr_expect_eq(memcmp(sec.data, pristine.data + text->sh_offset, sec.size), 0);
    cr_expect_eq(elf_image_hash(img), hash);
    elf_image_close(img);
    free(pristine.data);
}

Test(loader, hash_identifies_the_bytes)
{
    struct file f = read_guest("x86_64", "hello");
    struct elf_image *a = open_ok(&f, "a");
    struct elf_image *b = open_ok(&f, "b");
    cr_expect_eq(elf_image_hash(a), elf_image_hash(b));
    /* A byte of the section header string table: still a valid program, but another file. */
    const Elf64_Shdr *names = shdr(&f, ehdr(&f)->e_shstrndx);
    f.data[names->sh_offset + names->sh_size - 2] ^= 1;
    struct elf_image *c = open_ok(&f, "c");
    cr_expect_neq(elf_image_hash(a), elf_image_hash(c));
    elf_image_close(a);
    elf_image_close(b);
    elf_image_close(c);
    free(f.data);
}

/* ---- files that cannot be read ---------------------------------------------------------- */

Test(loader, nonexistent_path_cannot_be_read)
{
    char err[ERRLEN] = "";
    enum elf_open_error kind = ELF_OPEN_OK;
    struct elf_image *img =
        elf_image_open("/nonexistent/rseqemu/no-such-program", &kind, err, sizeof(err));
    cr_assert_null(img);
    cr_expect_eq(kind, ELF_OPEN_CANNOT_READ, "kind %s", kind_name(kind));
    cr_expect_not_null(strstr(err, "No such file"), "message: %s", err);
}

Test(loader, directory_cannot_be_read)
{
    char err[ERRLEN] = "";
    enum elf_open_error kind = ELF_OPEN_OK;
    struct elf_image *img = elf_image_open(GUEST_DIR, &kind, err, sizeof(err));
    cr_assert_null(img);
    cr_expect_eq(kind, ELF_OPEN_CANNOT_READ, "kind %s", kind_name(kind));
    cr_expect_not_null(strstr(err, "not a regular file"), "message: %s", err);
}

/* ---- not ELF, truncated ----------------------------------------------------------------- */

Test(loader, empty_file_is_malformed_not_elf)
{
    static const uint8_t nothing[1];
    expect_refused(nothing, 0, "empty", ELF_OPEN_MALFORMED, "not an ELF");
}

Test(loader, shell_script_is_malformed_not_elf)
{
    static const char script[] = "#!/bin/sh\necho hello\n";
    expect_refused(script, sizeof(script) - 1, "script", ELF_OPEN_MALFORMED, "not an ELF");
    static const char text[] = "just some text that is long enough to be an ELF header if it were "
                               "one, which it is not.\n";
    expect_refused(text, sizeof(text) - 1, "text", ELF_OPEN_MALFORMED, "not an ELF");
}

Test(loader, elf_magic_alone_is_malformed_truncated)
{
    for (int a = 0; a < 2; a++) {
        struct file f = read_guest(guest_arches[a], "hello");
        expect_refused(f.data, 4, "4 bytes", ELF_OPEN_MALFORMED, "truncated");
        free(f.data);
    }
}

/* A file cut inside e_ident: the message must say truncated, not blame the ELF class. */
Test(loader, truncated_to_10_bytes_is_malformed_truncated)
{
    for (int a = 0; a < 2; a++) {
        struct file f = read_guest(guest_arches[a], "hello");
        expect_refused(f.data, 10, "10 bytes", ELF_OPEN_MALFORMED, "truncated");
        free(f.data);
    }
}

Test(loader, truncated_inside_elf_header_is_malformed_truncated)
{
    for (int a = 0; a < 2; a++) {
        struct file f = read_guest(guest_arches[a], "hello");
        expect_refused(f.data, 40, "40 bytes", ELF_OPEN_MALFORMED, "truncated");
        free(f.data);
    }
}

Test(loader, truncated_mid_program_headers_is_malformed_truncated)
{
    for (int a = 0; a < 2; a++) {
        struct file f = read_guest(guest_arches[a], "hello");
        size_t cut = ehdr(&f)->e_phoff + 2 * sizeof(Elf64_Phdr) + 20;
        expect_refused(f.data, cut, "cut in the phdrs", ELF_OPEN_MALFORMED, "truncated",
                       "program header");
        free(f.data);
    }
}

/* The section headers are at the end of the file, so the cut also loses them. */
Test(loader, truncated_mid_pt_load_data_is_malformed_truncated)
{
    for (int a = 0; a < 2; a++) {
        struct file f = read_guest(guest_arches[a], "hello");
        int i = last_load(&f);
        cr_assert_geq(i, 0);
        size_t cut = phdr(&f, i)->p_offset + phdr(&f, i)->p_filesz / 2;
        expect_refused(f.data, cut, "cut in the last PT_LOAD", ELF_OPEN_MALFORMED, "truncated");
        free(f.data);
    }
}

/* The same with intact section headers: a PT_LOAD whose file size runs past the end. */
Test(loader, pt_load_past_end_of_file_is_malformed_truncated)
{
    for (int a = 0; a < 2; a++) {
        struct file f = read_guest(guest_arches[a], "hello");
        Elf64_Phdr *p = phdr(&f, last_load(&f));
        p->p_filesz = f.size - p->p_offset + 0x100;
        p->p_memsz = p->p_filesz + 0x1000;
        expect_refused(f.data, f.size, "PT_LOAD past EOF", ELF_OPEN_MALFORMED, "truncated",
                       "segment");
        free(f.data);
    }
}

/* ---- valid ELF, not for this emulator ------------------------------------------------- */

Test(loader, elfclass32_is_unsupported_32_bit)
{
    struct file f = read_guest("x86_64", "hello");
    f.data[EI_CLASS] = ELFCLASS32;
    expect_refused(f.data, f.size, "ELFCLASS32", ELF_OPEN_UNSUPPORTED, "32-bit");
    free(f.data);
}

Test(loader, invalid_elf_class_is_malformed)
{
    struct file f = read_guest("x86_64", "hello");
    f.data[EI_CLASS] = 7;
    expect_refused(f.data, f.size, "EI_CLASS 7", ELF_OPEN_MALFORMED, "class");
    free(f.data);
}

Test(loader, big_endian_is_unsupported_big_endian)
{
    for (int a = 0; a < 2; a++) {
        struct file f = read_guest(guest_arches[a], "hello");
        f.data[EI_DATA] = ELFDATA2MSB;
        expect_refused(f.data, f.size, "ELFDATA2MSB", ELF_OPEN_UNSUPPORTED, "big-endian");
        free(f.data);
    }
}

Test(loader, other_machines_are_unsupported_and_named)
{
    static const struct {
        uint16_t machine;
        const char *name;
    } cases[] = {
        {EM_RISCV, "RISC-V"},    {EM_386, "i386"}, {EM_ARM, "Arm"},
        {EM_PPC64, "PowerPC64"}, {0x1234, "4660"}, /* no name: the number */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct file f = read_guest("x86_64", "hello");
        ehdr(&f)->e_machine = cases[i].machine;
        expect_refused(f.data, f.size, cases[i].name, ELF_OPEN_UNSUPPORTED, "machine",
                       cases[i].name);
        free(f.data);
    }
}

/* e_machine alone decides the arch: an aarch64 file claiming x86-64 is judged as x86-64 and
 * still opens (the checks are structural). */
Test(loader, e_machine_decides_the_arch)
{
    struct file f = read_guest("aarch64", "hello");
    ehdr(&f)->e_machine = EM_X86_64;
    struct elf_image *img = open_ok(&f, "aarch64 as x86_64");
    cr_expect_eq(elf_image_arch(img)->id, ARCH_X86_64);
    elf_image_close(img);
    free(f.data);
}

Test(loader, et_rel_is_unsupported)
{
    for (int a = 0; a < 2; a++) {
        struct file f = read_guest(guest_arches[a], "hello");
        ehdr(&f)->e_type = ET_REL;
        expect_refused(f.data, f.size, "ET_REL", ELF_OPEN_UNSUPPORTED, "not an executable");
        ehdr(&f)->e_type = ET_CORE;
        expect_refused(f.data, f.size, "ET_CORE", ELF_OPEN_UNSUPPORTED, "not an executable");
        ehdr(&f)->e_type = ET_NONE;
        expect_refused(f.data, f.size, "ET_NONE", ELF_OPEN_MALFORMED, "not an executable");
        free(f.data);
    }
}

/* A PT_NOTE turned into a PT_INTERP naming a dynamic loader: refused as dynamically linked,
 * naming the interpreter. */
Test(loader, pt_interp_is_refused_as_unsupported)
{
    for (int a = 0; a < 2; a++) {
        struct file f = read_guest(guest_arches[a], "hello");
        int i = find_phdr(&f, PT_NOTE, 0);
        cr_assert_geq(i, 0, "no PT_NOTE to turn into PT_INTERP");
        Elf64_Phdr *p = phdr(&f, i);
        static const char interp[] = "/lib/ld-linux-test.so.1";
        cr_assert_geq(p->p_filesz, sizeof(interp));
        memcpy(f.data + p->p_offset, interp, sizeof(interp));
        p->p_type = PT_INTERP;
        p->p_filesz = p->p_memsz = sizeof(interp);
        expect_refused(f.data, f.size, "PT_INTERP", ELF_OPEN_UNSUPPORTED, "dynamically linked",
                       interp, "-static");
        free(f.data);
    }
}

/* A real dynamically linked program of the host, when there is one. */
Test(loader, host_dynamic_program_is_refused_as_dynamically_linked)
{
    const char *path = "/bin/true";
    FILE *probe = fopen(path, "rb");
    if (!probe)
        cr_skip_test("%s not available", path);
    fclose(probe);
    char err[ERRLEN] = "";
    enum elf_open_error kind = ELF_OPEN_OK;
    struct elf_image *img = elf_image_open(path, &kind, err, sizeof(err));
    if (img)
        elf_image_close(img);
    cr_assert_null(img, "%s opened", path);
    cr_expect_eq(kind, ELF_OPEN_UNSUPPORTED, "kind %s: %s", kind_name(kind), err);
    cr_expect_not_null(strstr(err, "dynamically linked"), "message: %s", err);
}

/* ---- inconsistent headers --------------------------------------------------------------- */

Test(loader, bad_phentsize_is_malformed)
{
    struct file f = read_guest("x86_64", "hello");
    ehdr(&f)->e_phentsize = 32;
    expect_refused(f.data, f.size, "e_phentsize 32", ELF_OPEN_MALFORMED, "program header");
    free(f.data);
}

Test(loader, phdrs_beyond_end_of_file_are_malformed)
{
    struct file f = read_guest("x86_64", "hello");
    ehdr(&f)->e_phoff = f.size - 10;
    expect_refused(f.data, f.size, "e_phoff at EOF", ELF_OPEN_MALFORMED, "program header");
    ehdr(&f)->e_phoff = UINT64_MAX - 8;
    expect_refused(f.data, f.size, "e_phoff huge", ELF_OPEN_MALFORMED, "program header");
    free(f.data);
}

Test(loader, filesz_above_memsz_is_malformed)
{
    for (int a = 0; a < 2; a++) {
        struct file f = read_guest(guest_arches[a], "hello");
        Elf64_Phdr *p = phdr(&f, last_load(&f));
        p->p_memsz = p->p_filesz - 8;
        expect_refused(f.data, f.size, "filesz > memsz", ELF_OPEN_MALFORMED, "file size",
                       "memory size");
        free(f.data);
    }
}

Test(loader, vaddr_offset_disagreeing_modulo_page_is_malformed)
{
    for (int a = 0; a < 2; a++) {
        struct file f = read_guest(guest_arches[a], "hello");
        Elf64_Phdr *p = phdr(&f, last_load(&f));
        p->p_vaddr += 0x10;
        expect_refused(f.data, f.size, "vaddr % page != offset % page", ELF_OPEN_MALFORMED,
                       "modulo the page size");
        free(f.data);
    }
}

Test(loader, segment_beyond_user_address_space_is_refused)
{
    for (int a = 0; a < 2; a++) {
        struct file f = read_guest(guest_arches[a], "hello");
        const struct arch_desc *arch = arch_named(guest_arches[a]);
        Elf64_Phdr *p = phdr(&f, last_load(&f));
        /* Starts in user space, ends past TASK_SIZE (spec 0.3). */
        uint64_t page_off = p->p_vaddr & 0xfff;
        p->p_vaddr = arch->task_size - 0x1000 + page_off;
        p->p_paddr = p->p_vaddr;
        expect_refused(f.data, f.size, "segment across TASK_SIZE", ELF_OPEN_MALFORMED,
                       "outside the user address space");
        /* Entirely above it. */
        p->p_vaddr = arch->task_size + 0x100000 + page_off;
        expect_refused(f.data, f.size, "segment above TASK_SIZE", ELF_OPEN_MALFORMED,
                       "outside the user address space");
        /* Wrapping around 2^64. */
        p->p_vaddr = 0xfffffffffffff000ULL + page_off;
        expect_refused(f.data, f.size, "segment wrapping", ELF_OPEN_MALFORMED,
                       "outside the user address space");
        free(f.data);
    }
}

/* vm.mmap_min_addr: Linux's mmap of such a segment fails, and so does the execve. A guest
 * entered at 0 once made the aarch64 engine loop forever. */
Test(loader, segment_below_mmap_min_addr_is_refused)
{
    for (int a = 0; a < 2; a++) {
        struct file f = read_guest(guest_arches[a], "hello");
        int first = find_phdr(&f, PT_LOAD, 0);
        Elf64_Phdr *p = phdr(&f, first);
        uint64_t page_off = p->p_vaddr & 0xfff, shift = p->p_vaddr - page_off;
        /* The whole program moved down to address 0: every segment and the entry. */
        for (int i = 0; i < ehdr(&f)->e_phnum; i++)
            if (phdr(&f, i)->p_vaddr >= shift) {
                phdr(&f, i)->p_vaddr -= shift;
                phdr(&f, i)->p_paddr = phdr(&f, i)->p_vaddr;
            }
        ehdr(&f)->e_entry -= shift;
        expect_refused(f.data, f.size, "segment at 0", ELF_OPEN_UNSUPPORTED, "mmap_min_addr");
        free(f.data);
    }
}

Test(loader, overlapping_or_unordered_segments_are_malformed)
{
    for (int a = 0; a < 2; a++) {
        struct file f = read_guest(guest_arches[a], "hello");
        int first = find_phdr(&f, PT_LOAD, 0), second = find_phdr(&f, PT_LOAD, 1);
        Elf64_Phdr tmp = *phdr(&f, first);
        *phdr(&f, first) = *phdr(&f, second);
        *phdr(&f, second) = tmp;
        expect_refused(f.data, f.size, "swapped PT_LOADs", ELF_OPEN_MALFORMED, "overlaps");
        free(f.data);
    }
}

/* spec 7.8: rip/pc = e_entry, which must be code the program maps. */
Test(loader, entry_outside_executable_segments_is_malformed)
{
    for (int a = 0; a < 2; a++) {
        struct file f = read_guest(guest_arches[a], "hello");
        Elf64_Phdr *data = phdr(&f, last_load(&f));
        cr_assert_eq(data->p_flags & PF_X, 0, "last PT_LOAD is executable");
        ehdr(&f)->e_entry = data->p_vaddr + 8; /* mapped, not executable */
        expect_refused(f.data, f.size, "entry in data", ELF_OPEN_MALFORMED, "entry point");
        ehdr(&f)->e_entry = 0x10; /* unmapped */
        expect_refused(f.data, f.size, "entry unmapped", ELF_OPEN_MALFORMED, "entry point");
        free(f.data);
    }
}

Test(loader, no_pt_load_is_malformed)
{
    for (int a = 0; a < 2; a++) {
        struct file f = read_guest(guest_arches[a], "hello");
        for (int i = 0; i < ehdr(&f)->e_phnum; i++)
            if (phdr(&f, i)->p_type == PT_LOAD)
                phdr(&f, i)->p_type = PT_NULL;
        expect_refused(f.data, f.size, "no PT_LOAD", ELF_OPEN_MALFORMED, "no loadable segment");
        free(f.data);
    }
}

Test(loader, no_program_headers_is_malformed)
{
    struct file f = read_guest("x86_64", "hello");
    ehdr(&f)->e_phnum = 0;
    expect_refused(f.data, f.size, "e_phnum 0", ELF_OPEN_MALFORMED, "program header");
    free(f.data);
}

/* spec 7.9: the TLS segment lies in the initialized data of a PT_LOAD. */
Test(loader, inconsistent_pt_tls_is_malformed)
{
    for (int a = 0; a < 2; a++) {
        struct file f = read_guest(guest_arches[a], "hello");
        int i = find_phdr(&f, PT_TLS, 0);
        cr_assert_geq(i, 0, "hello has no PT_TLS");
        Elf64_Phdr *t = phdr(&f, i), saved = *t;

        t->p_filesz = t->p_memsz + 8;
        expect_refused(f.data, f.size, "TLS filesz > memsz", ELF_OPEN_MALFORMED, "PT_TLS");
        *t = saved;

        t->p_vaddr = 0x100000; /* in no segment */
        expect_refused(f.data, f.size, "TLS outside", ELF_OPEN_MALFORMED, "PT_TLS");
        *t = saved;

        t->p_align = 24; /* not a power of two */
        expect_refused(f.data, f.size, "TLS align 24", ELF_OPEN_MALFORMED, "PT_TLS");
        *t = saved;

        /* Initialized TLS data running past the segment's file data. */
        Elf64_Phdr *load = phdr(&f, last_load(&f));
        t->p_vaddr = load->p_vaddr + load->p_filesz - 8;
        t->p_offset = load->p_offset + load->p_filesz - 8;
        expect_refused(f.data, f.size, "TLS past filesz", ELF_OPEN_MALFORMED, "PT_TLS");
        *t = saved;

        struct elf_image *img = open_ok(&f, "restored");
        elf_image_close(img);
        free(f.data);
    }
}

/* ---- the static PIE, run ---------------------------------------------------------------- */

/* spec 7.8 (ET_DYN variant): the program runs at the load bias, relocates itself and sees its
 * arguments. main's address as printed is the loader's symbol address. */
Test(loader, static_pie_runs_at_the_pie_base_on_both_arches)
{
    for (int a = 0; a < 2; a++) {
        const char *arch = guest_arches[a];
        char err[ERRLEN];
        enum elf_open_error kind;
        struct elf_image *img =
            elf_image_open(guest_path(arch, "hello_pie"), &kind, err, sizeof(err));
        cr_assert_not_null(img, "%s", err);
        guest_addr_t main_addr = elf_image_symbol(img, "main");
        elf_image_close(img);

        static struct guest_result r;
        const char *args[] = {"first", "second arg", NULL};
        char path[4096];
        snprintf(path, sizeof(path), "%s", guest_path(arch, "hello_pie"));
        cr_assert_eq(guest_run(arch, "hello_pie", args, NULL, &r), 0, "%s: %s", arch, r.err);
        cr_expect_eq(r.outcome, KERNEL_EXITED, "%s: outcome %d: %s", arch, r.outcome, r.err);
        cr_expect_eq(r.status, 0, "%s: status %d: %s", arch, r.status, r.err);
        char want[8192];
        snprintf(want, sizeof(want),
                 "hello from a static PIE\n"
                 "main = %#llx\n"
                 "main above pie floor: yes\n"
                 "argv[0] = %s\n"
                 "argv[1] = first\n"
                 "argv[2] = second arg\n",
                 (unsigned long long)main_addr, path);
        cr_expect_str_eq(r.out, want, "%s: output\n%s\nstderr:\n%s", arch, r.out, r.err);
    }
}
