/* An ordering bug for --policy pct to find (README "Policies"). A teller moves money from one
 * account to the other three times, journalling each half of a transfer with write(2); an
 * auditor, once it has reconciled yesterday's journal, adds the balances up under the ledger
 * lock, which the teller forgets to take. The audit comes out short only if it runs while the
 * teller is between a debit and its credit: the teller must be descheduled at the journal
 * write in between, and the auditor must run then. That is a bug of depth 2 among three
 * threads (with main).
 *
 * Round-robin never shows it: on one CPU the teller's transfers take far less than a time
 * slice, and on several the teller is done long before the auditor has reconciled, as on real
 * hardware almost every time. Under --policy pct --pct-depth 2 a run on one CPU shows it when
 * the change point falls on one of the teller's debit journals (and the priorities let the
 * auditor run next): PCT's bound puts that at no less than 1/(n k) per run, for n = 3 threads
 * and k steps (stat pct_steps). The program prints what its audit found, and exits 1 when
 * money is missing. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define TOTAL     1000
#define TRANSFERS 3

static long balance[2] = {TOTAL, 0};
static pthread_mutex_t ledger = PTHREAD_MUTEX_INITIALIZER;
static int journal_fd;

/* A line of the journal: one system call, so one step for pct. */
static void journal(const char *what, int account, long amount)
{
    char line[64];
    int n = snprintf(line, sizeof(line), "%s account %d: %ld\n", what, account, amount);
    if (write(journal_fd, line, (size_t)n) != n)
        abort();
}

static void transfer(int from, int to, long amount)
{
    /* The bug: the ledger lock belongs around these four lines. */
    balance[from] -= amount;
    journal("debit", from, amount);
    balance[to] += amount;
    journal("credit", to, amount);
}

static void *teller(void *arg)
{
    (void)arg;
    for (int i = 0; i < TRANSFERS; i++)
        transfer(0, 1, 100);
    return NULL;
}

static long audited;
static volatile unsigned long reconciled;

static void *auditor(void *arg)
{
    (void)arg;
    for (unsigned long entry = 0; entry < 20000; entry++) /* yesterday's journal */
        reconciled = reconciled * 31 + entry;
    pthread_mutex_lock(&ledger);
    audited = balance[0] + balance[1];
    pthread_mutex_unlock(&ledger);
    return NULL;
}

int main(void)
{
    journal_fd = open("/dev/null", O_WRONLY);
    if (journal_fd < 0) {
        perror("/dev/null");
        return 2;
    }
    pthread_t t, a;
    if (pthread_create(&t, NULL, teller, NULL) != 0 ||
        pthread_create(&a, NULL, auditor, NULL) != 0) {
        perror("pthread_create");
        return 2;
    }
    pthread_join(t, NULL);
    pthread_join(a, NULL);
    if (audited != TOTAL) {
        printf("audit found %ld of %d: it ran between a debit and its credit\n", audited, TOTAL);
        return 1;
    }
    printf("audit found %ld of %d\n", audited, TOTAL);
    return 0;
}
