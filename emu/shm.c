/* The machine's shared memory file (shm.h). */
#include "shm.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/lx.h"
#include "emu_internal.h"

/* Address space reserved for the canonical view: the most shared memory one run can make. */
#define SHM_VIEW_MAX (1ULL << 40)

static int shm_open_file(struct emu *emu)
{
    if (emu->shm_view)
        return 0;
    int fd = memfd_create("rseqemu-shared", MFD_CLOEXEC);
    if (fd < 0)
        return -LX_ENOMEM;
    void *view =
        mmap(NULL, SHM_VIEW_MAX, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
    if (view == MAP_FAILED) {
        close(fd);
        return -LX_ENOMEM;
    }
    emu->shm_fd = fd;
    emu->shm_view = view;
    return 0;
}

int shm_alloc(struct emu *emu, uint64_t len, uint64_t *off)
{
    int rc = shm_open_file(emu);
    if (rc)
        return rc;
    if (len > SHM_VIEW_MAX - emu->shm_size)
        return -LX_ENOMEM;
    if (ftruncate(emu->shm_fd, (off_t)(emu->shm_size + len)) != 0)
        return -LX_ENOMEM;
    *off = emu->shm_size;
    emu->shm_size += len;
    return 0;
}

uint8_t *shm_view(const struct emu *emu, uint64_t off) { return emu->shm_view + off; }

int shm_place(const struct emu *emu, uint8_t *host, uint64_t len, uint64_t off)
{
    void *p =
        mmap(host, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, emu->shm_fd, (off_t)off);
    return p == MAP_FAILED ? -LX_ENOMEM : 0;
}

int shm_unplace(uint8_t *host, uint64_t len)
{
    void *p = mmap(host, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    return p == MAP_FAILED ? -LX_ENOMEM : 0;
}

void shm_discard(const struct emu *emu, uint64_t off, uint64_t len)
{
    if (emu->shm_view)
        fallocate(emu->shm_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
}

void shm_destroy(struct emu *emu)
{
    if (!emu->shm_view)
        return;
    munmap(emu->shm_view, SHM_VIEW_MAX);
    close(emu->shm_fd);
    emu->shm_view = NULL;
}
