/* Which context's registers the engine holds, and moving them in and out lazily: the general
 * registers travel on every exit (the kernel model reads syscall arguments from them), the
 * FP/SIMD file only when another context takes the engine or the kernel needs it. */
#include "cpu.h"

#include "aspace.h"
#include "backend.h"

struct backend *aspace_backend(const struct aspace *as);

void cpu_ctx_init(struct cpu_ctx *ctx, const struct arch_desc *arch, guest_addr_t entry,
                  guest_addr_t sp)
{
    arch->init_regs(&ctx->regs, entry, sp);
    ctx->fp_in_engine = false;
}

void cpu_ctx_sync(struct aspace *as, struct cpu_ctx *ctx)
{
    if (!ctx->fp_in_engine)
        return;
    backend_regs_load(aspace_backend(as), &ctx->regs, REGS_FP);
    ctx->fp_in_engine = false;
}

void cpu_ctx_detach(struct aspace *as, struct cpu_ctx *ctx)
{
    struct backend *b = aspace_backend(as);
    cpu_ctx_sync(as, ctx);
    if (backend_loaded(b) == ctx)
        backend_set_loaded(b, NULL);
}

void emu_run(struct aspace *as, struct cpu_ctx *ctx, const struct emu_run_params *params,
             struct emu_exit *out)
{
    struct backend *b = aspace_backend(as);
    struct cpu_ctx *loaded = backend_loaded(b);
    if (loaded != ctx) {
        if (loaded)
            cpu_ctx_sync(as, loaded);
        backend_regs_store(b, &ctx->regs, REGS_GPR | REGS_FP);
        backend_set_loaded(b, ctx);
    } else {
        backend_regs_store(b, &ctx->regs, ctx->fp_in_engine ? REGS_GPR : REGS_GPR | REGS_FP);
    }
    ctx->fp_in_engine = true;
    backend_run(b, params, out);
    backend_regs_load(b, &ctx->regs, REGS_GPR);
}
