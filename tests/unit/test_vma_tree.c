/* The tree of an address space's mappings (emu/vma_tree.h), against a plain sorted array doing
 * the same operations: lookups, neighbours, the top-down search for a free range, and the
 * subtree summaries it relies on, after every insert, erase and in-place change. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "emu/vma_tree.h"

#define PG 4096ULL

/* The reference: the same mappings in a sorted array. */
struct model {
    struct vma v[4096];
    size_t n;
};

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static size_t model_ceil(const struct model *m, guest_addr_t addr)
{
    size_t i = 0;
    while (i < m->n && m->v[i].end <= addr)
        i++;
    return i;
}

static guest_addr_t model_gap(const struct model *m, uint64_t len, guest_addr_t bottom,
                              guest_addr_t top)
{
    guest_addr_t best = 0;
    for (size_t i = 0; i <= m->n; i++) {
        guest_addr_t from = i ? m->v[i - 1].end : 0, to = i < m->n ? m->v[i].start : UINT64_MAX;
        from = from < bottom ? bottom : from;
        to = to > top ? top : to;
        if (to > from && to - from >= len && to - len > best)
            best = to - len;
    }
    return best;
}

struct walk_ctx {
    const struct model *m;
    size_t i;
};

static void walk_cb(void *ctx, const struct vma *v)
{
    struct walk_ctx *c = ctx;
    cr_assert_lt(c->i, c->m->n);
    cr_assert_eq(v->start, c->m->v[c->i].start);
    cr_assert_eq(v->end, c->m->v[c->i].end);
    c->i++;
}

static void check_same(const struct vma_tree *t, const struct model *m)
{
    cr_assert_eq(vma_tree_count(t), m->n);
    struct walk_ctx c = {m, 0};
    vma_tree_walk(t, walk_cb, &c);
    cr_assert_eq(c.i, m->n);
    for (int probe = 0; probe < 16; probe++) {
        guest_addr_t addr = (rng() % 1100) * PG + (rng() % 2) * 7;
        size_t i = model_ceil(m, addr);
        const struct vma *ceil = vma_tree_ceil(t, addr);
        cr_assert_eq(ceil ? ceil->start : 0, i < m->n ? m->v[i].start : 0, "ceil(0x%llx)",
                     (unsigned long long)addr);
        const struct vma *in = vma_tree_find(t, addr);
        bool inside = i < m->n && m->v[i].start <= addr;
        cr_assert_eq(in != NULL, inside);
        size_t below = 0;
        while (below < m->n && m->v[below].start < addr)
            below++;
        const struct vma *b = vma_tree_below(t, addr);
        cr_assert_eq(b ? b->start : 0, below ? m->v[below - 1].start : 0);
        uint64_t len = (1 + rng() % 12) * PG;
        guest_addr_t lo = (rng() % 600) * PG, hi = lo + (rng() % 800) * PG;
        cr_assert_eq(vma_tree_gap_topdown(t, len, lo, hi), model_gap(m, len, lo, hi),
                     "gap of %llu pages in [0x%llx, 0x%llx)", (unsigned long long)(len / PG),
                     (unsigned long long)lo, (unsigned long long)hi);
    }
}

static struct vma_tree *new_tree(void)
{
    struct vma_tree *t = calloc(1, sizeof(*t));
    struct vma_pool *p = calloc(1, sizeof(*p));
    cr_assert(t && p);
    p->fresh = 1;
    vma_tree_init(t, p, 1);
    return t;
}

static void free_tree(struct vma_tree *t)
{
    free(t->pool);
    free(t);
}

Test(vma_tree, random_operations_match_a_sorted_array)
{
    struct vma_tree *t = new_tree();
    struct model *m = calloc(1, sizeof(*m));
    cr_assert_not_null(m);
    for (int step = 0; step < 20000; step++) {
        unsigned op = rng() % 4;
        if (op <= 1 && m->n < 900) { /* insert into a free page range */
            guest_addr_t start = (rng() % 1000) * PG, end = start + (1 + rng() % 4) * PG;
            size_t i = model_ceil(m, start);
            if (i < m->n && m->v[i].start < end)
                continue;
            struct vma v = {.start = start, .end = end, .prot = (int)(rng() % 8)};
            cr_assert_not_null(vma_tree_insert(t, &v));
            for (size_t j = m->n; j > i; j--)
                m->v[j] = m->v[j - 1];
            m->v[i] = v;
            m->n++;
        } else if (op == 2 && m->n) { /* erase */
            size_t i = rng() % m->n;
            struct vma *v = vma_tree_find(t, m->v[i].start);
            cr_assert_not_null(v);
            vma_tree_erase(t, v);
            for (size_t j = i; j + 1 < m->n; j++)
                m->v[j] = m->v[j + 1];
            m->n--;
        } else if (m->n) { /* grow or shrink in place, keeping the order */
            size_t i = rng() % m->n;
            struct vma *v = vma_tree_find(t, m->v[i].start);
            guest_addr_t lim = i + 1 < m->n ? m->v[i + 1].start : m->v[i].end + 3 * PG;
            guest_addr_t floor = i ? m->v[i - 1].end : 0;
            guest_addr_t start = m->v[i].start, end = m->v[i].end;
            if (rng() % 2 && start > floor)
                start -= PG;
            else if (end - start > PG)
                start += PG;
            if (rng() % 2 && end < lim)
                end += PG;
            v->start = m->v[i].start = start;
            v->end = m->v[i].end = end;
            vma_tree_changed(t, v);
        }
        if (step % 50 == 0)
            check_same(t, m);
    }
    check_same(t, m);
    free_tree(t);
    free(m);
}

/* Nodes are reused once freed, and the pool's end is an error, never an overrun. */
Test(vma_tree, a_full_pool_refuses_and_freed_nodes_are_reused)
{
    struct vma_tree *t = new_tree();
    for (uint64_t i = 0; i < VMA_POOL_CAP; i++) {
        struct vma v = {.start = (2 * i + 1) * PG, .end = (2 * i + 2) * PG};
        cr_assert_not_null(vma_tree_insert(t, &v), "mapping %llu", (unsigned long long)i);
    }
    struct vma extra = {.start = 0, .end = PG};
    cr_assert_null(vma_tree_insert(t, &extra));
    vma_tree_erase(t, vma_tree_find(t, 3 * PG));
    cr_assert_null(vma_tree_find(t, 3 * PG));
    cr_assert_not_null(vma_tree_insert(t, &extra));
    cr_assert_eq(vma_tree_count(t), VMA_POOL_CAP);
    /* The free ranges left: gaps of one page, and pages [2, 5) where one was erased. */
    cr_assert_eq(vma_tree_gap_topdown(t, 2 * PG, PG, 100 * PG), 3 * PG);
    cr_assert_eq(vma_tree_gap_topdown(t, 3 * PG, PG, (2 * VMA_POOL_CAP) * PG), 2 * PG);
    cr_assert_eq(vma_tree_gap_topdown(t, 4 * PG, 0, (2 * VMA_POOL_CAP) * PG), 0);
    free_tree(t);
}

/* Many mappings at once stay fast: 65,536 inserts top-down and their removal in another order
 * take a moment, where a sorted array would move gigabytes. */
Test(vma_tree, sixty_five_thousand_mappings)
{
    struct vma_tree *t = new_tree();
    guest_addr_t top = (1ULL << 36);
    for (uint64_t i = 0; i < 65536; i++) {
        guest_addr_t at = vma_tree_gap_topdown(t, PG, PG, top);
        cr_assert_eq(at, top - (i + 1) * PG);
        struct vma v = {.start = at, .end = at + PG, .prot = (int)(i % 2)};
        cr_assert_not_null(vma_tree_insert(t, &v));
    }
    for (uint64_t i = 0; i < 65536; i++) {
        guest_addr_t at = top - (((i * 40503) % 65536) + 1) * PG;
        struct vma *v = vma_tree_find(t, at);
        cr_assert_not_null(v);
        vma_tree_erase(t, v);
    }
    cr_assert_eq(vma_tree_count(t), 0);
    free_tree(t);
}

/* Address spaces share the pool: a node one tree gave back and another took is never found
 * through the first tree's memory of it. */
Test(vma_tree, trees_sharing_a_pool_keep_apart)
{
    struct vma_tree *a = new_tree(), b;
    vma_tree_init(&b, a->pool, 2);
    struct vma va = {.start = 10 * PG, .end = 20 * PG}, vb = {.start = 12 * PG, .end = 14 * PG};
    cr_assert_not_null(vma_tree_insert(a, &va));
    cr_assert_not_null(vma_tree_find(a, 15 * PG)); /* a's hint now names the node */
    vma_tree_erase(a, vma_tree_find(a, 15 * PG));
    cr_assert_not_null(vma_tree_insert(&b, &vb)); /* takes the same node */
    cr_assert_null(vma_tree_find(a, 13 * PG));
    cr_assert_not_null(vma_tree_find(&b, 13 * PG));
    struct vma vc = {.start = 30 * PG, .end = 31 * PG};
    cr_assert_not_null(vma_tree_insert(&b, &vc));
    vma_tree_clear(&b);
    cr_assert_eq(vma_tree_count(&b), 0);
    cr_assert_null(vma_tree_find(&b, 13 * PG));
    /* Both nodes are free again: two inserts reuse them before any fresh one. */
    uint32_t fresh = a->pool->fresh;
    cr_assert_not_null(vma_tree_insert(a, &va));
    cr_assert_not_null(vma_tree_insert(a, &vc));
    cr_assert_eq(a->pool->fresh, fresh);
    free_tree(a);
}
