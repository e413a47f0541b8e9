/*
 * test_reader.c - the frame parser without a server, and the context against scripted fake
 * servers that send pings, goaways and bad bytes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <time.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "orchlog.h"
#include "orchlog_private.h"
#include "orchlog_reader.h"
#include "test.h"

/* ---------------------------------------------------------------------------------------- */
/* Helpers                                                                                  */
/* ---------------------------------------------------------------------------------------- */

typedef struct bytes {
    unsigned char *p;
    size_t n;
} bytes;

static void bytes_add(bytes *b, const void *d, size_t n) {
    b->p = realloc(b->p, b->n + n + 1);
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void add_frame(bytes *b, Orchlog__V1__Frame *f) {
    unsigned char *e;
    size_t n;
    if (orchlog_frame_encode(f, ORCHLOG_DEFAULT_MAX_FRAME_BYTES, &e, &n) == ORCHLOG_READER_OK) {
        bytes_add(b, e, n);
        free(e);
    }
}

static void add_end(bytes *b, uint32_t id, int code, const char *msg) {
    Orchlog__V1__Frame f = ORCHLOG__V1__FRAME__INIT;
    Orchlog__V1__CallEnd e = ORCHLOG__V1__CALL_END__INIT;
    e.has_code = 1;
    e.code = (Orchlog__V1__StatusCode)code;
    e.message = (char *)msg;
    f.has_call_id = 1;
    f.call_id = id;
    f.kind_case = ORCHLOG__V1__FRAME__KIND_END;
    f.end = &e;
    add_frame(b, &f);
}

static void add_message(bytes *b, uint32_t id, const void *payload, size_t n) {
    Orchlog__V1__Frame f = ORCHLOG__V1__FRAME__INIT;
    Orchlog__V1__CallMessage m = ORCHLOG__V1__CALL_MESSAGE__INIT;
    m.has_payload = 1;
    m.payload.data = (uint8_t *)payload;
    m.payload.len = n;
    f.has_call_id = 1;
    f.call_id = id;
    f.kind_case = ORCHLOG__V1__FRAME__KIND_MESSAGE;
    f.message = &m;
    add_frame(b, &f);
}

static void add_hello_ack_mfb(bytes *b, uint32_t max_frame_bytes) {
    Orchlog__V1__Frame f = ORCHLOG__V1__FRAME__INIT;
    Orchlog__V1__HelloAck a = ORCHLOG__V1__HELLO_ACK__INIT;
    a.has_protocol_version = 1;
    a.protocol_version = 1;
    a.server_name = "fake/0";
    a.has_max_frame_bytes = 1;
    a.max_frame_bytes = max_frame_bytes;
    f.has_call_id = 1;
    f.kind_case = ORCHLOG__V1__FRAME__KIND_HELLO_ACK;
    f.hello_ack = &a;
    add_frame(b, &f);
}

/* An end with details {"retryable": "true"}. */
static void add_end_retryable(bytes *b, uint32_t id, int code, const char *msg) {
    Orchlog__V1__Frame f = ORCHLOG__V1__FRAME__INIT;
    Orchlog__V1__CallEnd e = ORCHLOG__V1__CALL_END__INIT;
    Orchlog__V1__CallEnd__DetailsEntry d = ORCHLOG__V1__CALL_END__DETAILS_ENTRY__INIT;
    Orchlog__V1__CallEnd__DetailsEntry *dp = &d;
    d.key = "retryable";
    d.value = "true";
    e.has_code = 1;
    e.code = (Orchlog__V1__StatusCode)code;
    e.message = (char *)msg;
    e.n_details = 1;
    e.details = &dp;
    f.has_call_id = 1;
    f.call_id = id;
    f.kind_case = ORCHLOG__V1__FRAME__KIND_END;
    f.end = &e;
    add_frame(b, &f);
}

static void add_hello_ack(bytes *b) {
    Orchlog__V1__Frame f = ORCHLOG__V1__FRAME__INIT;
    Orchlog__V1__HelloAck a = ORCHLOG__V1__HELLO_ACK__INIT;
    a.has_protocol_version = 1;
    a.protocol_version = 1;
    a.server_name = "fake/0";
    a.has_max_frame_bytes = 1;
    a.max_frame_bytes = 65536;
    f.has_call_id = 1;
    f.kind_case = ORCHLOG__V1__FRAME__KIND_HELLO_ACK;
    f.hello_ack = &a;
    add_frame(b, &f);
}

static void add_ping(bytes *b, const char *payload) {
    Orchlog__V1__Frame f = ORCHLOG__V1__FRAME__INIT;
    Orchlog__V1__Ping p = ORCHLOG__V1__PING__INIT;
    p.has_payload = 1;
    p.payload.data = (uint8_t *)payload;
    p.payload.len = strlen(payload);
    f.kind_case = ORCHLOG__V1__FRAME__KIND_PING;
    f.ping = &p;
    add_frame(b, &f);
}

static void add_goaway(bytes *b, int code, const char *msg) {
    Orchlog__V1__Frame f = ORCHLOG__V1__FRAME__INIT;
    Orchlog__V1__GoAway g = ORCHLOG__V1__GO_AWAY__INIT;
    g.has_code = 1;
    g.code = (Orchlog__V1__StatusCode)code;
    g.message = (char *)msg;
    g.has_last_call_id = 1;
    f.has_call_id = 1;
    f.kind_case = ORCHLOG__V1__FRAME__KIND_GOAWAY;
    f.goaway = &g;
    add_frame(b, &f);
}

/* Feeds data in pieces of `step` bytes (0: all at once) and collects the frames' kinds. */
static int parse_kinds(const bytes *b, size_t step, int *kinds, int max, int *err) {
    orchlog_reader *r = orchlog_reader_create();
    int n = 0;
    *err = 0;
    size_t off = 0;
    while (off < b->n && !*err) {
        size_t k = step == 0 ? b->n - off : (b->n - off < step ? b->n - off : step);
        orchlog_reader_feed(r, b->p + off, k);
        off += k;
        Orchlog__V1__Frame *f;
        for (;;) {
            if (orchlog_reader_get_frame(r, &f) != ORCHLOG_READER_OK) {
                *err = 1;
                break;
            }
            if (f == NULL) break;
            if (n < max) kinds[n] = (int)f->kind_case;
            n++;
            orchlog_reader_frame_free(r, f);
        }
    }
    if (!*err && orchlog_reader_buffered(r) != 0) *err = 2;
    orchlog_reader_free(r);
    return n;
}

/* Feeds raw bytes at once; returns the reader (caller frees) after pulling every frame. */
static orchlog_reader *feed_all(const unsigned char *d, size_t n, int *frames) {
    orchlog_reader *r = orchlog_reader_create();
    orchlog_reader_feed(r, d, n);
    *frames = 0;
    Orchlog__V1__Frame *f;
    while (orchlog_reader_get_frame(r, &f) == ORCHLOG_READER_OK && f != NULL) {
        (*frames)++;
        orchlog_reader_frame_free(r, f);
    }
    return r;
}

/* ---------------------------------------------------------------------------------------- */
/* Parser tests                                                                             */
/* ---------------------------------------------------------------------------------------- */

static void test_reader_splits(void) {
    bytes b = {0};
    add_hello_ack(&b);
    add_message(&b, 1, "abc", 3);
    add_message(&b, 1, "", 0); /* an empty payload is still a message */
    add_end(&b, 1, ORCHLOG_OK, NULL);
    add_ping(&b, "xy");
    add_goaway(&b, ORCHLOG_UNAVAILABLE, "bye");
    const int expect[] = {3, 5, 5, 8, 9, 11};
    size_t steps[] = {0, 1, 2, 3, 7, 1000};
    for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
        int kinds[8] = {0}, err;
        int n = parse_kinds(&b, steps[s], kinds, 8, &err);
        if (n != 6 || err) free(b.p);
        CHECK(err == 0);
        CHECK(n == 6);
        for (int i = 0; i < 6; i++) CHECK(kinds[i] == expect[i]);
    }
    free(b.p);
}

static void test_reader_worked_example(void) {
    /* hello_ack and end from PROTOCOL.md section 11. */
    static const unsigned char ack[] = {
        0x00, 0x00, 0x00, 0x1e, 0x08, 0x00, 0x1a, 0x1a, 0x08, 0x01, 0x12, 0x0e, 0x6f, 0x72,
        0x63, 0x68, 0x6c, 0x6f, 0x67, 0x64, 0x2f, 0x30, 0x2e, 0x31, 0x2e, 0x30, 0x18, 0x80,
        0x80, 0x80, 0x02, 0x20, 0x80, 0x08};
    static const unsigned char end[] = {0x00, 0x00, 0x00, 0x06, 0x08, 0x01,
                                        0x42, 0x02, 0x08, 0x00};
    orchlog_reader *r = orchlog_reader_create();
    orchlog_reader_feed(r, ack, sizeof(ack));
    orchlog_reader_feed(r, end, sizeof(end));
    Orchlog__V1__Frame *f = NULL;
    CHECK(orchlog_reader_get_frame(r, &f) == ORCHLOG_READER_OK && f != NULL);
    int ok = f->kind_case == ORCHLOG__V1__FRAME__KIND_HELLO_ACK && f->has_call_id &&
             f->call_id == 0 && f->hello_ack->max_frame_bytes == 4194304 &&
             f->hello_ack->max_concurrent_calls == 1024 &&
             strcmp(f->hello_ack->server_name, "orchlogd/0.1.0") == 0;
    orchlog_reader_frame_free(r, f);
    CHECK(ok);
    CHECK(orchlog_reader_get_frame(r, &f) == ORCHLOG_READER_OK && f != NULL);
    ok = f->kind_case == ORCHLOG__V1__FRAME__KIND_END && f->call_id == 1 && f->end->has_code &&
         f->end->code == 0 && f->end->message == NULL;
    orchlog_reader_frame_free(r, f);
    CHECK(ok);
    CHECK(orchlog_reader_get_frame(r, &f) == ORCHLOG_READER_OK && f == NULL);
    orchlog_reader_free(r);

    /* Encoding the hello of section 11 gives its bytes (call_id sent explicitly). */
    Orchlog__V1__Frame hf = ORCHLOG__V1__FRAME__INIT;
    Orchlog__V1__Hello h = ORCHLOG__V1__HELLO__INIT;
    h.has_protocol_version = 1;
    h.protocol_version = 1;
    h.client_name = "x";
    hf.has_call_id = 1;
    hf.kind_case = ORCHLOG__V1__FRAME__KIND_HELLO;
    hf.hello = &h;
    unsigned char *e;
    size_t n;
    CHECK(orchlog_frame_encode(&hf, 1u << 22, &e, &n) == ORCHLOG_READER_OK);
    static const unsigned char hello[] = {0x00, 0x00, 0x00, 0x09, 0x08, 0x00, 0x12,
                                          0x05, 0x08, 0x01, 0x12, 0x01, 0x78};
    ok = n == sizeof(hello) && memcmp(e, hello, n) == 0;
    free(e);
    CHECK(ok);

    /* The AppendLog start frame of section 11 (97 bytes). */
    Orchlog__V1__LogEntry le = ORCHLOG__V1__LOG_ENTRY__INIT;
    le.orchestration_session_log_id = "0190f3c2-7b1a-7c3e-9a4b-2d5e6f708192";
    le.content = "hi";
    Orchlog__V1__AppendLogRequest ar = ORCHLOG__V1__APPEND_LOG_REQUEST__INIT;
    ar.entry = &le;
    unsigned char req[64];
    size_t rn = orchlog__v1__append_log_request__pack(&ar, req);
    Orchlog__V1__Frame sf = ORCHLOG__V1__FRAME__INIT;
    Orchlog__V1__CallStart cs = ORCHLOG__V1__CALL_START__INIT;
    cs.method = "/orchlog.v1.OrchestrationLog/AppendLog";
    cs.has_timeout_ms = 1;
    cs.timeout_ms = 5000;
    cs.has_request = 1;
    cs.request.data = req;
    cs.request.len = rn;
    sf.has_call_id = 1;
    sf.call_id = 1;
    sf.kind_case = ORCHLOG__V1__FRAME__KIND_START;
    sf.start = &cs;
    CHECK(orchlog_frame_encode(&sf, 1u << 22, &e, &n) == ORCHLOG_READER_OK);
    static const unsigned char head[] = {0x00, 0x00, 0x00, 0x5d, 0x08, 0x01, 0x22, 0x59,
                                         0x0a, 0x26, 0x2f, 0x6f};
    static const unsigned char tail[] = {0x10, 0x88, 0x27, 0x2a, 0x2c, 0x0a, 0x2a, 0x0a, 0x24};
    ok = n == 97 && memcmp(e, head, sizeof(head)) == 0 && memcmp(e + 48, tail, sizeof(tail)) == 0 &&
         memcmp(e + 93, "\x22\x02hi", 4) == 0;
    free(e);
    CHECK(ok);
}

static void test_reader_truncated(void) {
    static const unsigned char end[] = {0x00, 0x00, 0x00, 0x06, 0x08, 0x01,
                                        0x42, 0x02, 0x08, 0x00};
    for (size_t cut = 0; cut < sizeof(end); cut++) {
        int frames;
        orchlog_reader *r = feed_all(end, cut, &frames);
        int ok = frames == 0 && r->err == 0 && orchlog_reader_buffered(r) == cut;
        orchlog_reader_free(r);
        CHECK(ok);
    }
}

static void test_reader_zero_length(void) {
    static const unsigned char z[] = {0, 0, 0, 0, 0x08, 0x01};
    int frames;
    orchlog_reader *r = feed_all(z, sizeof(z), &frames);
    int ok = frames == 0 && r->err && r->code == ORCHLOG_INVALID_ARGUMENT;
    /* The error is sticky. */
    ok = ok && orchlog_reader_feed(r, z, 1) == ORCHLOG_READER_ERR;
    orchlog_reader_free(r);
    CHECK(ok);
}

static void test_reader_huge_length(void) {
    /* Rejected from the 4 prefix bytes alone, without waiting for (or reading) a body. */
    static const unsigned char h[] = {0xff, 0xff, 0xff, 0xff};
    int frames;
    orchlog_reader *r = feed_all(h, sizeof(h), &frames);
    int ok = frames == 0 && r->err && r->code == ORCHLOG_RESOURCE_EXHAUSTED;
    orchlog_reader_free(r);
    CHECK(ok);
    /* One byte over a configured limit. */
    static const unsigned char l[] = {0x00, 0x00, 0x01, 0x01};
    r = orchlog_reader_create();
    r->max_frame_bytes = 256;
    orchlog_reader_feed(r, l, sizeof(l));
    Orchlog__V1__Frame *f;
    ok = orchlog_reader_get_frame(r, &f) == ORCHLOG_READER_ERR && f == NULL;
    orchlog_reader_free(r);
    CHECK(ok);
}

static void test_reader_undecodable(void) {
    static const unsigned char cases[][12] = {
        {0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff},       /* bad varint / tag */
        {0, 0, 0, 4, 0x42, 0x10, 0x08, 0x00},             /* end: length 16 overruns frame */
        {0, 0, 0, 3, 0x08, 0x80, 0x80},                   /* truncated varint */
        {0, 0, 0, 2, 0x08, 0x01},                         /* no kind */
        {0, 0, 0, 7, 0x42, 0x05, 0x12, 0x03, 0x61, 0xff, 0xfe}, /* bad UTF-8 or accepted */
    };
    static const size_t lens[] = {9, 8, 7, 6, 11};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        int frames;
        orchlog_reader *r = feed_all(cases[i], lens[i], &frames);
        /* Either a clean error or (only for the UTF-8 case) a decoded frame; never a crash. */
        int ok = (frames == 0 && r->err && r->code == ORCHLOG_INVALID_ARGUMENT) ||
                 (i == 4 && frames == 1 && r->err == 0);
        if (!ok) fprintf(stderr, "    case %zu: frames %d err %d\n", i, frames, r->err);
        orchlog_reader_free(r);
        CHECK(ok);
    }
}

static void test_reader_random_bytes(void) {
    /* Garbage never crashes or overreads (run under ASan by make test). */
    uint64_t x = 88172645463325252ULL;
    for (int round = 0; round < 2000; round++) {
        unsigned char buf[64];
        size_t n = (size_t)(round % 64) + 1;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = (unsigned char)x;
        }
        if (round % 2) { /* plausible small length prefix */
            buf[0] = buf[1] = buf[2] = 0;
            buf[3] = (unsigned char)(n > 4 ? n - 4 : 1);
        }
        int frames;
        orchlog_reader *r = feed_all(buf, n, &frames);
        orchlog_reader_free(r);
    }
}

static void test_frame_encode_limit(void) {
    Orchlog__V1__Frame f = ORCHLOG__V1__FRAME__INIT;
    Orchlog__V1__CallStart s = ORCHLOG__V1__CALL_START__INIT;
    static unsigned char big[1000];
    s.has_request = 1;
    s.request.data = big;
    s.request.len = sizeof(big);
    f.has_call_id = 1;
    f.call_id = 1;
    f.kind_case = ORCHLOG__V1__FRAME__KIND_START;
    f.start = &s;
    unsigned char *e;
    size_t n;
    CHECK(orchlog_frame_encode(&f, 999, &e, &n) == ORCHLOG_READER_ERR && e == NULL);
    CHECK(orchlog_frame_encode(&f, 2000, &e, &n) == ORCHLOG_READER_OK);
    free(e);
}

static void test_uuid_v7(void) {
    char a[37], b[37];
    orchlog_uuid_v7(a);
    for (int i = 0; i < 1000; i++) {
        orchlog_uuid_v7(b);
        CHECK(strlen(b) == 36);
        CHECK(b[8] == '-' && b[13] == '-' && b[18] == '-' && b[23] == '-');
        CHECK(b[14] == '7');                                       /* version */
        CHECK(b[19] == '8' || b[19] == '9' || b[19] == 'a' || b[19] == 'b'); /* variant 10 */
        CHECK(strcmp(a, b) != 0);
        CHECK(strncmp(a, b, 8) <= 0); /* the time prefix does not go backwards */
        for (int k = 0; k < 36; k++) CHECK(b[k] == '-' || (b[k] >= '0' && b[k] <= '9') ||
                                           (b[k] >= 'a' && b[k] <= 'f'));
    }
}

static void test_status_names(void) {
    CHECK(strcmp(orchlog_status_name(ORCHLOG_OK), "OK") == 0);
    CHECK(strcmp(orchlog_status_name(ORCHLOG_NOT_FOUND), "NOT_FOUND") == 0);
    CHECK(strcmp(orchlog_status_name(ORCHLOG_UNAVAILABLE), "UNAVAILABLE") == 0);
    CHECK(strcmp(orchlog_status_name(ORCHLOG_UNAUTHENTICATED), "UNAUTHENTICATED") == 0);
    CHECK(ORCHLOG_UNAUTHENTICATED == 16 && ORCHLOG_FAILED_PRECONDITION == 9);
    CHECK(strcmp(orchlog_status_name(17), "UNKNOWN_STATUS") == 0);
    CHECK(strcmp(orchlog_status_name(-1), "UNKNOWN_STATUS") == 0);
}

/* ---------------------------------------------------------------------------------------- */
/* Fake servers                                                                             */
/* ---------------------------------------------------------------------------------------- */

typedef int (*fake_script)(int fd, orchlog_reader *r);

/* A kind the client does not know (an unknown field) is skipped, not an error (section 2). */
static void test_reader_unknown_kind_skipped(void) {
    bytes b = {0};
    static const unsigned char unk15[] = {0, 0, 0, 4, 0x7a, 0x02, 0x08, 0x00}; /* field 15 */
    static const unsigned char unk12[] = {0, 0, 0, 4, 0x08, 0x00, 0x62, 0x00}; /* field 12 */
    bytes_add(&b, unk15, sizeof(unk15));
    bytes_add(&b, unk12, sizeof(unk12));
    add_end(&b, 7, ORCHLOG_OK, NULL);
    static const size_t steps[] = {0, 1, 3};
    int ok = 1;
    for (size_t s = 0; s < 3 && ok; s++) {
        int kinds[4] = {0}, err;
        int n = parse_kinds(&b, steps[s], kinds, 4, &err);
        ok = n == 1 && !err && kinds[0] == ORCHLOG__V1__FRAME__KIND_END;
        if (!ok) fprintf(stderr, "    step %zu: %d frames, err %d\n", steps[s], n, err);
    }
    free(b.p);
    CHECK(ok);
}

static int write_all(int fd, const bytes *b) {
    size_t off = 0;
    while (off < b->n) {
        ssize_t n = send(fd, b->p + off, b->n - off, MSG_NOSIGNAL);
        if (n <= 0) return -1;
        off += (size_t)n;
    }
    return 0;
}

/* Reads the next frame from the client (5 s at most); NULL on EOF/timeout/error. */
static Orchlog__V1__Frame *read_frame(int fd, orchlog_reader *r) {
    for (;;) {
        Orchlog__V1__Frame *f;
        if (orchlog_reader_get_frame(r, &f) != ORCHLOG_READER_OK) return NULL;
        if (f != NULL) return f;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 5000) <= 0) return NULL;
        unsigned char buf[4096];
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) return NULL;
        orchlog_reader_feed(r, buf, (size_t)n);
    }
}

/* Reads frames until one of the kind arrives; returns its call id or -1. */
static long expect_kind(int fd, orchlog_reader *r, int kind) {
    for (;;) {
        Orchlog__V1__Frame *f = read_frame(fd, r);
        if (f == NULL) return -1;
        int k = (int)f->kind_case;
        long id = f->call_id;
        orchlog_reader_frame_free(r, f);
        if (k == kind) return id;
    }
}

/* In a fake server: the index of the connection the script is serving (0 = first). */
static int g_fake_conn;

/* Starts a fake server that runs script on each of its first `conns` connections, one after
 * the other. *pid: the child; its exit status is the first non-zero script result. */
static int fake_start_n(fake_script script, int conns, pid_t *pid) {
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t al = sizeof(a);
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(ls, 4) != 0 ||
        getsockname(ls, (struct sockaddr *)&a, &al) != 0) {
        if (ls >= 0) close(ls);
        return -1;
    }
    fflush(NULL);
    *pid = fork();
    if (*pid == 0) {
        alarm(20);
        for (g_fake_conn = 0; g_fake_conn < conns; g_fake_conn++) {
            struct pollfd p = {ls, POLLIN, 0};
            if (poll(&p, 1, 10000) <= 0) _exit(90);
            int fd = accept(ls, NULL, NULL);
            if (g_fake_conn == conns - 1) close(ls); /* later connects are refused */
            if (fd < 0) _exit(91);
            orchlog_reader *r = orchlog_reader_create();
            int rc = script(fd, r);
            /* Wait for the client to close, so it reads everything we sent. */
            struct pollfd q = {fd, POLLIN, 0};
            unsigned char tmp[256];
            while (poll(&q, 1, 3000) > 0 && recv(fd, tmp, sizeof(tmp), 0) > 0) {
            }
            orchlog_reader_free(r);
            close(fd);
            if (rc != 0) _exit(rc);
        }
        _exit(0);
    }
    close(ls);
    return ntohs(a.sin_port);
}

/* Starts a fake server that runs script on its first connection. *pid: the child. */
static int fake_start(fake_script script, pid_t *pid) { return fake_start_n(script, 1, pid); }

static int fake_wait(pid_t pid) {
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static orchlog_ctx *connect_fast(int port) {
    orchlog_options o;
    orchlog_options_init(&o);
    o.call_timeout_ms = 5000;
    o.connect_timeout_ms = 3000;
    o.max_attempts = 2;
    o.initial_backoff_ms = 1;
    o.max_backoff_ms = 5;
    return orchlog_connect("127.0.0.1", port, &o);
}

/* A server ping is answered with the same payload; the call then succeeds. */
static int script_ping(int fd, orchlog_reader *r) {
    bytes b = {0};
    if (expect_kind(fd, r, ORCHLOG__V1__FRAME__KIND_HELLO) < 0) return 1;
    add_hello_ack(&b);
    add_ping(&b, "ab");
    write_all(fd, &b);
    free(b.p);
    int pong = 0;
    long call = -1;
    while (!pong || call < 0) {
        Orchlog__V1__Frame *f = read_frame(fd, r);
        if (f == NULL) return 2;
        if (f->kind_case == ORCHLOG__V1__FRAME__KIND_PONG && f->pong->has_payload &&
            f->pong->payload.len == 2 && memcmp(f->pong->payload.data, "ab", 2) == 0)
            pong = 1;
        if (f->kind_case == ORCHLOG__V1__FRAME__KIND_START) call = f->call_id;
        orchlog_reader_frame_free(r, f);
    }
    /* An unrelated call id first (ignored by the client), then the answer. */
    Orchlog__V1__HealthResponse h = ORCHLOG__V1__HEALTH_RESPONSE__INIT;
    h.status = "SERVING";
    h.version = "fake";
    unsigned char hb[64];
    size_t hn = orchlog__v1__health_response__pack(&h, hb);
    bytes o = {0};
    add_message(&o, 999, hb, hn);
    add_end(&o, 999, ORCHLOG_OK, NULL);
    add_message(&o, (uint32_t)call, hb, hn);
    add_end(&o, (uint32_t)call, ORCHLOG_OK, NULL);
    write_all(fd, &o);
    free(o.p);
    return 0;
}

static void test_fake_ping_pong(void) {
    pid_t pid;
    int port = fake_start(script_ping, &pid);
    CHECK(port > 0);
    orchlog_ctx *c = connect_fast(port);
    int ok = c != NULL && c->err == 0 && c->max_frame_bytes == 65536;
    orchlog_health_info h;
    int st = ok ? orchlog_health(c, &h) : -1;
    ok = ok && st == ORCHLOG_OK && strcmp(h.status, "SERVING") == 0;
    if (!ok && c) fprintf(stderr, "    %s\n", c->errstr);
    orchlog_free(c);
    CHECK(ok);
    CHECK(fake_wait(pid) == 0);
}

/* After the handshake, answer the call with the given raw bytes. */
static const unsigned char *g_reply;
static size_t g_reply_len;
static uint32_t g_reply_mfb; /* max_frame_bytes announced; 0: 65536 */

static int script_reply_raw(int fd, orchlog_reader *r) {
    bytes b = {0};
    if (expect_kind(fd, r, ORCHLOG__V1__FRAME__KIND_HELLO) < 0) return 1;
    if (g_reply_mfb) add_hello_ack_mfb(&b, g_reply_mfb);
    else add_hello_ack(&b);
    write_all(fd, &b);
    free(b.p);
    if (expect_kind(fd, r, ORCHLOG__V1__FRAME__KIND_START) < 0) return 2;
    bytes o = {0};
    bytes_add(&o, g_reply, g_reply_len);
    write_all(fd, &o);
    free(o.p);
    return 0;
}

/* Runs one Health call against a server sending `reply`; checks the context error. */
static int bad_reply_case(const unsigned char *reply, size_t n, int want_err, int want_status) {
    g_reply = reply;
    g_reply_len = n;
    pid_t pid;
    int port = fake_start(script_reply_raw, &pid);
    if (port <= 0) return 0;
    orchlog_ctx *c = connect_fast(port);
    int ok = c != NULL && c->err == 0;
    orchlog_health_info h;
    int st = ok ? orchlog_health(c, &h) : -1;
    ok = ok && st == want_status && c->status == want_status && c->err == want_err &&
         orchlog_test_attempts(c) >= 1;
    if (!ok && c) fprintf(stderr, "    st %d err %d: %s\n", st, c->err, c->errstr);
    orchlog_free(c);
    int child = fake_wait(pid);
    return ok && child == 0;
}

static void test_fake_undecodable_frame(void) {
    static const unsigned char r[] = {0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff};
    CHECK(bad_reply_case(r, sizeof(r), ORCHLOG_ERR_PROTOCOL, ORCHLOG_INTERNAL));
}

static void test_fake_huge_length(void) {
    static const unsigned char r[] = {0x7f, 0xff, 0xff, 0xff, 0x08};
    CHECK(bad_reply_case(r, sizeof(r), ORCHLOG_ERR_PROTOCOL, ORCHLOG_INTERNAL));
}

static void test_fake_zero_length(void) {
    static const unsigned char r[] = {0, 0, 0, 0};
    CHECK(bad_reply_case(r, sizeof(r), ORCHLOG_ERR_PROTOCOL, ORCHLOG_INTERNAL));
}

static void test_fake_server_only_kind(void) {
    /* A `start` frame sent by the server. */
    static const unsigned char r[] = {0, 0, 0, 4, 0x08, 0x01, 0x22, 0x00};
    CHECK(bad_reply_case(r, sizeof(r), ORCHLOG_ERR_PROTOCOL, ORCHLOG_INTERNAL));
}

static void test_fake_truncated_then_eof(void) {
    /* Half a frame, then the server closes: connection lost, retried, then refused. */
    static const unsigned char r[] = {0, 0, 0, 0x10, 0x08, 0x01};
    g_reply = r;
    g_reply_len = sizeof(r);
    pid_t pid;
    int port = fake_start(script_reply_raw, &pid);
    CHECK(port > 0);
    orchlog_ctx *c = connect_fast(port);
    int ok = c != NULL && c->err == 0;
    orchlog_health_info h;
    int st = ok ? orchlog_health(c, &h) : -1;
    ok = ok && st == ORCHLOG_UNAVAILABLE && c->err != 0 && orchlog_test_attempts(c) == 2;
    if (!ok && c) fprintf(stderr, "    st %d err %d: %s\n", st, c->err, c->errstr);
    orchlog_free(c);
    CHECK(ok);
    CHECK(fake_wait(pid) == 0);
}

static int script_goaway_first(int fd, orchlog_reader *r) {
    (void)r;
    bytes b = {0};
    add_goaway(&b, ORCHLOG_RESOURCE_EXHAUSTED, "too many connections");
    write_all(fd, &b);
    free(b.p);
    shutdown(fd, SHUT_WR);
    return 0;
}

static void test_fake_goaway_instead_of_hello_ack(void) {
    pid_t pid;
    int port = fake_start(script_goaway_first, &pid);
    CHECK(port > 0);
    orchlog_ctx *c = connect_fast(port);
    int ok = c != NULL && c->err != 0 && c->status == ORCHLOG_UNAVAILABLE &&
             strstr(c->errstr, "goaway RESOURCE_EXHAUSTED") != NULL;
    if (!ok && c) fprintf(stderr, "    err %d: %s\n", c->err, c->errstr);
    orchlog_free(c);
    CHECK(ok);
    CHECK(fake_wait(pid) == 0);
}

/* A loopback port that was just free: nobody listens on it (0 if none could be found). */
static int unused_port(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof(a);
    int ok = s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
             getsockname(s, (struct sockaddr *)&a, &al) == 0;
    if (s >= 0) close(s);
    return ok ? ntohs(a.sin_port) : 0;
}

static void test_connect_refused(void) {
    int port = unused_port();
    CHECK(port > 0);
    orchlog_ctx *c = connect_fast(port);
    int ok = c != NULL && c->err == ORCHLOG_ERR_IO && c->status == ORCHLOG_UNAVAILABLE;
    orchlog_free(c);
    CHECK(ok);
}

/* ---------------------------------------------------------------------------------------- */
/* Fixes: protocol edge cases against fake servers                                          */
/* ---------------------------------------------------------------------------------------- */

static size_t health_bytes(unsigned char *hb) {
    Orchlog__V1__HealthResponse h = ORCHLOG__V1__HEALTH_RESPONSE__INIT;
    h.status = "SERVING";
    h.version = "fake";
    return orchlog__v1__health_response__pack(&h, hb);
}

/* Answers call id with a SERVING HealthResponse and an OK end. */
static void send_health_answer(int fd, uint32_t id) {
    unsigned char hb[64];
    size_t hn = health_bytes(hb);
    bytes o = {0};
    add_message(&o, id, hb, hn);
    add_end(&o, id, ORCHLOG_OK, NULL);
    write_all(fd, &o);
    free(o.p);
}

/* An unknown frame kind from the server is ignored; the call still succeeds. */
static void test_fake_unknown_kind_ignored(void) {
    unsigned char hb[64];
    size_t hn = health_bytes(hb);
    bytes o = {0};
    static const unsigned char unk[] = {0, 0, 0, 4, 0x08, 0x00, 0x62, 0x00}; /* kind field 12 */
    bytes_add(&o, unk, sizeof(unk));
    add_message(&o, 1, hb, hn);
    add_end(&o, 1, ORCHLOG_OK, NULL);
    int ok = bad_reply_case(o.p, o.n, 0, ORCHLOG_OK);
    free(o.p);
    CHECK(ok);
}

/* Two messages on a unary call: protocol violation, the connection is dropped. */
static void test_fake_unary_two_messages(void) {
    unsigned char hb[64];
    size_t hn = health_bytes(hb);
    bytes o = {0};
    add_message(&o, 1, hb, hn);
    add_message(&o, 1, hb, hn);
    add_end(&o, 1, ORCHLOG_OK, NULL);
    int ok = bad_reply_case(o.p, o.n, ORCHLOG_ERR_PROTOCOL, ORCHLOG_INTERNAL);
    free(o.p);
    CHECK(ok);
}

/* A stream with credit 2 gets 3 messages: protocol violation, the queue stays bounded. */
static int script_stream_overflow(int fd, orchlog_reader *r) {
    bytes b = {0};
    if (expect_kind(fd, r, ORCHLOG__V1__FRAME__KIND_HELLO) < 0) return 1;
    add_hello_ack(&b);
    write_all(fd, &b);
    free(b.p);
    long sid = expect_kind(fd, r, ORCHLOG__V1__FRAME__KIND_START);
    if (sid < 0) return 2;
    Orchlog__V1__LogEntry e = ORCHLOG__V1__LOG_ENTRY__INIT;
    e.orchestration_session_log_id = "0190b6f4-0000-7000-8000-000000000001";
    e.content = "x";
    e.has_seq = 1;
    e.seq = 1;
    unsigned char eb[128];
    size_t en = orchlog__v1__log_entry__pack(&e, eb);
    bytes o = {0};
    for (int i = 0; i < 3; i++) add_message(&o, (uint32_t)sid, eb, en);
    write_all(fd, &o);
    free(o.p);
    long hid = expect_kind(fd, r, ORCHLOG__V1__FRAME__KIND_START);
    if (hid < 0) return 0; /* the client dropped the connection: expected */
    send_health_answer(fd, (uint32_t)hid);
    return 0;
}

static void test_fake_stream_over_credit(void) {
    pid_t pid;
    int port = fake_start(script_stream_overflow, &pid);
    CHECK(port > 0);
    orchlog_options o;
    orchlog_options_init(&o);
    o.call_timeout_ms = 5000;
    o.max_attempts = 1;
    o.stream_credit = 2;
    orchlog_ctx *c = orchlog_connect("127.0.0.1", port, &o);
    int ok = c != NULL && c->err == 0;
    orchlog_stream *s = ok ? orchlog_children_open(c, NULL, 0, 0) : NULL;
    ok = ok && s != NULL && !orchlog_stream_done(s);
    /* The unary call pumps the connection without consuming the stream. */
    orchlog_health_info h;
    int st = ok ? orchlog_health(c, &h) : -1;
    ok = ok && st == ORCHLOG_INTERNAL && c->err == ORCHLOG_ERR_PROTOCOL &&
         orchlog_test_stream_queued(s) <= 2;
    if (!ok && c) fprintf(stderr, "    st %d err %d queued %zu: %s\n", st, c->err,
                          s ? orchlog_test_stream_queued(s) : 0, c->errstr);
    int items = 0;
    orchlog_entry *e;
    while (ok && orchlog_stream_next_timeout(s, &e, NULL, 1000) == ORCHLOG_STREAM_ITEM) {
        orchlog_entry_free(e);
        items++;
    }
    ok = ok && items <= 2 && orchlog_stream_status(s) == ORCHLOG_INTERNAL;
    orchlog_stream_free(s);
    orchlog_free(c);
    CHECK(ok);
    CHECK(fake_wait(pid) == 0);
}

/* hello_ack.max_frame_bytes outside 65536..268435456 is a protocol error. */
static uint32_t g_ack_mfb;

static int script_ack_mfb(int fd, orchlog_reader *r) {
    bytes b = {0};
    if (expect_kind(fd, r, ORCHLOG__V1__FRAME__KIND_HELLO) < 0) return 1;
    add_hello_ack_mfb(&b, g_ack_mfb);
    write_all(fd, &b);
    free(b.p);
    return 0;
}

static int ack_mfb_case(uint32_t mfb, int want_ok) {
    g_ack_mfb = mfb;
    pid_t pid;
    int port = fake_start(script_ack_mfb, &pid);
    if (port <= 0) return 0;
    orchlog_ctx *c = connect_fast(port);
    int ok = c != NULL &&
             (want_ok ? c->err == 0 && c->max_frame_bytes == mfb
                      : c->err == ORCHLOG_ERR_PROTOCOL && c->status == ORCHLOG_INTERNAL &&
                            strstr(c->errstr, "max_frame_bytes") != NULL &&
                            c->max_frame_bytes <= 4194304u);
    if (!ok && c) fprintf(stderr, "    mfb %u: err %d status %d: %s\n", mfb, c->err, c->status,
                          c->errstr);
    orchlog_free(c);
    return ok && fake_wait(pid) == 0;
}

static void test_fake_hello_ack_frame_limit(void) {
    CHECK(ack_mfb_case(65536u, 1));
    CHECK(ack_mfb_case(268435456u, 1));
    CHECK(ack_mfb_case(0u, 0));
    CHECK(ack_mfb_case(65535u, 0));
    CHECK(ack_mfb_case(268435457u, 0));
    CHECK(ack_mfb_case(0xffffffffu, 0));
}

/* A goaway FAILED_PRECONDITION / INVALID_ARGUMENT in place of hello_ack is final. */
static int g_goaway_code;

static int script_goaway_code(int fd, orchlog_reader *r) {
    if (expect_kind(fd, r, ORCHLOG__V1__FRAME__KIND_HELLO) < 0) return 1;
    bytes b = {0};
    add_goaway(&b, g_goaway_code, "unsupported protocol_version 0");
    write_all(fd, &b);
    free(b.p);
    shutdown(fd, SHUT_WR);
    return 0;
}

static int goaway_final_case(int code) {
    g_goaway_code = code;
    pid_t pid;
    int port = fake_start(script_goaway_code, &pid);
    if (port <= 0) return 0;
    orchlog_ctx *c = connect_fast(port);
    int ok = c != NULL && c->err == ORCHLOG_ERR_STATUS && c->status == code &&
             strcmp(c->message, "unsupported protocol_version 0") == 0;
    if (!ok && c) fprintf(stderr, "    code %d: err %d status %d: %s\n", code, c->err,
                          c->status, c->errstr);
    orchlog_free(c);
    return ok && fake_wait(pid) == 0;
}

static void test_fake_goaway_final_in_handshake(void) {
    CHECK(goaway_final_case(ORCHLOG_FAILED_PRECONDITION));
    CHECK(goaway_final_case(ORCHLOG_INVALID_ARGUMENT));
}

/* Handshake, then read the call's start and never answer it. */
static int script_silent_after_start(int fd, orchlog_reader *r) {
    bytes b = {0};
    if (expect_kind(fd, r, ORCHLOG__V1__FRAME__KIND_HELLO) < 0) return 1;
    add_hello_ack(&b);
    write_all(fd, &b);
    free(b.p);
    if (expect_kind(fd, r, ORCHLOG__V1__FRAME__KIND_START) < 0) return 2;
    return 0;
}

/* RESOURCE_EXHAUSTED is retried only with "retryable": "true" in the end's details. */
static int g_re_retryable;

static int script_resource_exhausted(int fd, orchlog_reader *r) {
    bytes b = {0};
    if (expect_kind(fd, r, ORCHLOG__V1__FRAME__KIND_HELLO) < 0) return 1;
    add_hello_ack(&b);
    write_all(fd, &b);
    free(b.p);
    long id = expect_kind(fd, r, ORCHLOG__V1__FRAME__KIND_START);
    if (id < 0) return 2;
    bytes o = {0};
    if (g_re_retryable) add_end_retryable(&o, (uint32_t)id, ORCHLOG_RESOURCE_EXHAUSTED, "too many calls");
    else add_end(&o, (uint32_t)id, ORCHLOG_RESOURCE_EXHAUSTED, "response too large");
    write_all(fd, &o);
    free(o.p);
    if (!g_re_retryable) return 0;
    id = expect_kind(fd, r, ORCHLOG__V1__FRAME__KIND_START);
    if (id < 0) return 3;
    send_health_answer(fd, (uint32_t)id);
    return 0;
}

static int resource_exhausted_case(int retryable) {
    g_re_retryable = retryable;
    pid_t pid;
    int port = fake_start(script_resource_exhausted, &pid);
    if (port <= 0) return 0;
    orchlog_ctx *c = connect_fast(port);
    int ok = c != NULL && c->err == 0;
    orchlog_health_info h;
    int st = ok ? orchlog_health(c, &h) : -1;
    ok = ok && (retryable ? st == ORCHLOG_OK && orchlog_test_attempts(c) == 2
                          : st == ORCHLOG_RESOURCE_EXHAUSTED && c->err == ORCHLOG_ERR_STATUS &&
                                strcmp(c->message, "response too large") == 0 &&
                                orchlog_test_attempts(c) == 1);
    if (!ok && c) fprintf(stderr, "    retryable %d: st %d attempts %u: %s\n", retryable, st,
                          orchlog_test_attempts(c), c->errstr);
    orchlog_free(c);
    return ok && fake_wait(pid) == 0;
}

static void test_fake_resource_exhausted_retry(void) {
    CHECK(resource_exhausted_case(0));
    CHECK(resource_exhausted_case(1));
}

/* Signals (EINTR) while waiting for a reply do not extend the call's deadline. */
static void on_usr1(int sig) { (void)sig; }

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_fake_eintr_keeps_deadline(void) {
    pid_t pid;
    int port = fake_start(script_silent_after_start, &pid); /* never answers the call */
    CHECK(port > 0);
    orchlog_options o;
    orchlog_options_init(&o);
    o.call_timeout_ms = 500;
    o.max_attempts = 1;
    orchlog_ctx *c = orchlog_connect("127.0.0.1", port, &o);
    int ok = c != NULL && c->err == 0;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART */
    sigaction(SIGUSR1, &sa, &old);
    fflush(NULL);
    pid_t parent = getpid();
    pid_t sig = fork();
    if (sig == 0) {
        for (int i = 0; i < 100; i++) { /* 2 s of signals, every 20 ms */
            kill(parent, SIGUSR1);
            usleep(20000);
        }
        _exit(0);
    }
    int64_t t0 = mono_ms();
    orchlog_health_info h;
    int st = ok ? orchlog_health(c, &h) : -1;
    int64_t took = mono_ms() - t0;
    ok = ok && sig > 0 && st == ORCHLOG_DEADLINE_EXCEEDED && took < 1500;
    if (!ok) fprintf(stderr, "    st %d after %lld ms\n", st, (long long)took);
    if (sig > 0) {
        kill(sig, SIGKILL);
        while (waitpid(sig, NULL, 0) < 0 && errno == EINTR) {
        }
    }
    sigaction(SIGUSR1, &old, NULL);
    orchlog_free(c);
    CHECK(ok);
    CHECK(fake_wait(pid) == 0);
}

/* max_backoff_ms = INT_MAX: no overflow (UBSan), and a delay beyond the deadline is not slept. */
static void test_backoff_int_max(void) {
    int port = unused_port();
    CHECK(port > 0);
    orchlog_options o;
    orchlog_options_init(&o);
    o.call_timeout_ms = 200;
    o.connect_timeout_ms = 200;
    o.max_attempts = 2;
    o.initial_backoff_ms = INT_MAX;
    o.max_backoff_ms = INT_MAX;
    orchlog_ctx *c = orchlog_connect("127.0.0.1", port, &o);
    CHECK(c != NULL && c->err == ORCHLOG_ERR_IO);
    int ok = 1;
    for (int i = 0; i < 20 && ok; i++) {
        unsigned before = orchlog_test_attempts(c);
        orchlog_health_info h;
        int st = orchlog_health(c, &h);
        /* The delay is uniform in [0, INT_MAX] ms: beyond the 200 ms deadline, so no retry. */
        ok = st == ORCHLOG_UNAVAILABLE && orchlog_test_attempts(c) == before + 1;
        if (!ok) fprintf(stderr, "    try %d: st %d attempts %u -> %u\n", i, st, before,
                         orchlog_test_attempts(c));
    }
    orchlog_stream *st = ok ? orchlog_children_open(c, NULL, 0, 0) : NULL;
    ok = ok && st != NULL && orchlog_stream_done(st) &&
         orchlog_stream_status(st) == ORCHLOG_UNAVAILABLE;
    orchlog_stream_free(st);
    orchlog_free(c);
    CHECK(ok);
}


/* ---------------------------------------------------------------------------------------- */
/* Decode budget (orchlog_reader.h) and call ids                                            */
/* ---------------------------------------------------------------------------------------- */

/* k copies of the n bytes pat, in one allocation (a realloc per copy is slow under ASan). */
static bytes repeated(const char *pat, size_t n, size_t k) {
    bytes b;
    b.n = n * k;
    b.p = malloc(b.n + 1);
    for (size_t i = 0; i < k; i++) memcpy(b.p + i * n, pat, n);
    return b;
}

static void put_varint(bytes *b, uint64_t v) {
    unsigned char t[10];
    size_t k = 0;
    do {
        t[k] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v) t[k] |= 0x80;
        k++;
    } while (v);
    bytes_add(b, t, k);
}

/* Appends a frame of at most `size` payload bytes on call `id` whose kind (field 8 end, or 4
 * start) is a message of empty map entries (field 3, bytes 1a 00): each of those 2 bytes
 * decodes to a struct, an array slot and a scan record, 64x its size. */
static void add_map_flood(bytes *b, uint32_t id, int kind_field, size_t size) {
    bytes inner = repeated("\x1a\x00", 2, (size - 16) / 2);
    if (kind_field == 8) memcpy(inner.p, "\x08\x05", 2); /* end.code NOT_FOUND first */
    bytes pl = {0};
    bytes_add(&pl, "\x08", 1);
    put_varint(&pl, id);
    put_varint(&pl, (uint64_t)(kind_field << 3 | 2));
    put_varint(&pl, inner.n);
    bytes_add(&pl, inner.p, inner.n);
    unsigned char len[4] = {(unsigned char)(pl.n >> 24), (unsigned char)(pl.n >> 16),
                            (unsigned char)(pl.n >> 8), (unsigned char)pl.n};
    bytes_add(b, len, 4);
    bytes_add(b, pl.p, pl.n);
    free(inner.p);
    free(pl.p);
}

/* Appends a frame of exactly `size` payload bytes: a message on call id whose payload is a
 * LogEntry with one big content string (returns its length via *content_len). */
static void add_big_entry_message(bytes *b, uint32_t id, size_t size, size_t *content_len) {
    Orchlog__V1__LogEntry e = ORCHLOG__V1__LOG_ENTRY__INIT;
    e.orchestration_session_log_id = "0190f3c2-7b1a-7c3e-9a4b-2d5e6f708192";
    size_t cl = size - 64;
    char *content = malloc(size + 1);
    memset(content, 'c', size);
    Orchlog__V1__Frame f = ORCHLOG__V1__FRAME__INIT;
    Orchlog__V1__CallMessage m = ORCHLOG__V1__CALL_MESSAGE__INIT;
    f.has_call_id = 1;
    f.call_id = id;
    f.kind_case = ORCHLOG__V1__FRAME__KIND_MESSAGE;
    f.message = &m;
    m.has_payload = 1;
    unsigned char *pb = NULL;
    for (int tries = 0; tries < 8; tries++) {
        content[cl] = '\0';
        e.content = content;
        free(pb);
        m.payload.len = orchlog__v1__log_entry__get_packed_size(&e);
        pb = malloc(m.payload.len);
        orchlog__v1__log_entry__pack(&e, pb);
        m.payload.data = pb;
        size_t got = orchlog__v1__frame__get_packed_size(&f);
        content[cl] = 'c';
        if (got == size) break;
        cl = cl + size - got;
    }
    add_frame(b, &f);
    *content_len = cl;
    free(pb);
    free(content);
}

/* Hostile frames fail to decode within the budget, with the count back at 0; a legitimate
 * frame of max_frame_bytes with one big field decodes in about its own size. */
static void test_reader_decode_budget(void) {
    const size_t max = ORCHLOG_DEFAULT_MAX_FRAME_BYTES;
    for (int kind = 0; kind < 3; kind++) {
        bytes b = {0};
        if (kind < 2) {
            add_map_flood(&b, 1, kind == 0 ? 8 : 4, max);
        } else { /* only unknown varint fields (field 100): 30x */
            bytes pl = repeated("\xa0\x06\x00", 3, max / 3);
            unsigned char len[4] = {(unsigned char)(pl.n >> 24), (unsigned char)(pl.n >> 16),
                                    (unsigned char)(pl.n >> 8), (unsigned char)pl.n};
            bytes_add(&b, len, 4);
            bytes_add(&b, pl.p, pl.n);
            free(pl.p);
        }
        size_t n = b.n - 4;
        orchlog_reader *r = orchlog_reader_create();
        orchlog_reader_feed(r, b.p, b.n);
        free(b.p);
        Orchlog__V1__Frame *f = NULL;
        int rc = orchlog_reader_get_frame(r, &f);
        char want[128];
        snprintf(want, sizeof(want), "frame of %lu bytes needs more than %lu bytes to decode",
                 (unsigned long)n, (unsigned long)orchlog_decode_budget(n));
        int ok = rc == ORCHLOG_READER_ERR && f == NULL && r->code == ORCHLOG_RESOURCE_EXHAUSTED &&
                 strcmp(r->errstr, want) == 0 && r->budget.used == 0 && r->budget.peak > 0 &&
                 r->budget.peak <= orchlog_decode_budget(n);
        if (!ok)
            fprintf(stderr, "    kind %d: rc %d peak %zu used %zu: %s\n", kind, rc,
                    r->budget.peak, r->budget.used, r->errstr);
        orchlog_reader_frame_free(r, f);
        orchlog_reader_free(r);
        CHECK(ok);
    }
    bytes b = {0};
    size_t cl = 0;
    add_big_entry_message(&b, 1, max, &cl);
    CHECK(b.n == max + 4);
    orchlog_reader *r = orchlog_reader_create();
    orchlog_reader_feed(r, b.p, b.n);
    free(b.p);
    Orchlog__V1__Frame *f = NULL;
    int ok = orchlog_reader_get_frame(r, &f) == ORCHLOG_READER_OK && f != NULL &&
             f->kind_case == ORCHLOG__V1__FRAME__KIND_MESSAGE &&
             f->message->payload.len > cl && r->budget.peak >= max - 64 &&
             r->budget.peak < max + max / 8;
    if (!ok) fprintf(stderr, "    max frame: peak %zu: %s\n", r->budget.peak, r->errstr);
    orchlog_reader_frame_free(r, f);
    ok = ok && r->budget.used == 0;
    orchlog_reader_free(r);
    CHECK(ok);
}

/* A refusal at any allocation of a decode leaves nothing counted or leaked (protobuf-c frees
 * what it built through the same allocator; ASan checks the leaks). */
static void test_budget_refusal_anywhere(void) {
    Orchlog__V1__Frame f = ORCHLOG__V1__FRAME__INIT;
    Orchlog__V1__CallEnd e = ORCHLOG__V1__CALL_END__INIT;
    Orchlog__V1__CallEnd__DetailsEntry d[20];
    Orchlog__V1__CallEnd__DetailsEntry *dp[20];
    for (int i = 0; i < 20; i++) {
        orchlog__v1__call_end__details_entry__init(&d[i]);
        d[i].key = "retryable";
        d[i].value = "true";
        dp[i] = &d[i];
    }
    e.has_code = 1;
    e.code = ORCHLOG__V1__STATUS_CODE__UNAVAILABLE;
    e.message = "a message";
    e.n_details = 20;
    e.details = dp;
    f.has_call_id = 1;
    f.call_id = 9;
    f.kind_case = ORCHLOG__V1__FRAME__KIND_END;
    f.end = &e;
    unsigned char buf[2048];
    size_t n = orchlog__v1__frame__pack(&f, buf);
    orchlog_budget b;
    orchlog_budget_init(&b);
    b.limit = SIZE_MAX;
    Orchlog__V1__Frame *x = orchlog__v1__frame__unpack(&b.base, n, buf);
    CHECK(x != NULL && x->end->n_details == 20);
    orchlog__v1__frame__free_unpacked(x, &b.base);
    size_t need = b.peak;
    CHECK(b.used == 0 && need > n);
    for (size_t limit = 0; limit <= need; limit++) {
        orchlog_budget_init(&b);
        b.limit = limit;
        x = orchlog__v1__frame__unpack(&b.base, n, buf);
        int ok = (limit < need) == (x == NULL) && (x == NULL) == (b.refused != 0);
        orchlog__v1__frame__free_unpacked(x, &b.base);
        ok = ok && b.used == 0;
        if (!ok) fprintf(stderr, "    limit %zu of %zu: used %zu\n", limit, need, b.used);
        CHECK(ok);
    }
}

/* A server frame of ~4 MiB of empty map entries (end.details or start.metadata): the decode
 * stops at its budget and the call fails as a protocol error that says so. */
static int map_flood_case(int kind_field) {
    bytes o = {0};
    add_map_flood(&o, 1, kind_field, ORCHLOG_DEFAULT_MAX_FRAME_BYTES);
    size_t n = o.n - 4;
    g_reply = o.p;
    g_reply_len = o.n;
    g_reply_mfb = ORCHLOG_DEFAULT_MAX_FRAME_BYTES;
    pid_t pid;
    int port = fake_start(script_reply_raw, &pid);
    g_reply_mfb = 0;
    free(o.p);
    if (port <= 0) return 0;
    orchlog_ctx *c = connect_fast(port);
    int ok = c != NULL && c->err == 0;
    orchlog_health_info h;
    int st = ok ? orchlog_health(c, &h) : -1;
    char want[128];
    snprintf(want, sizeof(want),
             "protocol error: frame of %lu bytes needs more than %lu bytes to decode",
             (unsigned long)n, (unsigned long)orchlog_decode_budget(n));
    size_t peak = c != NULL ? orchlog_test_decode_peak(c) : 0;
    ok = ok && st == ORCHLOG_INTERNAL && c->status == ORCHLOG_INTERNAL &&
         c->err == ORCHLOG_ERR_PROTOCOL && strcmp(c->errstr, want) == 0 &&
         orchlog_test_attempts(c) == 1 && peak > 0 && peak <= orchlog_decode_budget(n);
    if (!ok && c)
        fprintf(stderr, "    field %d: st %d err %d peak %zu (budget %zu): %s\n", kind_field, st,
                c->err, peak, orchlog_decode_budget(n), c->errstr);
    orchlog_free(c);
    return fake_wait(pid) == 0 && ok;
}

static void test_fake_map_flood_bounded(void) {
    CHECK(map_flood_case(8)); /* end.details */
    CHECK(map_flood_case(4)); /* start.metadata */
}

/* A response payload inside a valid frame is decoded within its own budget too. */
static void test_fake_payload_over_budget(void) {
    bytes pl = repeated("\xa0\x06\x00", 3, 300000); /* unknown fields */
    bytes o = {0};
    add_message(&o, 1, pl.p, pl.n);
    add_end(&o, 1, ORCHLOG_OK, NULL);
    g_reply = o.p;
    g_reply_len = o.n;
    g_reply_mfb = ORCHLOG_DEFAULT_MAX_FRAME_BYTES;
    pid_t pid;
    int port = fake_start(script_reply_raw, &pid);
    g_reply_mfb = 0;
    free(o.p);
    CHECK(port > 0);
    orchlog_ctx *c = connect_fast(port);
    int ok = c != NULL && c->err == 0;
    orchlog_health_info h;
    int st = ok ? orchlog_health(c, &h) : -1;
    char want[128];
    snprintf(want, sizeof(want), "Health: response of %lu bytes needs more than %lu bytes to decode",
             (unsigned long)pl.n, (unsigned long)orchlog_decode_budget(pl.n));
    size_t budget = orchlog_decode_budget(pl.n);
    free(pl.p);
    ok = ok && st == ORCHLOG_INTERNAL && c->err == ORCHLOG_ERR_PROTOCOL &&
         strcmp(c->errstr, want) == 0 && orchlog_test_decode_peak(c) <= budget;
    if (!ok && c) fprintf(stderr, "    st %d err %d: %s\n", st, c->err, c->errstr);
    orchlog_free(c);
    CHECK(ok);
    CHECK(fake_wait(pid) == 0);
}

/* A GetLog reply in a frame of exactly max_frame_bytes (4 MiB), one big content string. */
static void test_fake_max_frame_decodes(void) {
    bytes o = {0};
    size_t cl = 0;
    add_big_entry_message(&o, 1, ORCHLOG_DEFAULT_MAX_FRAME_BYTES, &cl);
    add_end(&o, 1, ORCHLOG_OK, NULL);
    g_reply = o.p;
    g_reply_len = o.n;
    g_reply_mfb = ORCHLOG_DEFAULT_MAX_FRAME_BYTES;
    pid_t pid;
    int port = fake_start(script_reply_raw, &pid);
    g_reply_mfb = 0;
    free(o.p);
    CHECK(port > 0);
    orchlog_ctx *c = connect_fast(port);
    int ok = c != NULL && c->err == 0;
    orchlog_entry *g = NULL;
    int st = ok ? orchlog_get(c, "0190f3c2-7b1a-7c3e-9a4b-2d5e6f708192", &g) : -1;
    size_t peak = c != NULL ? orchlog_test_decode_peak(c) : 0;
    ok = ok && st == ORCHLOG_OK && g != NULL && g->content != NULL && strlen(g->content) == cl &&
         peak >= cl && peak < cl + cl / 8; /* ~1x */
    if (!ok && c) fprintf(stderr, "    st %d peak %zu content %zu: %s\n", st, peak, cl, c->errstr);
    orchlog_entry_free(g);
    orchlog_free(c);
    CHECK(ok);
    CHECK(fake_wait(pid) == 0);
}


/* The heaviest legitimate shape: an AppendLogs reply of minimal entries (~6x its size to
 * decode, PROTOCOL.md 9.3). The fake echoes each requested id with an order and a seq. */
static int script_batch_echo(int fd, orchlog_reader *r) {
    bytes b = {0};
    if (expect_kind(fd, r, ORCHLOG__V1__FRAME__KIND_HELLO) < 0) return 1;
    add_hello_ack_mfb(&b, ORCHLOG_DEFAULT_MAX_FRAME_BYTES);
    write_all(fd, &b);
    free(b.p);
    Orchlog__V1__Frame *f = read_frame(fd, r);
    if (f == NULL || f->kind_case != ORCHLOG__V1__FRAME__KIND_START) return 2;
    uint32_t id = f->call_id;
    Orchlog__V1__AppendLogsRequest *req = orchlog__v1__append_logs_request__unpack(
        NULL, f->start->request.len, f->start->request.data);
    orchlog_reader_frame_free(r, f);
    if (req == NULL) return 3;
    size_t n = req->n_entries;
    Orchlog__V1__AppendLogResponse *res = calloc(n, sizeof(*res));
    Orchlog__V1__AppendLogResponse **rp = calloc(n, sizeof(*rp));
    Orchlog__V1__LogEntry *es = calloc(n, sizeof(*es));
    for (size_t i = 0; i < n; i++) {
        orchlog__v1__log_entry__init(&es[i]);
        es[i].orchestration_session_log_id = req->entries[i]->orchestration_session_log_id;
        es[i].content = "";
        es[i].has_sibling_order = 1;
        es[i].sibling_order = (int64_t)i + 1;
        es[i].has_seq = 1;
        es[i].seq = i + 1;
        orchlog__v1__append_log_response__init(&res[i]);
        res[i].entry = &es[i];
        res[i].has_created = 1;
        res[i].created = 1;
        rp[i] = &res[i];
    }
    Orchlog__V1__AppendLogsResponse all = ORCHLOG__V1__APPEND_LOGS_RESPONSE__INIT;
    all.n_results = n;
    all.results = rp;
    size_t pn = orchlog__v1__append_logs_response__get_packed_size(&all);
    unsigned char *pb = malloc(pn + 1);
    orchlog__v1__append_logs_response__pack(&all, pb);
    bytes o = {0};
    add_message(&o, id, pb, pn);
    add_end(&o, id, ORCHLOG_OK, NULL);
    int rc = o.n > pn ? 0 : 4; /* add_frame refuses a frame over 4 MiB */
    write_all(fd, &o);
    free(o.p);
    free(pb);
    free(es);
    free(rp);
    free(res);
    orchlog__v1__append_logs_request__free_unpacked(req, NULL);
    return rc;
}

static void test_fake_big_batch_reply_decodes(void) {
    pid_t pid;
    int port = fake_start(script_batch_echo, &pid);
    CHECK(port > 0);
    orchlog_ctx *c = connect_fast(port);
    enum { N = 60000 }; /* a reply of ~3.4 MB */
    orchlog_entry *in = calloc(N, sizeof(*in));
    char(*ids)[37] = calloc(N, sizeof(*ids));
    for (size_t i = 0; i < N; i++) {
        orchlog_uuid_v7(ids[i]);
        in[i].orchestration_session_log_id = ids[i];
        in[i].content = "";
    }
    orchlog_batch_result *res = NULL;
    int ok = c != NULL && c->err == 0;
    int st = ok ? orchlog_append_batch(c, in, N, &res) : -1;
    size_t peak = c != NULL ? orchlog_test_decode_peak(c) : 0;
    ok = ok && st == ORCHLOG_OK && res != NULL && res->n == N &&
         strcmp(res->entries[N - 1]->orchestration_session_log_id, ids[N - 1]) == 0 &&
         res->entries[N - 1]->seq == N && peak > 4u * 50u * N && /* heavy: > 4x */
         peak < orchlog_decode_budget(50u * N);                  /* yet within 16x */
    if (!ok && c) fprintf(stderr, "    st %d peak %zu: %s\n", st, peak, c->errstr);
    orchlog_batch_result_free(res);
    free(in);
    free(ids);
    orchlog_free(c);
    CHECK(ok);
    CHECK(fake_wait(pid) == 0);
}

/* Checks the call ids on the wire: on the first connection 0xfffffffe then 0xffffffff, and the
 * client must leave; on the second, a hello then 1, 2, ... Never 0, never a repeat. */
static int script_call_ids(int fd, orchlog_reader *r) {
    Orchlog__V1__Frame *f = read_frame(fd, r);
    int hello = f != NULL && f->kind_case == ORCHLOG__V1__FRAME__KIND_HELLO;
    orchlog_reader_frame_free(r, f);
    if (!hello) return 1;
    bytes b = {0};
    add_hello_ack(&b);
    write_all(fd, &b);
    free(b.p);
    uint32_t last = 0;
    int n = 0;
    while ((f = read_frame(fd, r)) != NULL) { /* until the client closes */
        int start = f->kind_case == ORCHLOG__V1__FRAME__KIND_START;
        uint32_t id = f->call_id;
        orchlog_reader_frame_free(r, f);
        if (!start) continue;
        if (id == 0 || (n > 0 && id <= last)) {
            fprintf(stderr, "    fake: connection %d: id %lu after %lu\n", g_fake_conn,
                    (unsigned long)id, (unsigned long)last);
            return 10 + g_fake_conn;
        }
        if (n == 0 && id != (g_fake_conn == 0 ? 0xfffffffeu : 1u)) return 20 + g_fake_conn;
        last = id;
        n++;
        send_health_answer(fd, id);
    }
    if (g_fake_conn == 0 && (n != 2 || last != 0xffffffffu)) return 30;
    if (g_fake_conn == 1 && n != 3) return 31;
    return 0;
}

static void test_fake_call_ids_new_connection(void) {
    pid_t pid;
    int port = fake_start_n(script_call_ids, 2, &pid);
    CHECK(port > 0);
    orchlog_ctx *c = connect_fast(port);
    int ok = c != NULL && c->err == 0;
    if (ok) orchlog_test_set_next_call_id(c, 0xfffffffeu);
    static const uint32_t want[] = {0xfffffffeu, 0xffffffffu, 1, 2, 3};
    static const unsigned conns[] = {1, 1, 2, 2, 2};
    for (int i = 0; ok && i < 5; i++) {
        orchlog_health_info h;
        int st = orchlog_health(c, &h);
        ok = st == ORCHLOG_OK && orchlog_test_last_call_id(c) == want[i] &&
             orchlog_test_connections(c) == conns[i];
        if (!ok)
            fprintf(stderr, "    call %d: st %d id %lu connections %u: %s\n", i, st,
                    (unsigned long)orchlog_test_last_call_id(c), orchlog_test_connections(c),
                    c->errstr);
    }
    orchlog_free(c);
    CHECK(ok);
    CHECK(fake_wait(pid) == 0);
}

const test_case reader_tests[] = {
    {"reader: frames fed at once, byte by byte and in pieces", test_reader_splits},
    {"reader: PROTOCOL.md worked example bytes", test_reader_worked_example},
    {"reader: truncated frame waits for more bytes", test_reader_truncated},
    {"reader: zero length is an error", test_reader_zero_length},
    {"reader: huge length rejected from the prefix", test_reader_huge_length},
    {"reader: undecodable payloads are errors", test_reader_undecodable},
    {"reader: random bytes never crash", test_reader_random_bytes},
    {"reader: encode respects max_frame_bytes", test_frame_encode_limit},
    {"uuid: v7 format, version, variant, order", test_uuid_v7},
    {"status names", test_status_names},
    {"fake server: ping answered, foreign call id ignored", test_fake_ping_pong},
    {"fake server: undecodable frame -> protocol error", test_fake_undecodable_frame},
    {"fake server: huge length -> protocol error", test_fake_huge_length},
    {"fake server: zero length -> protocol error", test_fake_zero_length},
    {"fake server: server-only kind check -> protocol error", test_fake_server_only_kind},
    {"fake server: truncated frame then EOF -> UNAVAILABLE after retry", test_fake_truncated_then_eof},
    {"fake server: goaway instead of hello_ack", test_fake_goaway_instead_of_hello_ack},
    {"connect refused", test_connect_refused},
    {"reader: unknown frame kinds are skipped", test_reader_unknown_kind_skipped},
    {"fake server: unknown frame kind ignored", test_fake_unknown_kind_ignored},
    {"fake server: second message on a unary call -> protocol error", test_fake_unary_two_messages},
    {"fake server: stream messages beyond credit -> protocol error", test_fake_stream_over_credit},
    {"fake server: hello_ack max_frame_bytes out of range -> protocol error", test_fake_hello_ack_frame_limit},
    {"fake server: goaway FAILED_PRECONDITION/INVALID_ARGUMENT in handshake is final", test_fake_goaway_final_in_handshake},
    {"fake server: RESOURCE_EXHAUSTED retried only when retryable", test_fake_resource_exhausted_retry},
    {"fake server: EINTR does not extend the deadline", test_fake_eintr_keeps_deadline},
    {"backoff: max_backoff_ms = INT_MAX", test_backoff_int_max},
    {"reader: decode budget refuses map floods, a max-size frame decodes", test_reader_decode_budget},
    {"reader: a budget refusal at any allocation leaves nothing counted", test_budget_refusal_anywhere},
    {"fake server: 4 MiB of empty map entries -> protocol error within budget", test_fake_map_flood_bounded},
    {"fake server: response payload over its decode budget -> protocol error", test_fake_payload_over_budget},
    {"fake server: reply in a frame of exactly max_frame_bytes decodes", test_fake_max_frame_decodes},
    {"fake server: 3.4 MB batch reply of minimal entries (~6x) decodes", test_fake_big_batch_reply_decodes},
    {"fake server: call ids never wrap, a new connection after 2^32-1", test_fake_call_ids_new_connection},
    {NULL, NULL},
};
