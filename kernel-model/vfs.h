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
/* Linux's PATH_MAX: the longest path, NUL included. */
#define VFS_PATH_MAX 4096

/* path made absolute against the guest's working directory "/" and cleaned of ".", ".." and
 * repeated slashes, lexically (nothing is looked up). Writes at most cap bytes, NUL included;
 * returns the length. */
size_t vfs_abs_path(const char *path, char *buf, size_t cap);
/* Where the guest sees its program (/proc/self/exe, /proc/self/maps): the path rseqemu was
 * given, made absolute by vfs_abs_path (Linux's link is absolute and clean). Never the host's
 * absolute path, which differs between checkouts: the same command line gives the same run in
 * any directory. */
size_t vfs_exe_path(const struct elf_image *img, char *buf, size_t cap);
/* readlink: the link's target length, or -LX_ENOENT / -LX_EINVAL. */
long vfs_readlink(struct kernel *k, struct task *t, const char *path, char *buf, size_t cap);
/* Standard streams 0, 1 and 2 of the first process. */
void vfs_init_stdio(struct kernel *k, struct process *p);

#endif
