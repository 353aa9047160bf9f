/* rseqemu's own failure report (kernel-model/crash.h): installed first thing by main(). */
#ifndef RSEQEMU_CLI_CRASH_HANDLER_H
#define RSEQEMU_CLI_CRASH_HANDLER_H

/* Catches the fatal signals of the process; the report names this command line. */
void crash_handler_install(int argc, char **argv);
/* The schedule file the run records (NULL: none): the report says it replays the run so far. */
void crash_handler_note_record(const char *path);
/* RSEQEMU_CRASH_TEST=KIND[:EVENT] for the tests of the report: 0 and the kind and event number
 * (default 1) in *kind and *event, 1 when unset, -1 when malformed. */
int crash_test_from_env(const char **kind, unsigned long long *event);

#endif
