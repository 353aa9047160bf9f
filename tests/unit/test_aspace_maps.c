/* Guest mappings as Linux 6.1 keeps them (spec 7.9; mm/mmap.c, mm/mprotect.c): adjacent
 * compatible mappings merge, a split is refused where vm.max_map_count says so, and
 * snapshots restore merged mappings exactly. */
#include <criterion/criterion.h>
#include <string.h>

#include "emu/arena.h"
#include "emu/aspace.h"
#include "emu/emu.h"

#define PG   4096ULL
#define BASE 0x10000000ULL
#define RW   (LX_PROT_READ | LX_PROT_WRITE)
#define RO   LX_PROT_READ

struct machine {
    struct arena *arena;
    struct emu *emu;
    struct aspace *as;
};

static struct machine m;

static void open_machine(void)
{
    const char *err = NULL;
    m.arena = arena_create(256 << 20);
    struct emu_config cfg = {.arch = arch_get(ARCH_X86_64)};
    m.emu = emu_create(&cfg, m.arena, &err);
    cr_assert_not_null(m.emu, "%s", err);
    m.as = aspace_create(m.emu, &err);
    cr_assert_not_null(m.as, "%s", err);
}

static void close_machine(void)
{
    aspace_destroy(m.as);
    emu_destroy(m.emu);
    arena_destroy(m.arena);
}

TestSuite(aspace_maps, .init = open_machine, .fini = close_machine);

static size_t count(void) { return aspace_vma_count(m.as); }

static struct vma_info at(guest_addr_t addr)
{
    struct vma_info v = {0};
    cr_assert(aspace_lookup(m.as, addr, &v), "nothing mapped at 0x%llx", (unsigned long long)addr);
    return v;
}

static void put(guest_addr_t addr, uint8_t byte)
{
    cr_assert_eq(aspace_write(m.as, addr, &byte, 1), 0);
}

static uint8_t get(guest_addr_t addr)
{
    uint8_t byte = 0xee;
    cr_assert_eq(aspace_read(m.as, addr, &byte, 1), 0);
    return byte;
}

/* vma_merge() on mmap: a new mapping joins a neighbour of the same protection and kind. */
Test(aspace_maps, new_neighbours_of_one_kind_merge)
{
    cr_assert_eq(aspace_map(m.as, BASE, PG, RW, 0), 0);
    cr_assert_eq(aspace_map(m.as, BASE + 2 * PG, PG, RW, 0), 0);
    cr_assert_eq(count(), 2);
    cr_assert_eq(aspace_map(m.as, BASE + PG, PG, RW, 0), 0); /* fills the hole: all three are one */
    cr_assert_eq(count(), 1);
    cr_assert_eq(at(BASE).end, BASE + 3 * PG);
    cr_assert_eq(aspace_map(m.as, BASE + 3 * PG, PG, RO, 0), 0); /* another protection */
    cr_assert_eq(aspace_map(m.as, BASE + 4 * PG, PG, RW, ASPACE_MAP_SHARED), 0); /* another kind */
    cr_assert_eq(aspace_map(m.as, BASE + 5 * PG, PG, RW, ASPACE_MAP_SHARED),
                 0); /* another object */
    cr_assert_eq(count(), 4);
}

/* mprotect_fixup(): a page in the middle splits its mapping in three; given its protection
 * back it joins both neighbours again, which share its anon_vma. */
Test(aspace_maps, mprotect_splits_and_merges_back)
{
    cr_assert_eq(aspace_map(m.as, BASE, 4 * PG, RW, 0), 0);
    put(BASE, 1);
    cr_assert_eq(aspace_protect(m.as, BASE + PG, PG, RO), 0);
    cr_assert_eq(count(), 3);
    cr_assert_eq(at(BASE + PG).prot, RO);
    cr_assert_eq(at(BASE + 2 * PG).start, BASE + 2 * PG);
    cr_assert_eq(aspace_protect(m.as, BASE + PG, PG, RW), 0);
    cr_assert_eq(count(), 1);
    cr_assert_eq(get(BASE), 1);
    /* The first page given the protection of the mapping below joins it: no split, whatever
     * the count (vma_merge()'s case 5). */
    cr_assert_eq(aspace_map(m.as, BASE - PG, PG, RO, 0), 0);
    cr_assert_eq(aspace_protect(m.as, BASE, PG, RO), 0);
    cr_assert_eq(count(), 2);
    cr_assert_eq(at(BASE).start, BASE - PG);
    cr_assert_eq(at(BASE + PG).start, BASE + PG);
}

/* is_mergeable_anon_vma(): two mappings whose pages were written apart keep apart, though a
 * fresh range between them may join either. */
Test(aspace_maps, written_neighbours_keep_their_anon_vmas)
{
    cr_assert_eq(aspace_map(m.as, BASE, PG, RW, 0), 0);
    cr_assert_eq(aspace_map(m.as, BASE + PG, PG, RO, 0), 0);
    cr_assert_eq(aspace_map(m.as, BASE + 2 * PG, PG, RW, 0), 0);
    put(BASE, 1);
    put(BASE + 2 * PG, 2);
    cr_assert_eq(aspace_protect(m.as, BASE + PG, PG, RW), 0);
    cr_assert_eq(count(), 2); /* the middle joined the one below, not both */
    cr_assert_eq(at(BASE + PG).start, BASE);
    cr_assert_eq(at(BASE + 2 * PG).start, BASE + 2 * PG);
    /* The same with the upper one never written: all three become one. */
    cr_assert_eq(aspace_map(m.as, BASE + 8 * PG, PG, RW, 0), 0);
    cr_assert_eq(aspace_map(m.as, BASE + 9 * PG, PG, RO, 0), 0);
    cr_assert_eq(aspace_map(m.as, BASE + 10 * PG, PG, RW, 0), 0);
    put(BASE + 8 * PG, 1);
    cr_assert_eq(aspace_protect(m.as, BASE + 9 * PG, PG, RW), 0);
    cr_assert_eq(count(), 3);
    cr_assert_eq(at(BASE + 10 * PG).start, BASE + 8 * PG);
}

/* A file's pages join only its next pages (the offset goes on), never anonymous memory. */
Test(aspace_maps, file_pages_merge_with_the_file_only)
{
    cr_assert_eq(aspace_map_file(m.as, BASE, PG, RO, 0, 0), 0);
    cr_assert_eq(aspace_map_file(m.as, BASE + PG, PG, RO, 0, PG), 0);
    cr_assert_eq(count(), 1);
    cr_assert_eq(aspace_map_file(m.as, BASE + 2 * PG, PG, RO, 0, 5 * PG), 0); /* offset jumps */
    cr_assert_eq(aspace_map(m.as, BASE + 3 * PG, PG, RO, 0), 0);
    cr_assert_eq(count(), 3);
    cr_assert_eq(at(BASE + 2 * PG).backing_off, 5 * PG);
    cr_assert_eq(aspace_protect(m.as, BASE + PG, PG, RW), 0);
    cr_assert_eq(at(BASE + PG).backing_off, PG);
    cr_assert_eq(aspace_protect(m.as, BASE + PG, PG, RO), 0);
    cr_assert_eq(count(), 3);
}

/* Fills the address space with one-page mappings that cannot merge until the count is n. */
static void fill_to(size_t n)
{
    for (guest_addr_t a = 0x400000000ULL; count() < n; a += PG)
        cr_assert_eq(aspace_map(m.as, a, PG, (a / PG) % 2 ? RO : RW, 0), 0);
}

/* vm.max_map_count (mm/mmap.c): a mapping is refused once the count is above 65,530; a split
 * once it is at 65,530, but for munmap's that cannot raise it. */
Test(aspace_maps, max_map_count)
{
    fill_to(ASPACE_MAX_MAP_COUNT - 1);
    cr_assert_eq(aspace_map(m.as, BASE, 4 * PG, RW, 0), 0); /* 65,530 */
    cr_assert_eq(aspace_protect(m.as, BASE + PG, PG, RO), -LX_ENOMEM);
    cr_assert_eq(aspace_unmap(m.as, BASE + PG, PG), -LX_ENOMEM);
    cr_assert_eq(count(), ASPACE_MAX_MAP_COUNT);
    cr_assert_eq(aspace_unmap(m.as, BASE, PG), 0); /* the first page: the count stays */
    cr_assert_eq(aspace_map(m.as, BASE - 8 * PG, PG, RO, 0), 0); /* 65,531: still allowed */
    cr_assert_eq(count(), ASPACE_MAX_MAP_COUNT + 1);
    cr_assert_eq(aspace_map(m.as, BASE - 16 * PG, PG, RO, 0), -LX_ENOMEM);
    /* A range that merges is refused as well: do_mmap() counts before it merges. */
    cr_assert_eq(aspace_map(m.as, BASE - 9 * PG, PG, RO, 0), -LX_ENOMEM);
    cr_assert_eq(aspace_unmap(m.as, BASE + PG, 3 * PG), 0);
    cr_assert_eq(count(), ASPACE_MAX_MAP_COUNT);
    cr_assert_eq(aspace_map(m.as, BASE - 16 * PG, PG, RO, 0), 0);
}

/* The highest free range below a bound is found among many mappings. */
Test(aspace_maps, topdown_placement_among_many)
{
    fill_to(20000);
    cr_assert_eq(aspace_unmap(m.as, 0x400000000ULL + 100 * PG, 3 * PG), 0);
    guest_addr_t top = 0x400000000ULL + 20000 * PG;
    cr_assert_eq(aspace_find_free_topdown(m.as, 3 * PG, 0x400000000ULL, top),
                 0x400000000ULL + 100 * PG);
    cr_assert_eq(aspace_find_free_topdown(m.as, 4 * PG, 0x400000000ULL, top), 0);
    cr_assert_eq(aspace_find_free_topdown(m.as, 4 * PG, 0x400000000ULL, top + 4 * PG), top);
}

/* A mapping made after the snapshot that merged with one made before: a restore gives back
 * the young pages whole and the old ones as they were, however often. */
Test(aspace_maps, snapshot_restores_merged_mappings)
{
    cr_assert_eq(aspace_map(m.as, BASE, PG, RW, 0), 0);
    put(BASE, 0xaa);
    emu_snapshot_take(m.emu);
    for (int round = 0; round < 3; round++) {
        cr_assert_eq(aspace_map(m.as, BASE + PG, 2 * PG, RW, 0), 0);
        cr_assert_eq(count(), 1);
        put(BASE, 0xcc);
        put(BASE + PG, 0xbb);
        /* Written again after the merge: the young page is not taken for an old one. */
        put(BASE + PG, 0xbd);
        cr_assert_eq(aspace_unmap(m.as, BASE + 2 * PG, PG), 0);
        emu_snapshot_restore(m.emu);
        cr_assert_eq(count(), 1);
        cr_assert_eq(at(BASE).end, BASE + PG);
        cr_assert_eq(get(BASE), 0xaa);
        cr_assert_eq(aspace_range_free(m.as, BASE + PG, 2 * PG), true);
    }
    cr_assert_eq(aspace_map(m.as, BASE + PG, PG, RW, 0), 0);
    cr_assert_eq(get(BASE + PG), 0, "a page mapped again after a restore reads as zero");
    emu_snapshot_drop(m.emu);
}
