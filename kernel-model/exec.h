/* Programs into address spaces: the first process's, and execve's (fs/exec.c). */
#ifndef RSEQEMU_KERNEL_MODEL_EXEC_H
#define RSEQEMU_KERNEL_MODEL_EXEC_H

#include "emu/loader.h"
#include "kstate.h"

/* Loads img into the empty mm with its initial stack, the pages the kernel adds and the code
 * the injection policy watches. 0, or -1 with err set. */
int exec_load(struct kernel *k, struct mm *mm, const struct elf_image *img,
              const struct exec_args *args, struct exec_layout *lay, char *err, size_t errlen);

/* The exec_args every program gets from this kernel (ids, stack limit, AT_RSEQ_*). */
void exec_args_defaults(const struct kernel *k, struct exec_args *args);

#endif
