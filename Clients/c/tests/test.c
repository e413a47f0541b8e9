/*
 * test.c - test runner of the orchlog C client.
 *
 * Runs the parser tests (no server) and the live tests against orchlogd started on
 * 127.0.0.1 port 0 with a temporary database. The server binary is $ORCHLOGD, else
 * ../../.build/debug/orchlogd (relative to Clients/c), which `swift build` makes.
 * The last line of the output is "N passed, M failed"; the exit status is 1 on failures.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

int t_failed;
char t_tmpdir[256];
test_server t_shared;

#define MAX_SERVERS 64
static pid_t all_pids[MAX_SERVERS];
static int n_pids;

static void remember_pid(pid_t p) {
    if (n_pids < MAX_SERVERS) all_pids[n_pids++] = p;
}

static void forget_pid(pid_t p) {
    for (int i = 0; i < n_pids; i++)
        if (all_pids[i] == p) all_pids[i] = -1;
}

static void kill_all_servers(void) {
    for (int i = 0; i < n_pids; i++)
        if (all_pids[i] > 0) kill(all_pids[i], SIGKILL);
}

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "\ntest timed out (watchdog)\n0 passed, 1 failed\n";
    kill_all_servers();
    if (write(2, msg, sizeof(msg) - 1) < 0) _exit(1);
    _exit(1);
}

void t_sleep_ms(int ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

const char *t_orchlogd(void) {
    static char path[1024];
    const char *env = getenv("ORCHLOGD");
    if (env != NULL && env[0] != '\0') {
        /* A path relative to the repository root still works from Clients/c. */
        if (env[0] != '/' && access(env, X_OK) != 0) {
            snprintf(path, sizeof(path), "../../%s", env);
            if (access(path, X_OK) == 0) return path;
        }
        return env;
    }
    return "../../.build/debug/orchlogd";
}

/* Forks orchlogd with stderr to s->log, optionally after a delay. */
static pid_t spawn(test_server *s, int port, const char *const *extra, int delay_ms) {
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    const char *argv[32];
    int n = 0;
    argv[n++] = t_orchlogd();
    argv[n++] = "--listen";
    argv[n++] = listen;
    argv[n++] = "--db";
    argv[n++] = s->db;
    argv[n++] = "--sync";
    argv[n++] = "normal";
    for (int i = 0; extra != NULL && extra[i] != NULL && n < 30; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (delay_ms > 0) t_sleep_ms(delay_ms);
        int fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        int dn = open("/dev/null", O_RDWR);
        if (dn >= 0) {
            dup2(dn, 0);
            dup2(dn, 1);
            close(dn);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    remember_pid(pid);
    return pid;
}

/* Looks for "listening on 127.0.0.1:PORT" in the log; returns the port or 0. */
static int log_port(const char *log) {
    FILE *f = fopen(log, "r");
    if (f == NULL) return 0;
    char line[1024];
    int port = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        const char *p = strstr(line, "listening on 127.0.0.1:");
        if (p != NULL) {
            port = atoi(p + strlen("listening on 127.0.0.1:"));
            break;
        }
    }
    fclose(f);
    return port;
}

int t_server_wait_listening(test_server *s, int timeout_ms) {
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        int port = log_port(s->log);
        if (port > 0) {
            s->port = port;
            return 0;
        }
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            fprintf(stderr, "    orchlogd exited early (status %d), log %s\n", st, s->log);
            forget_pid(s->pid);
            s->pid = -1;
            return -1;
        }
        t_sleep_ms(20);
    }
    fprintf(stderr, "    orchlogd did not log 'listening on' within %d ms (%s)\n", timeout_ms,
            s->log);
    return -1;
}

int t_server_start(test_server *s, const char *name, int port, const char *const *extra) {
    if (name != NULL) {
        memset(s, 0, sizeof(*s));
        snprintf(s->db, sizeof(s->db), "%s/%s.db", t_tmpdir, name);
        snprintf(s->log, sizeof(s->log), "%s/%s.log", t_tmpdir, name);
    }
    if (access(t_orchlogd(), X_OK) != 0) {
        fprintf(stderr, "    orchlogd not found at %s (set ORCHLOGD)\n", t_orchlogd());
        return -1;
    }
    unlink(s->log);
    s->pid = spawn(s, port, extra, 0);
    if (s->pid < 0) return -1;
    return t_server_wait_listening(s, 15000);
}

int t_server_start_delayed(test_server *s, int delay_ms) {
    unlink(s->log);
    s->pid = spawn(s, s->port, NULL, delay_ms);
    return s->pid < 0 ? -1 : 0;
}

void t_server_kill(test_server *s) {
    if (s->pid <= 0) return;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    forget_pid(s->pid);
    s->pid = -1;
}

int t_server_term(test_server *s, int timeout_ms) {
    if (s->pid <= 0) return -1;
    kill(s->pid, SIGTERM);
    return t_server_wait(s, timeout_ms);
}

int t_server_wait(test_server *s, int timeout_ms) {
    if (s->pid <= 0) return -1;
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            forget_pid(s->pid);
            s->pid = -1;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        t_sleep_ms(10);
    }
    t_server_kill(s);
    return -1;
}

static void run_suite(const test_case *tests, int *passed, int *failed) {
    for (int i = 0; tests[i].name != NULL; i++) {
        t_failed = 0;
        alarm(90); /* watchdog: no test may hang */
        tests[i].fn();
        alarm(0);
        if (t_failed) {
            (*failed)++;
            printf("FAIL %s\n", tests[i].name);
        } else {
            (*passed)++;
            printf("ok   %s\n", tests[i].name);
        }
        fflush(stdout);
    }
}

int main(void) {
    signal(SIGALRM, on_alarm);
    signal(SIGPIPE, SIG_IGN);
    snprintf(t_tmpdir, sizeof(t_tmpdir), "/tmp/orchlog-c-test.XXXXXX");
    if (mkdtemp(t_tmpdir) == NULL) {
        perror("mkdtemp");
        printf("0 passed, 1 failed\n");
        return 1;
    }
    printf("orchlogd: %s\ntmp: %s\n", t_orchlogd(), t_tmpdir);
    int passed = 0, failed = 0;
    run_suite(reader_tests, &passed, &failed);
    alarm(30);
    const char *idle[] = {"--idle-timeout-ms", "0", NULL};
    if (t_server_start(&t_shared, "shared", 0, idle) != 0) {
        fprintf(stderr, "could not start the shared server\n");
        t_shared.port = 1; /* live tests fail instead of hanging */
    }
    alarm(0);
    run_suite(live_tests, &passed, &failed);
    t_server_term(&t_shared, 10000);
    for (int i = 0; i < n_pids; i++) {
        if (all_pids[i] <= 0) continue;
        kill(all_pids[i], SIGKILL);
        waitpid(all_pids[i], NULL, 0);
    }
    if (failed == 0) {
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_tmpdir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", t_tmpdir);
    } else {
        printf("server logs kept in %s\n", t_tmpdir);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
