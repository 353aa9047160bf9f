#include "cpulist.h"

#include <stdio.h>

/* A decimal CPU number at *p, below limit; advances *p. */
static int cpu_number(const char **p, int limit, int *out, char *err, size_t errlen)
{
    const char *s = *p;
    if (*s < '0' || *s > '9') {
        snprintf(err, errlen, "expected a CPU number at '%s'", s);
        return -1;
    }
    long v = 0;
    while (*s >= '0' && *s <= '9' && v < limit)
        v = v * 10 + (*s++ - '0');
    if (v >= limit || (*s >= '0' && *s <= '9')) {
        int digits = 0;
        while ((*p)[digits] >= '0' && (*p)[digits] <= '9' && digits < 20)
            digits++;
        snprintf(err, errlen, "CPU %.*s is not below %d", digits, *p, limit);
        return -1;
    }
    *p = s;
    *out = (int)v;
    return 0;
}

int cpulist_parse(const char *text, int limit, uint64_t *mask, char *err, size_t errlen)
{
    uint64_t m = 0;
    const char *p = text;
    for (;;) {
        int lo, hi;
        if (cpu_number(&p, limit, &lo, err, errlen) != 0)
            return -1;
        hi = lo;
        if (*p == '-') {
            p++;
            if (cpu_number(&p, limit, &hi, err, errlen) != 0)
                return -1;
            if (hi < lo) {
                snprintf(err, errlen, "the range %d-%d goes backwards", lo, hi);
                return -1;
            }
        }
        for (int cpu = lo; cpu <= hi; cpu++)
            m |= 1ULL << cpu;
        if (*p == '\0')
            break;
        if (*p != ',') {
            snprintf(err, errlen, "expected ',' or '-' at '%s'", p);
            return -1;
        }
        p++;
    }
    *mask = m;
    return 0;
}

size_t cpulist_format(uint64_t mask, char *buf, size_t cap)
{
    size_t n = 0;
    if (cap)
        buf[0] = '\0';
    for (int i = 0; i < 64 && n + 1 < cap; i++) {
        if (!(mask & (1ULL << i)))
            continue;
        int j = i;
        while (j + 1 < 64 && (mask & (1ULL << (j + 1))))
            j++;
        int w = j == i ? snprintf(buf + n, cap - n, "%s%d", n ? "," : "", i)
                       : snprintf(buf + n, cap - n, "%s%d-%d", n ? "," : "", i, j);
        n += (size_t)w;
        i = j;
    }
    return n < cap ? n : (cap ? cap - 1 : 0);
}
