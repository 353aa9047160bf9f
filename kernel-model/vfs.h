/* The guest's files: its standard streams (host file descriptors) and a few files answered
 * from the model, never from the host: the CPU topology glibc reads, /proc/self/maps, and
 * /dev/null. Nothing else exists; opening it fails with ENOENT. */
#ifndef RSEQEMU_KERNEL_MODEL_VFS_H
#define RSEQEMU_KERNEL_MODEL_VFS_H

#include <stddef.h>

#include "kstate.h"

/* The virtual file at path, or -LX_ENOENT. path is absolute after resolution. */
int vfs_lookup(const char *path);
bool vfs_is_null(int vfile);
/* The file's whole content, generated now; its length (the content may be cut at cap). */
size_t vfs_content(struct kernel *k, struct task *t, int vfile, char *buf, size_t cap);
/* readlink: the link's target length, or -LX_ENOENT / -LX_EINVAL. */
long vfs_readlink(struct kernel *k, struct task *t, const char *path, char *buf, size_t cap);
/* Standard streams 0, 1 and 2 of the first process. */
void vfs_init_stdio(struct kernel *k, struct process *p);

#endif
