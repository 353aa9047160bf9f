/* Programs into address spaces (fs/exec.c, fs/binfmt_elf.c): the first process, and execve.
 *
 * execve runs the emulated program again: by /proc/self/exe or by the path it was started
 * with. There is no other file system to load programs from. */
#include "exec.h"

#include <stdlib.h>
#include <string.h>

#include "emu/aspace.h"
#include "event.h"
#include "futex.h"
#include "inject.h"
#include "mm.h"
#include "mm_cid.h"
#include "rseq.h"
#include "sched.h"
#include "syscall.h"
#include "task.h"
#include "vfs.h"

#define STACK_RLIMIT_DEFAULT (8ULL << 20)
#define MAX_ARG_STRLEN       (32 * LX_PAGE_SIZE)

void exec_args_defaults(const struct kernel *k, struct exec_args *args)
{
    memset(args, 0, sizeof(*args));
    args->uid = 1000;
    args->gid = 1000;
    args->stack_size = STACK_RLIMIT_DEFAULT;
    if (k->cfg.profile != KERNEL_6_1) {
        args->rseq_feature_size = 28; /* offsetof(struct rseq, end) in 6.3..6.18 */
        args->rseq_align = 32;
    }
}

/* aarch64 returns from handlers without SA_RESTORER through the vDSO's trampoline; the model
 * maps those two instructions on a page of their own. */
static int map_sigreturn_tramp(struct kernel *k, struct mm *mm)
{
    if (!k->arch->sigreturn_tramp)
        return 0;
    guest_addr_t at = mm_place(k, mm, LX_PAGE_SIZE);
    if (!at || aspace_map(mm->as, at, LX_PAGE_SIZE, LX_PROT_READ | LX_PROT_EXEC, 0) != 0)
        return -1;
    aspace_poke(mm->as, at, k->arch->sigreturn_tramp, k->arch->sigreturn_tramp_words * 4);
    mm->sigreturn_tramp = at;
    return 0;
}

int exec_load(struct kernel *k, struct mm *mm, const struct elf_image *img,
              const struct exec_args *args, struct exec_layout *lay, char *err, size_t errlen)
{
    if (elf_image_load(img, mm->as, args, lay, err, errlen) != 0)
        return -1;
    mm->brk_start = mm->brk = lay->brk;
    mm->stack_low = lay->stack_low;
    mm->image = img;
    if (map_sigreturn_tramp(k, mm) != 0) {
        snprintf(err, errlen, "cannot map the signal return trampoline");
        return -1;
    }
    inject_watch_mm(k, mm);
    return 0;
}

/* ---- execve ---- */

struct strvec {
    char **v;
    size_t n;
};

static void strvec_free(struct strvec *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
}

/* argv or envp from guest memory; *total grows by the bytes they take on the new stack. */
static long copy_strings(struct kernel *k, struct task *t, guest_addr_t vec, struct strvec *out,
                         uint64_t *total, uint64_t limit)
{
    out->v = calloc(1, sizeof(char *));
    out->n = 0;
    if (!out->v)
        return -LX_ENOMEM;
    for (guest_addr_t p = vec; vec; p += 8) {
        uint64_t ptr;
        if (copy_from_user(k, t, &ptr, p, 8) != 0)
            return -LX_EFAULT;
        if (!ptr)
            break;
        char *s = malloc(MAX_ARG_STRLEN);
        if (!s)
            return -LX_ENOMEM;
        long n = aspace_read_str(task_as(t), ptr, s, MAX_ARG_STRLEN);
        if (n < 0) {
            free(s);
            return n == -LX_ENAMETOOLONG ? -LX_E2BIG : n;
        }
        *total += (uint64_t)n + 1 + 8;
        if (*total > limit) {
            free(s);
            return -LX_E2BIG;
        }
        char **grown = realloc(out->v, (out->n + 2) * sizeof(char *));
        if (!grown) {
            free(s);
            return -LX_ENOMEM;
        }
        out->v = grown;
        out->v[out->n++] = s;
        out->v[out->n] = NULL;
    }
    return 0;
}

/* de_thread(): the other threads of the process end; the caller becomes its leader. */
static void kill_other_threads(struct kernel *k, struct task *t)
{
    struct process *p = t->proc;
    for (int i = 0; i < TASK_MAX; i++) {
        struct task *o = &k->st->tasks[i];
        if (o != t && o->proc == p && o->state != TASK_FREE && o->state != TASK_DEAD)
            task_exit(k, o, 0);
    }
    if (p->leader != t) {
        struct task *old = p->leader;
        if (old && old->state == TASK_DEAD)
            old->state = TASK_FREE;
        t->tid = p->pid;
        p->leader = t;
    }
}

/* flush_signal_handlers(): caught signals go back to their default; ignored ones stay. */
static void reset_signal_handlers(struct process *p)
{
    for (int i = 0; i < LX_NSIG; i++) {
        struct ksigaction *a = &p->act[i];
        if (a->handler != LX_SIG_IGN)
            a->handler = LX_SIG_DFL;
        a->flags = 0;
        a->restorer = 0;
        a->mask = 0;
    }
}

/* The program itself, by /proc/self/exe, by the path it was started by, or by the absolute
 * path the guest sees for it (vfs_exe_path). */
static const struct elf_image *exec_target(struct kernel *k, const char *path)
{
    char exe[VFS_PATH_MAX];
    vfs_exe_path(k->image, exe, sizeof(exe));
    if (!strcmp(path, "/proc/self/exe") || !strcmp(path, exe) ||
        !strcmp(path, elf_image_name(k->image)))
        return k->image;
    return NULL;
}

static long do_execve(struct kernel *k, struct task *t, guest_addr_t path_addr,
                      guest_addr_t argv_addr, guest_addr_t envp_addr)
{
    char path[4096];
    long n = aspace_read_str(task_as(t), path_addr, path, sizeof(path));
    if (n < 0)
        return n;
    if (n == 0)
        return -LX_ENOENT;
    const struct elf_image *img = exec_target(k, path);
    if (!img)
        return -LX_ENOENT;

    struct strvec argv = {0}, envp = {0};
    uint64_t total = 0, limit = t->proc->rlimit_cur[LX_RLIMIT_STACK] / 4;
    long rc = copy_strings(k, t, argv_addr, &argv, &total, limit);
    if (rc == 0)
        rc = copy_strings(k, t, envp_addr, &envp, &total, limit);

    /* The new program is built in a new address space before the old one goes, so that a
     * failure can still return to the caller. */
    struct mm *mm = rc ? NULL : mm_alloc(k);
    const char *why = "";
    if (rc == 0 && (!mm || !(mm->as = aspace_create(k->emu, &why)))) {
        if (mm)
            mm->in_use = false;
        rc = -LX_ENOMEM;
    }
    struct exec_layout lay;
    if (rc == 0) {
        struct exec_args ea;
        exec_args_defaults(k, &ea);
        ea.argv = (const char *const *)argv.v;
        ea.envp = (const char *const *)envp.v;
        ea.execfn = path;
        ea.stack_size = t->proc->rlimit_cur[LX_RLIMIT_STACK];
        rng_fill(&k->st->getrandom_rng, ea.random, sizeof(ea.random));
        char err[256];
        if (exec_load(k, mm, img, &ea, &lay, err, sizeof(err)) != 0) {
            aspace_destroy(mm->as);
            mm->as = NULL;
            mm->in_use = false;
            rc = -LX_ENOMEM;
        }
    }
    strvec_free(&argv);
    strvec_free(&envp);
    if (rc)
        return rc;

    /* The point of no return. */
    struct process *p = t->proc;
    kill_other_threads(k, t);
    struct mm *old = p->mm;
    /* exec_mm_release(): a vfork parent or a joiner waits on the child's tid word. */
    if (t->clear_child_tid && old->users > 1) {
        uint32_t zero = 0;
        if (aspace_write(old->as, t->clear_child_tid, &zero, sizeof(zero)) == 0)
            futex_wake_addr(k, t, t->clear_child_tid, 1);
    }
    t->clear_child_tid = 0;
    t->robust_list = 0;
    cpu_ctx_detach(old->as, &t->ctx);
    mm_cid_release(k, t);
    p->mm = mm;
    mm->users = 1;
    mm_put(k, old);
    mm_cid_switch_in(k, t, t->cpu);

    rseq_exec(k, t);
    reset_signal_handlers(p);
    t->altstack = (struct lx_stack){.ss_flags = LX_SS_DISABLE};
    for (int fd = 0; fd < FD_MAX; fd++)
        if (p->fds[fd].kind != FD_NONE && (p->fds[fd].flags & LX_O_CLOEXEC))
            p->fds[fd] = (struct fd_entry){0};
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strnlen(base, sizeof(t->comm) - 1);
    memcpy(t->comm, base, len);
    t->comm[len] = '\0';
    cpu_ctx_init(&t->ctx, k->arch, lay.entry, lay.sp);
    t->in_syscall = false;
    t->rtu_pending = true;
    event_emit(k, EV_EXEC, t, elf_image_hash(img), lay.entry, 0);
    return SYS_NORETURN;
}

long sys_execve(struct kernel *k, struct task *t, const struct sys_args *a)
{
    return do_execve(k, t, a->a[0], a->a[1], a->a[2]);
}
