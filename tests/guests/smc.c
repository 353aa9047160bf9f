/* Self-modifying code: a function written into an executable page, run, rewritten, run again.
 * Stores to executable pages must still invalidate translated code when stores to data pages
 * take the engine's fast path. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void emit_return(uint8_t *p, uint32_t value)
{
#if defined(__x86_64__)
    p[0] = 0xb8; /* mov eax, imm32; ret */
    memcpy(p + 1, &value, 4);
    p[5] = 0xc3;
#elif defined(__aarch64__)
    uint32_t insn[2] = {0x52800000u | ((value & 0xffff) << 5), 0xd65f03c0u}; /* mov w0, #v; ret */
    memcpy(p, insn, sizeof(insn));
#endif
    __builtin___clear_cache((char *)p, (char *)p + 16);
}

int main(void)
{
    uint8_t *page =
        mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED)
        return 1;
    int (*fn)(void) = (int (*)(void))(uintptr_t)page;
    int sum = 0;
    for (uint32_t v = 1; v <= 5; v++) {
        emit_return(page, v);
        sum = sum * 10 + fn();
    }
    printf("results %d\n", sum);
    /* The same through a page that becomes executable only after it was written. */
    uint8_t *late = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    emit_return(late, 7);
    late[100] = 1; /* stores while the page is plain data */
    mprotect(late, 4096, PROT_READ | PROT_WRITE | PROT_EXEC);
    fn = (int (*)(void))(uintptr_t)late;
    int a = fn();
    emit_return(late, 8);
    int b = fn();
    printf("after mprotect %d %d\n", a, b);
    /* Code the kernel writes, here with a cpu_opv copy (spec 5), replaces the translated code
     * as the guest's own stores do. On Linux, without cpu_opv, the copy fails (ENOSYS). */
    uint8_t fresh[16];
    emit_return(fresh, 9);
    struct {
        int32_t op;
        uint32_t len;
        uint64_t dst, src;
        uint8_t expect_fault[2], pad[6];
    } copy = {
        .op = 2 /* CPU_MEMCPY_OP */, .len = 8, .dst = (uintptr_t)late, .src = (uintptr_t)fresh};
    long copied = syscall(1000, &copy, 1, 0, 0);
    printf("after cpu_opv %ld %d\n", copied, fn());
    return 0;
}
