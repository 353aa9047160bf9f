/* Declared critical sections (kernel-model/rseq_decl*.c): each check of a descriptor on a fake
 * program whose code is [0x1000, 0x2000), one problem at a time; and the descriptors read from
 * the built guests' files. */
#include <criterion/criterion.h>
#include <string.h>

#include "emu/loader.h"
#include "guest_run.h"
#include "kernel-model/rseq_decl.h"

#define SIG        0x53053053u
#define CODE_START 0x1000u
#define CODE_END   0x2000u

/* The fake program: code in [CODE_START, CODE_END), the signature before 0x1800, a wrong word
 * before 0x1900, and data (readable, not code) in [0x3000, 0x3100). */
static bool fake_exec(void *ctx, guest_addr_t a)
{
    (void)ctx;
    return a >= CODE_START && a < CODE_END;
}

static bool fake_read_u32(void *ctx, guest_addr_t a, uint32_t *out)
{
    (void)ctx;
    if (!((a >= CODE_START && a + 4 <= CODE_END) || (a >= 0x3000 && a + 4 <= 0x3100)))
        return false;
    *out = a == 0x1800 - 4 ? SIG : a == 0x1900 - 4 ? 0x0badc0de : 0xcccccccc;
    return true;
}

static const struct rseq_code_view fake = {NULL, fake_exec, fake_read_u32};

static struct rseq_cs_decl good(guest_addr_t addr)
{
    return (struct rseq_cs_decl){.addr = addr,
                                 .in_file = true,
                                 .start_ip = 0x1100,
                                 .post_commit_offset = 0x20,
                                 .abort_ip = 0x1800};
}

struct check_case {
    const char *what;
    struct rseq_cs_decl cs;
    enum rseq_cs_problem problem; /* the one warning expected */
    const char *text;             /* a part of its text */
};

static const struct check_case cases[] = {
    {"version 1", {0x4000, true, 1, 0, 0x1100, 0x20, 0x1800}, RSEQ_CS_VERSION, "version 1"},
    {"deprecated flag",
     {0x4000, true, 0, 2, 0x1100, 0x20, 0x1800},
     RSEQ_CS_FLAGS_DEPRECATED,
     "flags 0x2: NO_RESTART_ON_SIGNAL"},
    {"unknown flag",
     {0x4000, true, 0, 0x10, 0x1100, 0x20, 0x1800},
     RSEQ_CS_FLAGS_UNKNOWN,
     "unknown flag bits 0x10"},
    {"misaligned", {0x4008, true, 0, 0, 0x1100, 0x20, 0x1800}, RSEQ_CS_MISALIGNED, "0x8 bytes"},
    {"abort inside",
     {0x4000, true, 0, 0, 0x17f0, 0x20, 0x1800},
     RSEQ_CS_ABORT_INSIDE,
     "abort_ip 0x1800 is inside the section [0x17f0, 0x1810)"},
    {"abort at the section's start",
     {0x4000, true, 0, 0, 0x1800, 0x20, 0x1800},
     RSEQ_CS_ABORT_INSIDE,
     "inside the section [0x1800, 0x1820)"},
    {"wrong signature",
     {0x4000, true, 0, 0, 0x1100, 0x20, 0x1900},
     RSEQ_CS_SIGNATURE,
     "signature 0x0badc0de at 0x18fc"},
    {"start in data",
     {0x4000, true, 0, 0, 0x3000, 0x20, 0x1800},
     RSEQ_CS_NOT_CODE,
     "start_ip 0x3000 is not in"},
    {"section running past the code",
     {0x4000, true, 0, 0, 0x1ff0, 0x20, 0x1800},
     RSEQ_CS_NOT_CODE,
     "[0x1ff0, 0x2010) ends outside"},
    {"not in the file",
     {0x9000, false},
     RSEQ_CS_NOT_IN_FILE,
     "its 32 bytes are not in one loaded section"},
};

Test(rseq_decl, each_problem_alone_gives_one_warning)
{
    struct rseq_cs_warning w[RSEQ_CS_WARNINGS_MAX];
    struct rseq_cs_decl ok = good(0x4000);
    cr_expect_eq(rseq_cs_check(&ok, 0, SIG, &fake, w), 0, "a good descriptor: %s", w[0].text);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct check_case *c = &cases[i];
        size_t n = rseq_cs_check(&c->cs, 0, SIG, &fake, w);
        cr_assert_eq(n, 1, "%s: %zu warnings, the first: %s", c->what, n, n ? w[0].text : "");
        cr_expect_eq(w[0].problem, c->problem, "%s: %s", c->what, w[0].text);
        cr_expect(strstr(w[0].text, c->text), "%s: '%s' does not say '%s'", c->what, w[0].text,
                  c->text);
    }
}

/* A wrap-around is reported once: the checks that need the section's end skip it. */
Test(rseq_decl, wrap_around_is_not_also_an_abort_inside)
{
    struct rseq_cs_decl cs = good(0x4000);
    cs.post_commit_offset = UINT64_MAX - 0x10;
    struct rseq_cs_warning w[RSEQ_CS_WARNINGS_MAX];
    size_t n = rseq_cs_check(&cs, 0, SIG, &fake, w);
    cr_assert_eq(n, 1, "%zu warnings: %s", n, w[0].text);
    cr_expect_eq(w[0].problem, RSEQ_CS_WRAPS);
    cr_expect(strstr(w[0].text, "start_ip 0x1100 + post_commit_offset 0xffffffffffffffef wraps"),
              "%s", w[0].text);
}

/* The signature must be readable: abort_ip at the very start of the code has none. */
Test(rseq_decl, signature_outside_the_file)
{
    struct rseq_cs_decl cs = good(0x4000);
    cs.abort_ip = CODE_START;
    struct rseq_cs_warning w[RSEQ_CS_WARNINGS_MAX];
    size_t n = rseq_cs_check(&cs, 0, SIG, &fake, w);
    cr_assert_eq(n, 1, "%zu warnings: %s", n, w[0].text);
    cr_expect_eq(w[0].problem, RSEQ_CS_SIGNATURE);
    cr_expect(strstr(w[0].text, "no bytes at 0xffc"), "%s", w[0].text);
}

/* The same pointer twice, and two descriptors of one section: the later is named. */
Test(rseq_decl, duplicates_name_the_first)
{
    struct rseq_cs_decl d[4] = {good(0x4000), good(0x4020), good(0x4000), good(0x4040)};
    d[1].start_ip = 0x1200;
    struct rseq_cs_warning w[RSEQ_CS_WARNINGS_MAX];
    cr_expect_eq(rseq_cs_check(d, 0, SIG, &fake, w), 0);
    cr_expect_eq(rseq_cs_check(d, 1, SIG, &fake, w), 0);
    cr_assert_eq(rseq_cs_check(d, 2, SIG, &fake, w), 1);
    cr_expect_eq(w[0].problem, RSEQ_CS_DUPLICATE);
    cr_expect(strstr(w[0].text, "the same descriptor as [0]"), "%s", w[0].text);
    cr_assert_eq(rseq_cs_check(d, 3, SIG, &fake, w), 1);
    cr_expect(strstr(w[0].text, "the same section as [0] (descriptor 0x4000)"), "%s", w[0].text);
}

/* Everything wrong at once: every warning fits, none is lost. */
Test(rseq_decl, many_problems_at_once)
{
    struct rseq_cs_decl d[2] = {good(0x4001), good(0x4001)};
    d[1].version = 7;
    d[1].flags = 0xff;
    d[1].start_ip = 0x3000;
    d[1].abort_ip = 0x3010;
    struct rseq_cs_warning w[RSEQ_CS_WARNINGS_MAX];
    size_t n = rseq_cs_check(d, 1, SIG, &fake, w);
    /* misaligned, duplicate, version, deprecated and unknown flags, start and abort not in
     * code, abort inside, signature */
    cr_expect_eq(n, 9, "%zu warnings", n);
}

static struct elf_image *open_guest(const char *arch, const char *name)
{
    enum elf_open_error kind;
    char err[256];
    struct elf_image *img = elf_image_open(guest_path(arch, name), &kind, err, sizeof(err));
    cr_assert_not_null(img, "%s/%s: %s", arch, name, err);
    return img;
}

/* percpu_counter declares one section through its pointer array, and it is well formed; the
 * descriptor lies in __rseq_cs. */
Test(rseq_decl, percpu_counter_reads_one_good_section)
{
    for (int a = 0; a < 2; a++) {
        struct elf_image *img = open_guest(guest_arches[a], "percpu_counter");
        struct rseq_decls d;
        cr_assert_eq(rseq_decls_read(img, &d), 0);
        cr_expect_str_eq(d.section, "__rseq_cs_ptr_array");
        cr_assert_eq(d.count, 1);
        cr_expect_eq(d.trailing, 0);
        struct elf_section cs;
        cr_assert(elf_image_section(img, "__rseq_cs", &cs));
        cr_expect_eq(d.cs[0].addr, cs.addr);
        cr_expect(d.cs[0].in_file);
        cr_expect_gt(d.cs[0].post_commit_offset, 0);
        struct rseq_code_view view = rseq_code_view_of(img);
        struct rseq_cs_warning w[RSEQ_CS_WARNINGS_MAX];
        cr_expect_eq(rseq_cs_check(d.cs, 0, elf_image_arch(img)->rseq_sig, &view, w), 0, "%s",
                     w[0].text);
        rseq_decls_free(&d);
        elf_image_close(img);
    }
}

/* hello declares none; hello_pie neither, and is not called relocated for it. */
Test(rseq_decl, programs_without_sections)
{
    const char *names[] = {"hello", "hello_pie"};
    for (int a = 0; a < 2; a++) {
        for (int n = 0; n < 2; n++) {
            struct elf_image *img = open_guest(guest_arches[a], names[n]);
            struct rseq_decls d;
            cr_assert_eq(rseq_decls_read(img, &d), 0);
            cr_expect_null(d.section);
            cr_expect_eq(d.count, 0);
            cr_expect_not(d.relocated);
            rseq_decls_free(&d);
            elf_image_close(img);
        }
    }
}
