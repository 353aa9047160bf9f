/* _start for freestanding guest programs: the stack Linux builds is argc, argv[], NULL,
 * envp[], NULL, auxv; call main and exit with its result. */
#include "freestanding.h"

int main(int argc, char **argv, char **envp);
__attribute__((used, noreturn)) void gstart_c(long *sp);

__attribute__((noreturn)) void gexit(int status)
{
    for (;;)
        gsyscall1(GSYS_exit_group, status);
}

void gstart_c(long *sp)
{
    int argc = (int)sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    gexit(main(argc, argv, envp));
}

#if defined(__x86_64__)
__asm__(".text\n"
        ".globl _start\n"
        ".type _start, @function\n"
        "_start:\n"
        "  xorl %ebp, %ebp\n"
        "  movq %rsp, %rdi\n"
        "  andq $-16, %rsp\n"
        "  call gstart_c\n"
        "  hlt\n");
#elif defined(__aarch64__)
__asm__(".text\n"
        ".globl _start\n"
        ".type _start, %function\n"
        "_start:\n"
        "  mov x29, #0\n"
        "  mov x30, #0\n"
        "  mov x0, sp\n"
        "  bl gstart_c\n"
        "  brk #0\n");
#endif

/* ---- threads and processes ---- */

#define G_CLONE_VM             0x00000100
#define G_CLONE_FS             0x00000200
#define G_CLONE_FILES          0x00000400
#define G_CLONE_SIGHAND        0x00000800
#define G_CLONE_THREAD         0x00010000
#define G_CLONE_SYSVSEM        0x00040000
#define G_CLONE_PARENT_SETTID  0x00100000
#define G_CLONE_CHILD_CLEARTID 0x00200000
#define G_SIGCHLD              17
#define G_FUTEX_WAIT           0

/* clone() with the child on a new stack: the raw call, because the child must not return
 * into the parent's frames. (fn, arg) travel on the child's stack. */
long gclone_raw(int (*fn)(void *), void *arg, void *stack_top, unsigned long flags, int *tid);

#if defined(__x86_64__)
__asm__(".text\n"
        ".globl gclone_raw\n"
        ".type gclone_raw, @function\n"
        "gclone_raw:\n" /* rdi fn, rsi arg, rdx stack, rcx flags, r8 tid */
        "  subq $16, %rdx\n"
        "  movq %rdi, 0(%rdx)\n"
        "  movq %rsi, 8(%rdx)\n"
        "  movq %rcx, %rdi\n" /* flags */
        "  movq %rdx, %rsi\n" /* newsp */
        "  movq %r8, %rdx\n"  /* parent_tid */
        "  movq %r8, %r10\n"  /* child_tid */
        "  xorl %r8d, %r8d\n" /* tls */
        "  movl $56, %eax\n"
        "  syscall\n"
        "  testq %rax, %rax\n"
        "  jnz 1f\n"
        "  popq %rax\n"
        "  popq %rdi\n"
        "  callq *%rax\n"
        "  movl %eax, %edi\n"
        "  movl $60, %eax\n"
        "  syscall\n"
        "  hlt\n"
        "1: ret\n");
#elif defined(__aarch64__)
__asm__(".text\n"
        ".globl gclone_raw\n"
        ".type gclone_raw, %function\n"
        "gclone_raw:\n" /* x0 fn, x1 arg, x2 stack, x3 flags, x4 tid */
        "  stp x0, x1, [x2, #-16]!\n"
        "  mov x0, x3\n" /* flags */
        "  mov x1, x2\n" /* newsp */
        "  mov x2, x4\n" /* parent_tid */
        "  mov x3, #0\n" /* tls; x4 child_tid */
        "  mov x8, #220\n"
        "  svc #0\n"
        "  cbnz x0, 1f\n"
        "  ldp x9, x0, [sp], #16\n"
        "  blr x9\n"
        "  mov x8, #93\n"
        "  svc #0\n"
        "  brk #0\n"
        "1: ret\n");
#endif

long gthread_start(int (*fn)(void *), void *arg, void *stack_top, int *tid)
{
    unsigned long flags = G_CLONE_VM | G_CLONE_FS | G_CLONE_FILES | G_CLONE_SIGHAND |
                          G_CLONE_THREAD | G_CLONE_SYSVSEM | G_CLONE_PARENT_SETTID |
                          G_CLONE_CHILD_CLEARTID;
    return gclone_raw(fn, arg, (void *)((uintptr_t)stack_top & ~(uintptr_t)15), flags, tid);
}

void gthread_join(int *tid)
{
    for (;;) {
        int v = *(volatile int *)tid;
        if (v == 0)
            return;
        gsyscall4(GSYS_futex, tid, G_FUTEX_WAIT, v, 0);
    }
}

long gfork(void) { return gsyscall6(GSYS_clone, G_SIGCHLD, 0, 0, 0, 0, 0); }
