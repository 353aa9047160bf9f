/* Per-architecture signal frame code, reached through struct arch_desc. */
#ifndef RSEQEMU_ARCH_SIGFRAME_H
#define RSEQEMU_ARCH_SIGFRAME_H

#include "arch.h"

/* x86-64 rt_sigframe: 440 bytes plus a legacy 512-byte FXSAVE area (spec section 6.4). */
#define SIGFRAME_X86_64_SIZE         440
#define SIGFRAME_X86_64_FPSTATE_SIZE 512
int sigframe_setup_x86_64(const struct sigframe_req *req, struct arch_regs *regs,
                          const struct guest_mem *mem);
int sigframe_restore_x86_64(struct arch_regs *regs, const struct guest_mem *mem,
                            struct sigframe_restored *out);

/* aarch64 rt_sigframe: 4688 bytes plus a 16-byte frame record (spec section 6.5). */
#define SIGFRAME_AARCH64_SIZE 4688
int sigframe_setup_aarch64(const struct sigframe_req *req, struct arch_regs *regs,
                           const struct guest_mem *mem);
int sigframe_restore_aarch64(struct arch_regs *regs, const struct guest_mem *mem,
                             struct sigframe_restored *out);

#endif
