/* Reading a program's declared critical sections from its file. The descriptors a pointer
 * array names usually lie in __rseq_cs, but may lie in any loaded section: each is looked up
 * by address. */
#include "rseq_decl.h"

#include <stdlib.h>

#include "arch/le.h"
#include "emu/loader.h"

/* Where a program lists its sections: the pointer array if it has one, else the descriptors
 * themselves. */
static const struct decl_source {
    const char *section;
    uint64_t entry_size;
} sources[] = {
    {"__rseq_cs_ptr_array", 8},
    {"__rseq_cs", RSEQ_CS_SIZE},
};

/* The len bytes at addr, when one loaded section of the file holds them all. */
static const uint8_t *file_bytes(const struct elf_image *img, guest_addr_t addr, uint64_t len)
{
    struct elf_section s;
    if (!elf_image_section_at(img, addr, &s) || !s.data || s.addr + s.size - addr < len)
        return NULL;
    return s.data + (addr - s.addr);
}

static void read_descriptor(const struct elf_image *img, guest_addr_t addr,
                            struct rseq_cs_decl *out)
{
    *out = (struct rseq_cs_decl){.addr = addr};
    const uint8_t *raw = file_bytes(img, addr, RSEQ_CS_SIZE);
    if (!raw)
        return;
    out->in_file = true;
    out->version = le_get32(raw + 0);
    out->flags = le_get32(raw + 4);
    out->start_ip = le_get64(raw + 8);
    out->post_commit_offset = le_get64(raw + 16);
    out->abort_ip = le_get64(raw + 24);
}

int rseq_decls_read(const struct elf_image *img, struct rseq_decls *out)
{
    *out = (struct rseq_decls){0};
    const struct decl_source *src = NULL;
    struct elf_section sec;
    for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]) && !src; i++)
        if (elf_image_section(img, sources[i].section, &sec))
            src = &sources[i];
    if (!src)
        return 0;
    out->section = src->section;
    out->count = sec.size / src->entry_size;
    out->trailing = sec.size % src->entry_size;
    if (elf_image_is_pie(img)) {
        out->relocated = true;
        return 0;
    }
    if (!sec.data) {
        out->no_data = true;
        return 0;
    }
    if (out->count == 0)
        return 0;
    out->cs = calloc(out->count, sizeof(*out->cs));
    if (!out->cs)
        return -1;
    for (size_t i = 0; i < out->count; i++) {
        const uint8_t *entry = sec.data + i * src->entry_size;
        guest_addr_t addr = src->entry_size == 8 ? le_get64(entry) : sec.addr + i * RSEQ_CS_SIZE;
        read_descriptor(img, addr, &out->cs[i]);
    }
    return 0;
}

void rseq_decls_free(struct rseq_decls *d)
{
    free(d->cs);
    d->cs = NULL;
}

static bool image_executable(void *ctx, guest_addr_t addr)
{
    struct elf_section s;
    return elf_image_section_at(ctx, addr, &s) && s.exec;
}

static bool image_read_u32(void *ctx, guest_addr_t addr, uint32_t *out)
{
    const uint8_t *p = file_bytes(ctx, addr, 4);
    if (!p)
        return false;
    *out = le_get32(p);
    return true;
}

struct rseq_code_view rseq_code_view_of(const struct elf_image *img)
{
    return (struct rseq_code_view){
        .ctx = (void *)img, .executable = image_executable, .read_u32 = image_read_u32};
}
