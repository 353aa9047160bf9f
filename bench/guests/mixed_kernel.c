/* Guest B, "mixed": a round of work shaped like real code. An LCG fills a buffer, a partial
 * insertion sort orders its head, a byte loop copies it, FNV-1a hashes the copy, and a walk
 * twice around a small linked ring of structs reads and updates them. */
#include "bench_kernel.h"

#define WORDS  256
#define SORTED 64
#define NODES  64
#define WALK   128

struct node {
    struct node *next;
    uint32_t val;
    uint16_t tag;
    uint16_t hits;
};

uint64_t bench_kernel(uint64_t iterations)
{
    uint32_t buf[WORDS];
    uint8_t copy[WORDS * 4];
    struct node nodes[NODES];
    /* A ring that visits the nodes out of order (stride 23, coprime with 64). */
    for (uint32_t i = 0; i < NODES; i++) {
        nodes[i].next = &nodes[(i + 23) % NODES];
        nodes[i].val = i * 7919u;
        nodes[i].tag = (uint16_t)(i * 3);
        nodes[i].hits = 0;
    }
    uint32_t seed = 12345;
    uint64_t sum = 0;
    struct node *p = &nodes[0];
    for (uint64_t it = 0; it < iterations; it++) {
        /* LCG fill */
        for (uint32_t i = 0; i < WORDS; i++) {
            seed = seed * 1664525u + 1013904223u;
            buf[i] = seed >> 8;
        }
        /* partial insertion sort of the head */
        for (uint32_t i = 1; i < SORTED; i++) {
            uint32_t v = buf[i];
            uint32_t j = i;
            while (j > 0 && buf[j - 1] > v) {
                buf[j] = buf[j - 1];
                j--;
            }
            buf[j] = v;
        }
        /* byte copy */
        const uint8_t *src = (const uint8_t *)buf;
        for (uint32_t i = 0; i < WORDS * 4; i += 2) {
            copy[i] = src[i + 1];
            copy[i + 1] = src[i];
        }
        /* FNV-1a */
        uint32_t h = 2166136261u;
        for (uint32_t i = 0; i < WORDS * 4; i++) {
            h ^= copy[i];
            h *= 16777619u;
        }
        /* struct and pointer chasing */
        for (uint32_t i = 0; i < WALK; i++) {
            if ((p->val ^ h) & 1) {
                p->val += h >> (p->tag & 15);
                p->hits++;
            } else {
                p->val ^= buf[p->tag % WORDS];
            }
            sum += p->val;
            p = p->next;
        }
        sum = (sum ^ h) * 0x100000001b3u + buf[0] + buf[SORTED - 1];
    }
    for (uint32_t i = 0; i < NODES; i++)
        sum = sum * 131 + nodes[i].val + nodes[i].hits;
    return sum;
}
