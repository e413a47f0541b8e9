/* test.h - a tiny test harness shared by the test files. */
#ifndef ORCHLOG_TEST_H
#define ORCHLOG_TEST_H

#include <stdio.h>
#include <sys/types.h>

extern int t_failed; /* set by CHECK in the running test */

#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "    %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);      \
            t_failed = 1;                                                                     \
            return;                                                                           \
        }                                                                                     \
    } while (0)

/* CHECK for a call on a context: prints the context's error on failure. */
#define CHECK_OK(c, expr)                                                                     \
    do {                                                                                      \
        int rc_ = (expr);                                                                     \
        if (rc_ != 0) {                                                                       \
            fprintf(stderr, "    %s:%d: %s returned %d (%s): %s\n", __FILE__, __LINE__, #expr,  \
                    rc_, orchlog_status_name(rc_), (c)->errstr);                              \
            t_failed = 1;                                                                     \
            return;                                                                           \
        }                                                                                     \
    } while (0)

typedef struct test_case {
    const char *name;
    void (*fn)(void);
} test_case;

/* A server process started by the tests. */
typedef struct test_server {
    pid_t pid;
    int port;
    char db[512];
    char log[512];
} test_server;

extern char t_tmpdir[256];
extern test_server t_shared; /* the server shared by most live tests */

const char *t_orchlogd(void);
/* Starts orchlogd on 127.0.0.1:port (0: any) with the db, waits for "listening on".
 * extra: NULL-terminated extra arguments or NULL. Returns 0 or -1. */
int t_server_start(test_server *s, const char *name, int port, const char *const *extra);
/* Forks a process that starts orchlogd after delay_ms (same port and db as s); s->pid is set.
 * Returns 0 or -1. */
int t_server_start_delayed(test_server *s, int delay_ms);
/* Waits (bounded) for the log line of a server started with t_server_start_delayed. */
int t_server_wait_listening(test_server *s, int timeout_ms);
void t_server_kill(test_server *s);                  /* SIGKILL + wait */
int t_server_term(test_server *s, int timeout_ms);   /* SIGTERM + wait; exit status or -1 */
int t_server_wait(test_server *s, int timeout_ms);   /* wait for exit; status, or -1 (killed) */
void t_sleep_ms(int ms);

extern const test_case reader_tests[];
extern const test_case live_tests[];

#endif
