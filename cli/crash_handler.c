/* The fatal-signal handler behind rseqemu's own failure report. A failed assertion (of the
 * engine library, which aborts, or of the model) and a fault of rseqemu itself end here, on an
 * alternate stack: the report is written with write(2) alone, the recording is flushed, and the
 * process exits with EXIT_INTERNAL. */
#include "crash_handler.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exit_codes.h"
#include "kernel-model/crash.h"

static char command[2048];
static const char *record_path;
static volatile sig_atomic_t reporting;
/* The standard error rseqemu started with: sweep workers send fd 2 to files of their own. */
static int report_fd = STDERR_FILENO;

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGABRT:
        return "SIGABRT (an assertion of the engine or of the model failed)";
    case SIGSEGV:
        return "SIGSEGV (rseqemu itself made a bad memory access)";
    case SIGBUS:
        return "SIGBUS (rseqemu itself made a bad memory access)";
    case SIGFPE:
        return "SIGFPE (an arithmetic fault in rseqemu itself)";
    case SIGILL:
        return "SIGILL (an illegal instruction in rseqemu itself)";
    default:
        return "a fatal signal";
    }
}

static void on_fatal(int sig)
{
    if (reporting)
        _exit(EXIT_INTERNAL); /* failed while reporting: say nothing more */
    reporting = 1;
    int fd = report_fd;
    crash_puts(fd, "\nrseqemu: internal error: ");
    crash_puts(fd, signal_name(sig));
    crash_puts(fd, "\n  command: ");
    crash_puts(fd, command);
    crash_puts(fd, "\n");
    crash_write_machine(fd);
    /* The recording up to here replays the run to the failure; stdio is not async-signal-safe,
     * but the process ends either way. */
    fflush(NULL);
    if (record_path) {
        crash_puts(fd, "  the run so far is recorded in ");
        crash_puts(fd, record_path);
        crash_puts(fd, " (rseqemu replay)\n");
    }
    crash_puts(fd, "  this is a bug of rseqemu: please report it with the lines above "
                   "(exit status 70)\n");
    _exit(EXIT_INTERNAL);
}

void crash_handler_install(int argc, char **argv)
{
    size_t n = 0;
    for (int i = 0; i < argc && n + 1 < sizeof(command); i++) {
        int w = snprintf(command + n, sizeof(command) - n, "%s%s", i ? " " : "",
                         i == 0 ? "rseqemu" : argv[i]);
        if (w < 0)
            break;
        n += (size_t)w;
    }
    int fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 10);
    if (fd >= 0)
        report_fd = fd;
    static char altstack[1 << 16];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack)};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_fatal;
    sa.sa_flags = SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    static const int fatal[] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
    for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
#if defined(__SANITIZE_ADDRESS__)
        /* AddressSanitizer reports faults itself, then aborts: the report follows its. */
        if (fatal[i] != SIGABRT)
            continue;
#endif
        sigaction(fatal[i], &sa, NULL);
    }
}

void crash_handler_note_record(const char *path) { record_path = path; }

int crash_test_from_env(const char **kind, unsigned long long *event)
{
    static char buf[64];
    const char *v = getenv("RSEQEMU_CRASH_TEST");
    if (!v || !*v)
        return 1;
    snprintf(buf, sizeof(buf), "%s", v);
    char *colon = strchr(buf, ':');
    *event = 1;
    if (colon) {
        *colon = '\0';
        char *end;
        *event = strtoull(colon + 1, &end, 10);
        if (*end || end == colon + 1)
            return -1;
    }
    if (strcmp(buf, "abort") && strcmp(buf, "segv") && strcmp(buf, "engine"))
        return -1;
    *kind = buf;
    return 0;
}
