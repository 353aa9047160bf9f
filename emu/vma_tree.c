/* The treap of an address space's mappings (vma_tree.h). Recursion depth is the tree's depth,
 * about 2 ln n for n mappings. */
#include "vma_tree.h"

#include <string.h>

#include "arena.h"

#define NODE(t, i) (&(t)->pool->nodes[i])

struct vma_pool *vma_pool_create(struct arena *arena)
{
    struct vma_pool *p = ARENA_NEW_ARRAY(arena, struct vma_pool, 1);
    p->fresh = 1;
    arena_bound(arena, p->nodes, sizeof(struct vma_node), VMA_POOL_CAP + 1, &p->hwm);
    return p;
}

void vma_tree_init(struct vma_tree *t, struct vma_pool *pool, uint32_t id)
{
    *t = (struct vma_tree){.pool = pool, .id = id};
}

static void free_node(struct vma_tree *t, uint32_t i)
{
    struct vma_node *n = NODE(t, i);
    /* A stale hint to this node finds nothing. */
    n->owner = 0;
    n->left = t->pool->free_list;
    t->pool->free_list = i;
}

static void free_subtree(struct vma_tree *t, uint32_t i)
{
    if (!i)
        return;
    free_subtree(t, NODE(t, i)->left);
    free_subtree(t, NODE(t, i)->right);
    free_node(t, i);
}

void vma_tree_clear(struct vma_tree *t)
{
    free_subtree(t, t->root);
    vma_tree_init(t, t->pool, t->id);
}

size_t vma_tree_count(const struct vma_tree *t) { return t->count; }

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* Recomputes i's subtree summary from its children's. */
static void pull(struct vma_tree *t, uint32_t i)
{
    struct vma_node *n = NODE(t, i);
    n->lo = n->v.start;
    n->hi = n->v.end;
    n->gap = 0;
    if (n->left) {
        const struct vma_node *l = NODE(t, n->left);
        n->lo = l->lo;
        n->gap = max_u64(l->gap, n->v.start - l->hi);
    }
    if (n->right) {
        const struct vma_node *r = NODE(t, n->right);
        n->hi = r->hi;
        n->gap = max_u64(n->gap, max_u64(r->gap, r->lo - n->v.end));
    }
}

/* Splits subtree i into the mappings that start below key (*l) and the others (*r). */
static void split(struct vma_tree *t, uint32_t i, guest_addr_t key, uint32_t *l, uint32_t *r)
{
    if (!i) {
        *l = *r = 0;
        return;
    }
    struct vma_node *n = NODE(t, i);
    if (n->v.start < key) {
        split(t, n->right, key, &n->right, r);
        *l = i;
    } else {
        split(t, n->left, key, l, &n->left);
        *r = i;
    }
    pull(t, i);
}

/* Joins two subtrees, every mapping of a below every mapping of b. */
static uint32_t join(struct vma_tree *t, uint32_t a, uint32_t b)
{
    if (!a || !b)
        return a ? a : b;
    if (NODE(t, a)->prio > NODE(t, b)->prio) {
        NODE(t, a)->right = join(t, NODE(t, a)->right, b);
        pull(t, a);
        return a;
    }
    NODE(t, b)->left = join(t, a, NODE(t, b)->left);
    pull(t, b);
    return b;
}

static uint32_t insert(struct vma_tree *t, uint32_t i, uint32_t x)
{
    if (!i)
        return x;
    struct vma_node *n = NODE(t, i), *nx = NODE(t, x);
    if (nx->prio > n->prio) {
        split(t, i, nx->v.start, &nx->left, &nx->right);
        pull(t, x);
        return x;
    }
    if (nx->v.start < n->v.start)
        n->left = insert(t, n->left, x);
    else
        n->right = insert(t, n->right, x);
    pull(t, i);
    return i;
}

static uint32_t erase(struct vma_tree *t, uint32_t i, guest_addr_t key)
{
    struct vma_node *n = NODE(t, i);
    if (n->v.start == key)
        return join(t, n->left, n->right);
    if (key < n->v.start)
        n->left = erase(t, n->left, key);
    else
        n->right = erase(t, n->right, key);
    pull(t, i);
    return i;
}

static void refresh(struct vma_tree *t, uint32_t i, guest_addr_t key)
{
    struct vma_node *n = NODE(t, i);
    if (key < n->v.start)
        refresh(t, n->left, key);
    else if (key > n->v.start)
        refresh(t, n->right, key);
    pull(t, i);
}

/* A well-mixed 32-bit priority from the tree's own sequence (splitmix64's finaliser). */
static uint32_t next_prio(struct vma_tree *t)
{
    uint64_t x = (uint64_t)++t->seq * 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return (uint32_t)(x ^ (x >> 31));
}

struct vma *vma_tree_insert(struct vma_tree *t, const struct vma *v)
{
    struct vma_pool *p = t->pool;
    uint32_t x = p->free_list;
    if (x) {
        p->free_list = NODE(t, x)->left;
    } else {
        if (p->fresh > VMA_POOL_CAP)
            return NULL;
        x = p->fresh++;
        arena_hwm_raise(&p->hwm, x + 1);
    }
    struct vma_node *n = NODE(t, x);
    *n = (struct vma_node){.v = *v, .prio = next_prio(t), .owner = t->id};
    pull(t, x);
    t->root = insert(t, t->root, x);
    t->count++;
    return &n->v;
}

void vma_tree_erase(struct vma_tree *t, struct vma *v)
{
    uint32_t i = (uint32_t)((struct vma_node *)v - t->pool->nodes);
    t->root = erase(t, t->root, v->start);
    free_node(t, i);
    t->count--;
}

void vma_tree_changed(struct vma_tree *t, const struct vma *v) { refresh(t, t->root, v->start); }

struct vma *vma_tree_ceil(const struct vma_tree *t, guest_addr_t addr)
{
    uint32_t best = 0;
    for (uint32_t i = t->root; i;) {
        const struct vma_node *n = NODE(t, i);
        if (n->v.end > addr) {
            best = i;
            i = n->left;
        } else {
            i = n->right;
        }
    }
    return best ? &NODE(t, best)->v : NULL;
}

struct vma *vma_tree_below(const struct vma_tree *t, guest_addr_t addr)
{
    uint32_t best = 0;
    for (uint32_t i = t->root; i;) {
        const struct vma_node *n = NODE(t, i);
        if (n->v.start < addr) {
            best = i;
            i = n->right;
        } else {
            i = n->left;
        }
    }
    return best ? &NODE(t, best)->v : NULL;
}

/* The kernel model touches the same few mappings again and again (rseq areas, stacks): the
 * last one found is tried first. The hint is only ever a guess, checked before use. */
struct vma *vma_tree_find(const struct vma_tree *t, guest_addr_t addr)
{
    const struct vma_node *h = NODE(t, t->hint);
    if (h->owner == t->id && h->v.start <= addr && addr < h->v.end)
        return &NODE(t, t->hint)->v;
    struct vma *v = vma_tree_ceil(t, addr);
    if (!v || v->start > addr)
        return NULL;
    ((struct vma_tree *)t)->hint = (uint32_t)((const struct vma_node *)v - t->pool->nodes);
    return v;
}

struct gap_query {
    uint64_t len;
    guest_addr_t bottom, top;
};

/* The highest fitting start in the free range [from, to) clipped to the query, or 0. */
static guest_addr_t fit(const struct gap_query *q, guest_addr_t from, guest_addr_t to)
{
    if (from < q->bottom)
        from = q->bottom;
    if (to > q->top)
        to = q->top;
    return to > from && to - from >= q->len ? to - q->len : 0;
}

/* Searches subtree i, whose mappings lie between a mapping ending at below and one starting
 * at above, from the top down. A subtree whose free ranges are all smaller than len, or whose
 * span lies outside the query, is skipped whole: only the subtrees on the paths to bottom and
 * top are ever entered without an answer inside. */
static guest_addr_t gap_search(const struct vma_tree *t, uint32_t i, const struct gap_query *q,
                               guest_addr_t below, guest_addr_t above)
{
    guest_addr_t whole = fit(q, below, above);
    if (!whole || !i)
        return whole;
    const struct vma_node *n = NODE(t, i);
    if (max_u64(n->gap, max_u64(n->lo - below, above - n->hi)) < q->len)
        return 0;
    guest_addr_t r = gap_search(t, n->right, q, n->v.end, above);
    return r ? r : gap_search(t, n->left, q, below, n->v.start);
}

guest_addr_t vma_tree_gap_topdown(const struct vma_tree *t, uint64_t len, guest_addr_t bottom,
                                  guest_addr_t top)
{
    if (top < bottom || len == 0 || len > top - bottom)
        return 0;
    struct gap_query q = {len, bottom, top};
    return gap_search(t, t->root, &q, 0, UINT64_MAX);
}

static void walk(const struct vma_tree *t, uint32_t i, void (*fn)(void *ctx, const struct vma *v),
                 void *ctx)
{
    if (!i)
        return;
    walk(t, NODE(t, i)->left, fn, ctx);
    fn(ctx, &NODE(t, i)->v);
    walk(t, NODE(t, i)->right, fn, ctx);
}

void vma_tree_walk(const struct vma_tree *t, void (*fn)(void *ctx, const struct vma *v), void *ctx)
{
    walk(t, t->root, fn, ctx);
}
