#include "guest_machine.h"

#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emu/aspace.h"
#include "harness.h"
#include "emu/loader.h"
#include "kernel-model/task.h"

/* The guest's memory past its first run is what the snapshot saves and restores; a cap keeps a
 * runaway allocation from taking the fuzzer's memory (the guest is killed as by the OOM killer,
 * an ordinary outcome). */
#define GUEST_MAX_MEM (64ULL << 20)

/* A machine is built anew after this many runs: its snapshot keeps a copy of every page any
 * run touched, and long campaigns touch many (the run from a new machine is the same run). */
#define GUEST_RUNS_PER_MACHINE 20000

struct guest_machine {
    const struct arch_desc *arch;
    struct elf_image *img;
    struct kernel *k;
    FILE *diag;
    int null_fd;
    uint64_t runs;
};

/* The ELF file: the header and program headers at the start of the code segment, whose first
 * page holds nothing else; code from GM_CODE on. */
struct guest_elf {
    Elf64_Ehdr eh;
    Elf64_Phdr ph[4];
};

static struct guest_elf make_elf(const struct arch_desc *a)
{
    struct guest_elf f = {0};
    memcpy(f.eh.e_ident, ELFMAG, SELFMAG);
    f.eh.e_ident[EI_CLASS] = ELFCLASS64;
    f.eh.e_ident[EI_DATA] = ELFDATA2LSB;
    f.eh.e_ident[EI_VERSION] = EV_CURRENT;
    f.eh.e_type = ET_EXEC;
    f.eh.e_machine = a->elf_machine;
    f.eh.e_version = EV_CURRENT;
    f.eh.e_entry = GM_CODE;
    f.eh.e_phoff = offsetof(struct guest_elf, ph);
    f.eh.e_ehsize = sizeof(Elf64_Ehdr);
    f.eh.e_phentsize = sizeof(Elf64_Phdr);
    f.eh.e_phnum = 4;
    uint64_t code_seg = GM_CODE - 0x1000;
    f.ph[0] = (Elf64_Phdr){.p_type = PT_LOAD,
                           .p_flags = PF_R | PF_W | PF_X,
                           .p_vaddr = code_seg,
                           .p_paddr = code_seg,
                           .p_filesz = sizeof(f),
                           .p_memsz = GM_CODE + GM_CODE_SIZE - code_seg,
                           .p_align = 0x1000};
    f.ph[1] = (Elf64_Phdr){.p_type = PT_LOAD,
                           .p_flags = PF_R | PF_W,
                           .p_vaddr = GM_DATA,
                           .p_paddr = GM_DATA,
                           .p_memsz = GM_DATA_SIZE,
                           .p_align = 0x1000};
    f.ph[2] = (Elf64_Phdr){.p_type = PT_LOAD,
                           .p_flags = PF_R,
                           .p_vaddr = GM_RODATA,
                           .p_paddr = GM_RODATA,
                           .p_memsz = 0x1000,
                           .p_align = 0x1000};
    f.ph[3] = (Elf64_Phdr){.p_type = PT_GNU_STACK, .p_flags = PF_R | PF_W, .p_align = 16};
    return f;
}

const uint8_t *guest_machine_elf(enum arch_id arch, size_t *size)
{
    static struct guest_elf files[ARCH_COUNT];
    files[arch] = make_elf(arch_get(arch));
    *size = sizeof(files[arch]);
    return (const uint8_t *)&files[arch];
}

static void die(const char *what, const char *why)
{
    fprintf(harness_err(), "fuzz: cannot build the guest machine: %s: %s\n", what, why);
    exit(1);
}

static void build(struct guest_machine *m, enum arch_id id)
{
    m->arch = arch_get(id);
    size_t size;
    const uint8_t *elf = guest_machine_elf(id, &size);
    char err[512];
    enum elf_open_error kind;
    m->img = elf_image_open_mem(elf, size, "guest", &kind, err, sizeof(err));
    if (!m->img)
        die("ELF", err);
    /* The guest's output and rseqemu's diagnostics would only slow the fuzzer down. */
    int null_fd = m->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    FILE *diag = m->diag = fopen("/dev/null", "w");
    if (null_fd < 0 || !diag)
        die("/dev/null", "cannot open");
    struct kernel_config cfg;
    kernel_config_defaults(&cfg);
    cfg.arch = m->arch;
    cfg.ncpus = GM_CPUS;
    cfg.seed = 1;
    cfg.max_mem = GUEST_MAX_MEM;
    cfg.stdin_fd = null_fd;
    cfg.stdout_fd = null_fd;
    cfg.stderr_fd = null_fd;
    cfg.diag = diag;
    cfg.quiet = true;
    m->k = kernel_create(&cfg, err, sizeof(err));
    if (!m->k)
        die("kernel", err);
    static const char *const argv[] = {"guest", NULL};
    if (kernel_spawn(m->k, m->img, argv, err, sizeof(err)) != 0)
        die("spawn", err);
    kernel_snapshot_take(m->k);
}

static void teardown(struct guest_machine *m)
{
    kernel_destroy(m->k);
    elf_image_close(m->img);
    fclose(m->diag);
    close(m->null_fd);
}

struct guest_machine *guest_machine_get(enum arch_id arch)
{
    static struct guest_machine machines[ARCH_COUNT];
    if (!machines[arch].k)
        build(&machines[arch], arch);
    return &machines[arch];
}

const struct arch_desc *guest_machine_arch(const struct guest_machine *m) { return m->arch; }

void guest_machine_run(struct guest_machine *m, const uint8_t *code, size_t code_len,
                       const uint8_t *data, size_t data_len, uint64_t data_off, uint64_t max_insns,
                       struct kernel_result *res)
{
    if (++m->runs % GUEST_RUNS_PER_MACHINE == 0) {
        teardown(m);
        build(m, m->arch->id);
    }
    kernel_snapshot_restore(m->k);
    struct task *t = task_by_tid(m->k, 100);
    if (!t)
        harness_fail("fuzz: the guest's first thread is not there after a restore");
    struct aspace *as = task_as(t);
    if (code_len > GM_CODE_SIZE)
        code_len = GM_CODE_SIZE;
    if (data_off > GM_DATA_SIZE)
        data_off = GM_DATA_SIZE;
    if (data_len > GM_DATA_SIZE - data_off)
        data_len = GM_DATA_SIZE - data_off;
    if (aspace_poke(as, GM_CODE, code, code_len) != 0 ||
        aspace_poke(as, GM_DATA + data_off, data, data_len) != 0)
        harness_fail("fuzz: cannot write the guest's code and data");
    kernel_set_max_insns(m->k, max_insns);
    kernel_run(m->k, res);
    if (res->outcome == KERNEL_ERROR || res->outcome == KERNEL_BAD_SCHEDULE ||
        res->outcome == KERNEL_PAUSED)
        harness_fail("fuzz: the machine failed (outcome %d): %s", res->outcome, res->message);
}
