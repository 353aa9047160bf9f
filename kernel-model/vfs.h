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
/* Up to len bytes of the file from byte off, generated now, as a read() at off returns
 * them. *cur remembers where the last read ended, so that reading a long file from start to
 * end (a /proc/self/maps of tens of thousands of lines) costs what it returns, as Linux's
 * seq_file resumes at the record it stopped in. */
size_t vfs_read(struct kernel *k, struct task *t, int vfile, struct vfs_cursor *cur, uint64_t off,
                char *buf, size_t len);
/* The file's length, for lseek(SEEK_END). */
uint64_t vfs_size(struct kernel *k, struct task *t, int vfile);
/* readlink: the link's target length, or -LX_ENOENT / -LX_EINVAL. */
long vfs_readlink(struct kernel *k, struct task *t, const char *path, char *buf, size_t cap);
/* Standard streams 0, 1 and 2 of the first process. */
void vfs_init_stdio(struct kernel *k, struct process *p);

#endif
