/* The freestanding start-up (guest/start): programs without libc define
 *     int main(int argc, char **argv, char **envp);
 * and link libguest_start.a, which provides _start, exit with main's result, a small printf
 * to standard output and the few string functions the compiler may call. */
#ifndef RSEQEMU_GUEST_FREESTANDING_H
#define RSEQEMU_GUEST_FREESTANDING_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest_syscall.h"

/* printf to standard output: %d %i %u %x %p %s %c %% with l/ll/z, and a width or 0 flag. */
int gprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int gvsnprintf(char *buf, size_t cap, const char *fmt, va_list ap);
int gsnprintf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
__attribute__((noreturn)) void gexit(int status);

/* A thread: fn(arg) runs on the stack below stack_top and its result is the thread's exit
 * status. The kernel writes the thread id to *tid and clears it when the thread ends. The
 * thread id, or -errno. */
long gthread_start(int (*fn)(void *), void *arg, void *stack_top, int *tid);
/* Waits until the thread whose id gthread_start wrote to *tid has ended. */
void gthread_join(int *tid);
/* fork(): the child's pid in the parent, 0 in the child, or -errno. */
long gfork(void);

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);

#endif
