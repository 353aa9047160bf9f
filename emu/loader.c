/* Static ELF loading with libelf. The checks refuse, with one line each, what Linux would refuse
 * and what this emulator cannot run (other machines, dynamically linked programs). */
#include "loader.h"

#include <errno.h>
#include <fcntl.h>
#include <capstone/capstone.h>
#include <gelf.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aspace.h"
#include "emu.h"
#include "hash.h"

#define PAGE              4096ULL
#define PAGE_DOWN(x)      ((x) & ~(PAGE - 1))
#define PAGE_UP(x)        (((x) + PAGE - 1) & ~(PAGE - 1))
#define IMAGE_SIZE_MAX    (1ULL << 30)
#define LOAD_SEGMENTS_MAX 64
#define MAX_ARG_STRLEN    (32 * PAGE) /* Linux: one argument or environment string */

struct elf_symbol {
    guest_addr_t addr;
    uint64_t size;
    const char *name; /* points into the image's string table copy */
    bool func;
    bool object; /* STT_OBJECT: data */
};

struct elf_segment {
    uint64_t offset, vaddr, filesz, memsz;
    int prot;
};

struct elf_image {
    char *name;
    char *abs_path;
    uint8_t *data;
    size_t size;
    Elf *elf;
    const struct arch_desc *arch;
    bool pie;
    guest_addr_t bias;
    uint64_t entry;
    uint64_t phoff;
    uint16_t phnum, phentsize;
    struct elf_segment segs[LOAD_SEGMENTS_MAX];
    int nsegs;
    bool exec_stack;
    uint64_t hash;
    struct elf_symbol *syms;
    size_t nsyms;
};

static void fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int prot_of(uint32_t pflags)
{
    return (pflags & PF_R ? LX_PROT_READ : 0) | (pflags & PF_W ? LX_PROT_WRITE : 0) |
           (pflags & PF_X ? LX_PROT_EXEC : 0);
}

static const char *machine_name(uint16_t m)
{
    switch (m) {
    case EM_386:
        return "i386";
    case EM_ARM:
        return "32-bit Arm";
    case EM_RISCV:
        return "RISC-V";
    case EM_PPC64:
        return "PowerPC64";
    case EM_S390:
        return "s390";
    case EM_MIPS:
        return "MIPS";
    default:
        return NULL;
    }
}

static int sym_cmp(const void *a, const void *b)
{
    const struct elf_symbol *x = a, *y = b;
    if (x->addr != y->addr)
        return x->addr < y->addr ? -1 : 1;
    /* Prefer the sized symbol at an address, then the name, for a stable order. */
    if (x->size != y->size)
        return x->size > y->size ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void load_symbols(struct elf_image *img)
{
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(img->elf, scn)) != NULL) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || sh.sh_entsize == 0)
            continue;
        Elf_Data *d = elf_getdata(scn, NULL);
        if (!d)
            continue;
        size_t n = sh.sh_size / sh.sh_entsize;
        img->syms = calloc(n ? n : 1, sizeof(*img->syms));
        if (!img->syms)
            return;
        for (size_t i = 0; i < n; i++) {
            GElf_Sym s;
            /* Absolute symbols (glibc's _nl_current_*_used = 2) name no code or data. */
            if (!gelf_getsym(d, (int)i, &s) || s.st_value == 0 || s.st_shndx == SHN_UNDEF ||
                s.st_shndx == SHN_ABS)
                continue;
            int type = GELF_ST_TYPE(s.st_info);
            if (type != STT_FUNC && type != STT_OBJECT && type != STT_NOTYPE)
                continue;
            const char *name = elf_strptr(img->elf, sh.sh_link, s.st_name);
            if (!name || !name[0] || name[0] == '$') /* aarch64 mapping symbols $x/$d */
                continue;
            img->syms[img->nsyms++] = (struct elf_symbol){.addr = s.st_value + img->bias,
                                                          .size = s.st_size,
                                                          .name = name,
                                                          .func = type == STT_FUNC,
                                                          .object = type == STT_OBJECT};
        }
        qsort(img->syms, img->nsyms, sizeof(*img->syms), sym_cmp);
        return;
    }
}

static struct elf_image *parse(struct elf_image *img, enum elf_open_error *kind, char *err,
                               size_t errlen)
{
    *kind = ELF_OPEN_MALFORMED;
    if (img->size < 4 || memcmp(img->data, ELFMAG, SELFMAG) != 0) {
        fail(err, errlen, "not an ELF file");
        return NULL;
    }
    if (img->size < EI_NIDENT) {
        fail(err, errlen, "truncated ELF file: %zu bytes, shorter than its identification",
             img->size);
        return NULL;
    }
    if (img->data[EI_CLASS] != ELFCLASS64) {
        if (img->data[EI_CLASS] == ELFCLASS32)
            *kind = ELF_OPEN_UNSUPPORTED;
        fail(err, errlen, "%s ELF files are not supported (static 64-bit x86-64 or aarch64 only)",
             img->data[EI_CLASS] == ELFCLASS32 ? "32-bit" : "this class of");
        return NULL;
    }
    if (img->data[EI_DATA] != ELFDATA2LSB) {
        *kind = img->data[EI_DATA] == ELFDATA2MSB ? ELF_OPEN_UNSUPPORTED : ELF_OPEN_MALFORMED;
        fail(err, errlen, "big-endian ELF files are not supported");
        return NULL;
    }
    if (img->size < sizeof(Elf64_Ehdr)) {
        fail(err, errlen, "truncated ELF file: %zu bytes, shorter than its header", img->size);
        return NULL;
    }
    img->elf = elf_memory((char *)img->data, img->size);
    GElf_Ehdr eh;
    if (!img->elf || elf_kind(img->elf) != ELF_K_ELF || !gelf_getehdr(img->elf, &eh)) {
        fail(err, errlen, "malformed ELF header (%s)", elf_errmsg(-1));
        return NULL;
    }
    img->arch = arch_for_elf_machine(eh.e_machine);
    if (!img->arch) {
        *kind = ELF_OPEN_UNSUPPORTED;
        const char *m = machine_name(eh.e_machine);
        if (m)
            fail(err, errlen, "unsupported machine %s (only x86-64 and aarch64 guests)", m);
        else
            fail(err, errlen, "unsupported machine %u (only x86-64 and aarch64 guests)",
                 eh.e_machine);
        return NULL;
    }
    if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) {
        *kind =
            eh.e_type == ET_REL || eh.e_type == ET_CORE ? ELF_OPEN_UNSUPPORTED : ELF_OPEN_MALFORMED;
        fail(err, errlen, "not an executable (ELF type %u)", eh.e_type);
        return NULL;
    }
    if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > 256 ||
        eh.e_phoff > img->size || img->size - eh.e_phoff < (uint64_t)eh.e_phnum * eh.e_phentsize) {
        fail(err, errlen, "truncated or malformed program header table");
        return NULL;
    }
    img->pie = eh.e_type == ET_DYN;
    img->bias = img->pie ? img->arch->pie_base : 0;
    img->entry = eh.e_entry;
    img->phoff = eh.e_phoff;
    img->phnum = eh.e_phnum;
    img->phentsize = eh.e_phentsize;
    img->exec_stack = false;
    uint64_t prev_end = 0;
    bool have_tls = false;
    GElf_Phdr tls = {0};
    for (int i = 0; i < eh.e_phnum; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(img->elf, i, &ph)) {
            fail(err, errlen, "malformed program header %d", i);
            return NULL;
        }
        switch (ph.p_type) {
        case PT_INTERP: {
            *kind = ELF_OPEN_UNSUPPORTED;
            char interp[128] = "";
            if (ph.p_offset < img->size) {
                size_t n = img->size - ph.p_offset < sizeof(interp) - 1 ? img->size - ph.p_offset
                                                                        : sizeof(interp) - 1;
                memcpy(interp, img->data + ph.p_offset, n);
                interp[n] = '\0';
            }
            fail(err, errlen,
                 "dynamically linked program (PT_INTERP %s); rseqemu runs static programs only "
                 "(link with -static)",
                 interp);
            return NULL;
        }
        case PT_LOAD:
            if (ph.p_filesz > ph.p_memsz) {
                fail(err, errlen, "segment %d: file size 0x%llx exceeds memory size 0x%llx", i,
                     (unsigned long long)ph.p_filesz, (unsigned long long)ph.p_memsz);
                return NULL;
            }
            if (ph.p_offset > img->size || img->size - ph.p_offset < ph.p_filesz) {
                fail(err, errlen,
                     "truncated ELF file: segment %d needs bytes up to 0x%llx, the "
                     "file has 0x%zx",
                     i, (unsigned long long)(ph.p_offset + ph.p_filesz), img->size);
                return NULL;
            }
            if ((ph.p_vaddr & (PAGE - 1)) != (ph.p_offset & (PAGE - 1))) {
                fail(err, errlen,
                     "segment %d: address and file offset disagree modulo the page "
                     "size",
                     i);
                return NULL;
            }
            if (ph.p_vaddr + img->bias < prev_end &&
                PAGE_DOWN(ph.p_vaddr + img->bias) < PAGE_DOWN(prev_end - 1)) {
                fail(err, errlen, "segment %d overlaps the previous one or is out of order", i);
                return NULL;
            }
            if (ph.p_vaddr + ph.p_memsz < ph.p_vaddr ||
                ph.p_vaddr + img->bias + ph.p_memsz > img->arch->task_size) {
                fail(err, errlen, "segment %d lies outside the user address space", i);
                return NULL;
            }
            if (ph.p_memsz && PAGE_DOWN(ph.p_vaddr + img->bias) < LX_MMAP_MIN_ADDR) {
                /* Linux's mmap of the segment fails (EPERM) and so does the execve. */
                *kind = ELF_OPEN_UNSUPPORTED;
                fail(err, errlen,
                     "segment %d at 0x%llx lies below vm.mmap_min_addr (0x%llx): Linux refuses "
                     "to map it",
                     i, (unsigned long long)(ph.p_vaddr + img->bias), LX_MMAP_MIN_ADDR);
                return NULL;
            }
            if (img->nsegs == LOAD_SEGMENTS_MAX) {
                fail(err, errlen, "more than %d loadable segments", LOAD_SEGMENTS_MAX);
                return NULL;
            }
            img->segs[img->nsegs++] = (struct elf_segment){.offset = ph.p_offset,
                                                           .vaddr = ph.p_vaddr + img->bias,
                                                           .filesz = ph.p_filesz,
                                                           .memsz = ph.p_memsz,
                                                           .prot = prot_of(ph.p_flags)};
            prev_end = ph.p_vaddr + img->bias + ph.p_memsz;
            break;
        case PT_GNU_STACK:
            img->exec_stack = (ph.p_flags & PF_X) != 0;
            break;
        case PT_TLS:
            have_tls = true;
            tls = ph;
            break;
        default:
            break;
        }
    }
    if (img->nsegs == 0) {
        fail(err, errlen, "no loadable segment");
        return NULL;
    }
    if (have_tls) {
        /* Linux ignores PT_TLS, but libc builds the thread pointer from it: it must describe
         * initialized data inside a loaded segment. */
        bool inside = tls.p_filesz <= tls.p_memsz && (tls.p_align & (tls.p_align - 1)) == 0;
        bool found = false;
        for (int i = 0; inside && i < img->nsegs; i++)
            found |=
                tls.p_vaddr + img->bias >= img->segs[i].vaddr &&
                tls.p_vaddr + img->bias + tls.p_filesz <= img->segs[i].vaddr + img->segs[i].filesz;
        if (!inside || (!found && tls.p_filesz)) {
            fail(err, errlen, "inconsistent PT_TLS segment");
            return NULL;
        }
    }
    bool entry_ok = false;
    for (int i = 0; i < img->nsegs; i++)
        entry_ok |= img->entry + img->bias >= img->segs[i].vaddr &&
                    img->entry + img->bias < img->segs[i].vaddr + img->segs[i].memsz &&
                    (img->segs[i].prot & LX_PROT_EXEC);
    if (!entry_ok) {
        fail(err, errlen, "entry point 0x%llx is not in an executable segment",
             (unsigned long long)img->entry);
        return NULL;
    }
    struct hash64 h = HASH64_INIT;
    hash64_bytes(&h, img->data, img->size);
    img->hash = h.h;
    load_symbols(img);
    *kind = ELF_OPEN_OK;
    return img;
}

struct elf_image *elf_image_open_mem(const void *data, size_t size, const char *name,
                                     enum elf_open_error *kind, char *err, size_t errlen)
{
    *kind = ELF_OPEN_MALFORMED;
    if (elf_version(EV_CURRENT) == EV_NONE) {
        fail(err, errlen, "libelf is unusable");
        return NULL;
    }
    struct elf_image *img = calloc(1, sizeof(*img));
    if (!img || !(img->name = strdup(name)) || !(img->data = malloc(size ? size : 1))) {
        fail(err, errlen, "out of memory");
        elf_image_close(img);
        return NULL;
    }
    memcpy(img->data, data, size);
    img->size = size;
    if (!parse(img, kind, err, errlen)) {
        elf_image_close(img);
        return NULL;
    }
    return img;
}

struct elf_image *elf_image_open(const char *path, enum elf_open_error *kind, char *err,
                                 size_t errlen)
{
    *kind = ELF_OPEN_CANNOT_READ;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fail(err, errlen, "cannot open: %s", strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fail(err, errlen, "not a regular file");
        close(fd);
        return NULL;
    }
    if ((uint64_t)st.st_size > IMAGE_SIZE_MAX) {
        fail(err, errlen, "file too large (%lld bytes)", (long long)st.st_size);
        close(fd);
        return NULL;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size ? size : 1);
    size_t got = 0;
    while (buf && got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (!buf || got != size) {
        fail(err, errlen, buf ? "cannot read the file" : "out of memory");
        free(buf);
        return NULL;
    }
    struct elf_image *img = elf_image_open_mem(buf, size, path, kind, err, errlen);
    free(buf);
    if (img)
        img->abs_path = realpath(path, NULL);
    return img;
}

void elf_image_close(struct elf_image *img)
{
    if (!img)
        return;
    if (img->elf)
        elf_end(img->elf);
    free(img->syms);
    free(img->data);
    free(img->name);
    free(img->abs_path);
    free(img);
}

const struct arch_desc *elf_image_arch(const struct elf_image *img) { return img->arch; }
const char *elf_image_name(const struct elf_image *img) { return img->name; }
const char *elf_image_path(const struct elf_image *img)
{
    return img->abs_path ? img->abs_path : img->name;
}
uint64_t elf_image_hash(const struct elf_image *img) { return img->hash; }
bool elf_image_is_pie(const struct elf_image *img) { return img->pie; }

static void fill_section(const struct elf_image *img, const GElf_Shdr *sh, const char *name,
                         struct elf_section *out)
{
    out->name = name;
    out->addr = sh->sh_addr + img->bias;
    out->size = sh->sh_size;
    out->data = NULL;
    if (sh->sh_type != SHT_NOBITS && sh->sh_offset <= img->size &&
        img->size - sh->sh_offset >= sh->sh_size)
        out->data = img->data + sh->sh_offset;
    out->exec = (sh->sh_flags & SHF_EXECINSTR) != 0;
}

/* The first section for which match() holds, with its name. */
static bool find_section(const struct elf_image *img,
                         bool (*match)(const GElf_Shdr *sh, const char *name, const void *arg),
                         const void *arg, struct elf_section *out)
{
    size_t shstrndx;
    if (elf_getshdrstrndx(img->elf, &shstrndx) != 0)
        return false;
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(img->elf, scn)) != NULL) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh))
            continue;
        const char *n = elf_strptr(img->elf, shstrndx, sh.sh_name);
        if (!n || !match(&sh, n, arg))
            continue;
        fill_section(img, &sh, n, out);
        return true;
    }
    return false;
}

static bool named(const GElf_Shdr *sh, const char *name, const void *arg)
{
    (void)sh;
    return strcmp(name, arg) == 0;
}

bool elf_image_section(const struct elf_image *img, const char *name, struct elf_section *out)
{
    return find_section(img, named, name, out);
}

static bool holds(const GElf_Shdr *sh, const char *name, const void *arg)
{
    (void)name;
    /* Compared before the bias, so that the sum cannot wrap. */
    uint64_t addr = *(const uint64_t *)arg;
    /* .tbss holds no addresses: its sh_addr is that of the TLS template, shared with the
     * sections after it. */
    if ((sh->sh_flags & SHF_TLS) && sh->sh_type == SHT_NOBITS)
        return false;
    return (sh->sh_flags & SHF_ALLOC) && sh->sh_size && addr >= sh->sh_addr &&
           addr - sh->sh_addr < sh->sh_size;
}

bool elf_image_section_at(const struct elf_image *img, guest_addr_t addr, struct elf_section *out)
{
    if (addr < img->bias)
        return false;
    uint64_t unbiased = addr - img->bias;
    return find_section(img, holds, &unbiased, out);
}

/* "name", or "name+0x1c" past its start. */
static void name_offset(char *buf, size_t len, const char *name, uint64_t off)
{
    if (off == 0)
        snprintf(buf, len, "%s", name);
    else
        snprintf(buf, len, "%s+0x%llx", name, (unsigned long long)off);
}

bool elf_image_symbolize(const struct elf_image *img, guest_addr_t addr, char *buf, size_t len)
{
    size_t lo = 0, hi = img->nsyms;
    while (lo < hi) { /* last symbol with addr <= target */
        size_t mid = lo + (hi - lo) / 2;
        if (img->syms[mid].addr <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i-- > 0;) {
        const struct elf_symbol *s = &img->syms[i];
        if (addr - s->addr >= (s->size ? s->size : 1) && s->size != 0)
            continue;
        if (s->size == 0 && i + 1 < img->nsyms && img->syms[i + 1].addr <= addr)
            continue;
        if (addr - s->addr > 0x100000)
            break;
        name_offset(buf, len, s->name, addr - s->addr);
        return true;
    }
    return false;
}

bool elf_image_object(const struct elf_image *img, guest_addr_t addr, char *buf, size_t len)
{
    /* A scan of the sorted table: for listings, never on a hot path. */
    for (size_t i = 0; i < img->nsyms && img->syms[i].addr <= addr; i++) {
        const struct elf_symbol *s = &img->syms[i];
        if (!s->object || addr - s->addr >= s->size)
            continue;
        name_offset(buf, len, s->name, addr - s->addr);
        return true;
    }
    return false;
}

guest_addr_t elf_image_symbol(const struct elf_image *img, const char *name)
{
    for (size_t i = 0; i < img->nsyms; i++)
        if (strcmp(img->syms[i].name, name) == 0)
            return img->syms[i].addr;
    return 0;
}

/* Maps the segments page by page: a page shared by two segments gets both protections, and
 * the bytes around a segment in its first and last page come from the file as mmap would give
 * them, up to the end of the file data. */
static int map_segments(const struct elf_image *img, struct aspace *as, guest_addr_t *brk,
                        char *err, size_t errlen)
{
    guest_addr_t mapped_end = 0;
    int last_prot = 0;
    for (int i = 0; i < img->nsegs; i++) {
        const struct elf_segment *s = &img->segs[i];
        guest_addr_t start = PAGE_DOWN(s->vaddr), end = PAGE_UP(s->vaddr + s->memsz);
        if (start < mapped_end) {
            /* The first page is shared with the previous segment. */
            aspace_protect(as, start, PAGE, last_prot | s->prot);
            start = mapped_end;
        }
        if (end > start) {
            /* The file's pages, then anonymous zeros for the rest of the bss, as
             * load_elf_binary() maps them: two mappings in /proc/self/maps. */
            uint64_t head = s->vaddr - PAGE_DOWN(s->vaddr);
            guest_addr_t file_end = PAGE_UP(s->vaddr + s->filesz);
            file_end = file_end < start ? start : file_end > end ? end : file_end;
            int rc = file_end > start
                         ? aspace_map_file(as, start, file_end - start, s->prot, 0,
                                           s->offset - head + (start - PAGE_DOWN(s->vaddr)))
                         : 0;
            if (rc == 0 && end > file_end)
                rc = aspace_map(as, file_end, end - file_end, s->prot, 0);
            if (rc) {
                fail(err, errlen, "cannot map segment %d at 0x%llx (%d)", i,
                     (unsigned long long)start, rc);
                return -1;
            }
            mapped_end = end;
        }
        last_prot = s->prot;
        uint64_t head = s->vaddr - PAGE_DOWN(s->vaddr);
        if (aspace_poke(as, s->vaddr - head, img->data + s->offset - head, head + s->filesz) != 0) {
            fail(err, errlen, "cannot fill segment %d", i);
            return -1;
        }
        if (s->vaddr + s->memsz > *brk)
            *brk = s->vaddr + s->memsz;
    }
    *brk = PAGE_UP(*brk);
    return 0;
}

/* The function whose body holds addr: where instruction decoding may start. */
static const struct elf_symbol *function_at(const struct elf_image *img, guest_addr_t addr)
{
    for (size_t i = img->nsyms; i-- > 0;) {
        const struct elf_symbol *s = &img->syms[i];
        if (s->addr > addr || !s->func)
            continue;
        if (addr - s->addr < s->size)
            return s;
        if (s->size)
            return NULL;
    }
    return NULL;
}

/* Whether an x86-64 instruction of the given kind starts exactly at addr: decoded from the start
 * of its function (or of the segment, for a program without symbols). A byte match inside
 * another instruction is not one. */
static bool x86_insn_at(const struct elf_image *img, const struct elf_segment *seg, csh cs,
                        guest_addr_t addr, unsigned id)
{
    guest_addr_t from = seg->vaddr;
    if (img->nsyms) {
        const struct elf_symbol *f = function_at(img, addr);
        if (!f)
            return false;
        from = f->addr;
    }
    const uint8_t *code = img->data + seg->offset + (from - seg->vaddr);
    size_t left = seg->filesz - (from - seg->vaddr);
    uint64_t pc = from;
    cs_insn *insn = cs_malloc(cs);
    bool found = false;
    while (pc <= addr && cs_disasm_iter(cs, &code, &left, &pc, insn)) {
        if (insn->address == addr) {
            found = insn->id == id;
            break;
        }
    }
    cs_free(insn, 1);
    return found;
}

/* rdtsc, rdtscp and mrs of the generic timer read the host's clock, which would make runs
 * differ. Each is replaced by an undefined instruction of the same length, which the engine
 * backend emulates with virtual time (aspace_time_site). */
static int patch_time_insns(const struct elf_image *img, struct aspace *as)
{
    bool x86 = img->arch->id == ARCH_X86_64;
    csh cs = 0;
    if (x86 && cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
        return -1;
    for (int i = 0; i < img->nsegs; i++) {
        const struct elf_segment *seg = &img->segs[i];
        if (!(seg->prot & LX_PROT_EXEC))
            continue;
        const uint8_t *p = img->data + seg->offset;
        for (uint64_t off = 0; off + 4 <= seg->filesz; off += x86 ? 1 : 4) {
            guest_addr_t at = seg->vaddr + off;
            struct time_site site = {.addr = at};
            uint8_t patch[3];
            if (x86 && p[off] == 0x0f && p[off + 1] == 0x31 &&
                x86_insn_at(img, seg, cs, at, X86_INS_RDTSC)) {
                site.kind = TIME_INSN_RDTSC;
                site.len = 2;
                memcpy(patch, "\x0f\x0b", 2); /* ud2 */
            } else if (x86 && p[off] == 0x0f && p[off + 1] == 0x01 && p[off + 2] == 0xf9 &&
                       x86_insn_at(img, seg, cs, at, X86_INS_RDTSCP)) {
                site.kind = TIME_INSN_RDTSCP;
                site.len = 3;
                memcpy(patch, "\x0f\x0b\x90", 3); /* ud2; nop */
            } else if (!x86) {
                uint32_t w;
                memcpy(&w, p + off, 4);
                /* mrs Xt, cntvct_el0 / cntpct_el0, inside a function (not a literal pool) */
                if (((w & 0xffffffe0u) != 0xd53be040u && (w & 0xffffffe0u) != 0xd53be020u) ||
                    (img->nsyms && !function_at(img, at)))
                    continue;
                site.kind = TIME_INSN_CNTVCT;
                site.reg = (uint8_t)(w & 31);
                site.len = 4;
                uint32_t udf = 0x0000c000u | (w & 31); /* udf #imm16 */
                if (aspace_poke(as, at, &udf, 4) != 0 || aspace_add_time_site(as, &site) != 0)
                    return -1;
                continue;
            } else {
                continue;
            }
            if (aspace_poke(as, at, patch, site.len) != 0 || aspace_add_time_site(as, &site) != 0) {
                cs_close(&cs);
                return -1;
            }
        }
    }
    if (x86)
        cs_close(&cs);
    return 0;
}

static guest_addr_t phdr_address(const struct elf_image *img)
{
    for (int i = 0; i < img->nsegs; i++) {
        const struct elf_segment *s = &img->segs[i];
        if (img->phoff >= s->offset && img->phoff < s->offset + s->filesz)
            return s->vaddr + (img->phoff - s->offset);
    }
    return 0;
}

/* Writes bytes below *sp and returns their address; *ok becomes false if they do not fit. */
static guest_addr_t push_bytes(struct aspace *as, guest_addr_t *sp, const void *data, size_t len,
                               bool *ok)
{
    *sp -= len;
    *ok &= aspace_poke(as, *sp, data, len) == 0;
    return *sp;
}

/* The memory past a segment's file data (its bss) is anonymous memory Linux accounts for:
 * more than the machine has (here the --max-mem cap) and execve fails with ENOMEM, where
 * rseqemu spent tens of seconds reserving terabytes. */
static bool segments_fit(const struct elf_image *img, uint64_t cap, char *err, size_t errlen)
{
    for (int i = 0; cap && i < img->nsegs; i++) {
        const struct elf_segment *s = &img->segs[i];
        uint64_t anon = PAGE_UP(s->vaddr + s->memsz) - PAGE_UP(s->vaddr + s->filesz);
        if (anon > cap) {
            fail(err, errlen,
                 "segment %d needs 0x%llx bytes of memory past its file data, more than the "
                 "guest may use (--max-mem %llu MiB): Linux's execve fails with ENOMEM",
                 i, (unsigned long long)anon, (unsigned long long)(cap >> 20));
            return false;
        }
    }
    return true;
}

int elf_image_load(const struct elf_image *img, struct aspace *as, const struct exec_args *args,
                   struct exec_layout *out, char *err, size_t errlen)
{
    const struct arch_desc *a = img->arch;
    memset(out, 0, sizeof(*out));
    if (!segments_fit(img, emu_mem_cap(aspace_emu(as)), err, errlen))
        return -1;
    guest_addr_t brk = 0;
    if (map_segments(img, as, &brk, err, errlen) != 0)
        return -1;
    if (patch_time_insns(img, as) != 0) {
        fail(err, errlen, "cannot virtualize the program's time-reading instructions");
        return -1;
    }
    out->brk = brk;
    out->load_bias = img->bias;
    out->entry = img->entry + img->bias;
    out->phdr = phdr_address(img);

    uint64_t stack_size = args->stack_size ? PAGE_UP(args->stack_size) : 8ULL << 20;
    out->stack_low = a->stack_top - stack_size;
    int rc = aspace_map(as, out->stack_low, stack_size,
                        LX_PROT_READ | LX_PROT_WRITE | (img->exec_stack ? LX_PROT_EXEC : 0),
                        ASPACE_MAP_STACK);
    if (rc) {
        fail(err, errlen, "cannot map the stack (%d)", rc);
        return -1;
    }

    /* fs/exec.c: since 5.18 an empty argv becomes a single empty string. */
    static const char *const empty_argv[] = {"", NULL};
    const char *const *argv = args->argv[0] ? args->argv : empty_argv;
    size_t argc = 0, envc = 0, strings = 0;
    bool too_long = false;
    for (; argv[argc]; argc++) {
        strings += strlen(argv[argc]) + 1;
        too_long |= strlen(argv[argc]) + 1 > MAX_ARG_STRLEN;
    }
    for (; args->envp && args->envp[envc]; envc++) {
        strings += strlen(args->envp[envc]) + 1;
        too_long |= strlen(args->envp[envc]) + 1 > MAX_ARG_STRLEN;
    }
    strings += strlen(args->execfn) + 1;
    /* Linux's limit: a quarter of the stack for the strings and their pointers (E2BIG). */
    size_t pointers = (argc + envc + 2) * sizeof(uint64_t);
    if (too_long || strings + pointers > stack_size / 4) {
        fail(err, errlen,
             "arguments and environment too large for the stack (%zu bytes in %zu "
             "strings; the limit is %llu, and %u per string)",
             strings + pointers, argc + envc, (unsigned long long)(stack_size / 4),
             (unsigned)MAX_ARG_STRLEN);
        return -1;
    }

    /* fs/exec.c: a NULL word at the top, the file name, then envp and argv strings, each copied
     * from the last to the first so that they end up in order. */
    bool ok = true;
    guest_addr_t sp = a->stack_top - sizeof(uint64_t);
    guest_addr_t execfn = push_bytes(as, &sp, args->execfn, strlen(args->execfn) + 1, &ok);
    guest_addr_t *envp_addr = calloc(envc + 1, sizeof(guest_addr_t));
    guest_addr_t *argv_addr = calloc(argc + 1, sizeof(guest_addr_t));
    if (!envp_addr || !argv_addr) {
        free(envp_addr);
        free(argv_addr);
        fail(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = envc; i-- > 0;)
        envp_addr[i] = push_bytes(as, &sp, args->envp[i], strlen(args->envp[i]) + 1, &ok);
    for (size_t i = argc; i-- > 0;)
        argv_addr[i] = push_bytes(as, &sp, argv[i], strlen(argv[i]) + 1, &ok);

    /* fs/binfmt_elf.c create_elf_tables(). */
    sp &= ~15ULL;
    guest_addr_t platform = push_bytes(as, &sp, a->platform, strlen(a->platform) + 1, &ok);
    guest_addr_t random = push_bytes(as, &sp, args->random, 16, &ok);

    uint64_t auxv[2 * 32];
    int n = 0;
#define AUX(type, value)                                                                           \
    do {                                                                                           \
        auxv[n++] = (type);                                                                        \
        auxv[n++] = (value);                                                                       \
    } while (0)
    AUX(LX_AT_MINSIGSTKSZ, a->minsigstksz);
    AUX(LX_AT_HWCAP, a->hwcap);
    AUX(LX_AT_PAGESZ, PAGE);
    AUX(LX_AT_CLKTCK, 100);
    AUX(LX_AT_PHDR, out->phdr);
    AUX(LX_AT_PHENT, img->phentsize);
    AUX(LX_AT_PHNUM, img->phnum);
    AUX(LX_AT_BASE, 0);
    AUX(LX_AT_FLAGS, 0);
    AUX(LX_AT_ENTRY, out->entry);
    AUX(LX_AT_UID, args->uid);
    AUX(LX_AT_EUID, args->uid);
    AUX(LX_AT_GID, args->gid);
    AUX(LX_AT_EGID, args->gid);
    AUX(LX_AT_SECURE, 0);
    AUX(LX_AT_RANDOM, random);
    AUX(LX_AT_HWCAP2, a->hwcap2);
    AUX(LX_AT_EXECFN, execfn);
    AUX(LX_AT_PLATFORM, platform);
    if (args->rseq_feature_size) {
        AUX(LX_AT_RSEQ_FEATURE_SIZE, args->rseq_feature_size);
        AUX(LX_AT_RSEQ_ALIGN, args->rseq_align);
    }
    AUX(LX_AT_NULL, 0);
#undef AUX

    size_t items = (argc + 1) + (envc + 1) + 1;
    sp = (sp - (size_t)n * 8 - items * 8) & ~15ULL;
    out->sp = sp;
    guest_addr_t p = sp;
    uint64_t word = argc;
    ok &= aspace_poke(as, p, &word, 8) == 0;
    p += 8;
    ok &= aspace_poke(as, p, argv_addr, (argc + 1) * 8) == 0;
    p += (argc + 1) * 8;
    ok &= aspace_poke(as, p, envp_addr, (envc + 1) * 8) == 0;
    p += (envc + 1) * 8;
    out->auxv = p;
    ok &= aspace_poke(as, p, auxv, (size_t)n * 8) == 0;
    free(envp_addr);
    free(argv_addr);
    if (!ok || sp < out->stack_low) {
        fail(err, errlen, "the initial stack does not fit in its mapping");
        return -1;
    }
    return 0;
}

bool elf_image_where(const struct elf_image *img, guest_addr_t addr, char *buf, size_t len)
{
    struct elf_section s;
    if (elf_image_symbolize(img, addr, buf, len))
        return true;
    if (!elf_image_section_at(img, addr, &s))
        return false;
    name_offset(buf, len, s.name, addr - s.addr);
    return true;
}
