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
