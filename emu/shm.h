/* Inside emu/: the machine's shared memory (MAP_SHARED mappings, which fork children share).
 *
 * All of it lives in one memory file at increasing offsets. A mapping places its part of the
 * file into the windows of each address space that maps it, so that every alias is the same
 * host page; the file's own view gives each page one canonical host address for snapshots. */
#ifndef RSEQEMU_EMU_SHM_H
#define RSEQEMU_EMU_SHM_H

#include <stdint.h>

struct emu;

/* len bytes of new zeroed shared memory: 0 and its offset, or -LX_ENOMEM. */
int shm_alloc(struct emu *emu, uint64_t len, uint64_t *off);
/* The canonical host address of offset off. */
uint8_t *shm_view(const struct emu *emu, uint64_t off);
/* Makes [host, host+len) of a window an alias of the file at off, or private zeros again. */
int shm_place(const struct emu *emu, uint8_t *host, uint64_t len, uint64_t off);
int shm_unplace(uint8_t *host, uint64_t len);
/* Gives back the host memory of [off, off+len): a restore dropped the mapping that held it. */
void shm_discard(const struct emu *emu, uint64_t off, uint64_t len);
void shm_destroy(struct emu *emu);

#endif
