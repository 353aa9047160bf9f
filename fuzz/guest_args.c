#include "guest_args.h"

#include "guest_machine.h"

enum arg_kind {
    ARG_SMALL,     /* 0..15 */
    ARG_NEGATIVE,  /* -1..-16 */
    ARG_DATA,      /* read-write memory, 64-byte steps (32-byte aligned: rseq areas) */
    ARG_DATA_ODD,  /* the same, not aligned */
    ARG_RODATA,    /* a read-only page */
    ARG_CODE,      /* the program's own code */
    ARG_UNMAPPED,  /* pages nothing maps */
    ARG_DATA_END,  /* the last bytes of the read-write area: a range crossing its end */
    ARG_EDGE,      /* the top of user space, past it, and other boundaries */
    ARG_LENGTH,    /* sizes around those of the ABI's structures */
    ARG_SIGNATURE, /* rseq signatures */
    ARG_BIT,       /* one flag bit, 0..15 */
    ARG_HIGH_BIT,  /* one flag bit, 16..31 */
    ARG_PAGES,     /* whole pages */
    ARG_CPU,       /* CPU numbers, the machine's and beyond */
    ARG_SIGNAL,    /* signal numbers */
};

uint64_t guest_arg(const struct arch_desc *a, uint8_t sel)
{
    unsigned p = sel & 15;
    const struct arch_desc *other = arch_get(a->id == ARCH_X86_64 ? ARCH_AARCH64 : ARCH_X86_64);
    const uint64_t edge[16] = {a->task_size,     a->task_size - 1,
                               a->task_size - 8, a->task_size - 4096,
                               1ULL << 63,       UINT64_MAX,
                               0x7fffffff,       0x80000000,
                               0xffffffff,       1ULL << 32,
                               INT64_MAX,        0xffff800000000000ULL,
                               a->stack_top - 8, a->stack_top - 0x1000,
                               0x1000,           GM_DATA + GM_DATA_SIZE};
    static const uint64_t length[16] = {8,  16,  20,  24,   28,   31,     32,      33,
                                        64, 128, 256, 4096, 4097, 0x2000, 0x10000, 0x100000};
    const uint64_t signature[16] = {a->rseq_sig,
                                    other->rseq_sig,
                                    ~a->rseq_sig & 0xffffffff,
                                    a->rseq_sig ^ 1,
                                    0,
                                    0xffffffff,
                                    a->rseq_sig + 1,
                                    0x53053053,
                                    0xd428bc00,
                                    a->rseq_sig << 8,
                                    1,
                                    a->rseq_sig | 1ULL << 32,
                                    0x0f0b0f0b,
                                    0x90909090,
                                    0xd503201f,
                                    0xcccccccc};
    static const uint64_t cpu[16] = {
        0,         1, 2, 3, GM_CPUS, 5, 31, 32, 63, 64, 65, 127, 1024, (uint64_t)-1, (uint64_t)-2,
        0x80000000};
    static const uint64_t signal[16] = {0, 1, 2, 6, 9, 10, 11, 12, 14, 15, 17, 19, 32, 34, 64, 65};
    switch ((enum arg_kind)(sel >> 4)) {
    case ARG_SMALL:
        return p;
    case ARG_NEGATIVE:
        return (uint64_t) - (int64_t)(p + 1);
    case ARG_DATA:
        return GM_DATA + p * 64;
    case ARG_DATA_ODD:
        return GM_DATA + p * 64 + 1 + p % 7;
    case ARG_RODATA:
        return GM_RODATA + p * 64;
    case ARG_CODE:
        return GM_CODE + p * 64;
    case ARG_UNMAPPED:
        return GM_UNMAPPED + p * 0x1000;
    case ARG_DATA_END:
        return GM_DATA + GM_DATA_SIZE - (p + 1) * 4;
    case ARG_EDGE:
        return edge[p];
    case ARG_LENGTH:
        return length[p];
    case ARG_SIGNATURE:
        return signature[p];
    case ARG_BIT:
        return 1ULL << p;
    case ARG_HIGH_BIT:
        return 1ULL << (p + 16);
    case ARG_PAGES:
        return (p + 1) * 0x1000ULL;
    case ARG_CPU:
        return cpu[p];
    case ARG_SIGNAL:
        return signal[p];
    }
    return 0;
}
