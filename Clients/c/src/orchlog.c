/* orchlog.c - connection, calls, retries and streams of the orchlog C client. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1
#endif

#include "orchlog.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "orchlog.pb-c.h"
#include "orchlog_private.h"
#include "orchlog_reader.h"

#define METHOD_PREFIX "/orchlog.v1.OrchestrationLog/"
#define CANCEL_WAIT_MS 5000
/* Range of hello_ack.max_frame_bytes (PROTOCOL.md section 12, --max-frame-bytes). */
#define ORCHLOG_MIN_MAX_FRAME_BYTES 65536u
#define ORCHLOG_MAX_MAX_FRAME_BYTES 268435456u
/* How calls still open on a connection out of call ids end (README, "Connections"). */
#define IDS_USED_UP_MSG "connection retired: its call ids are used up"

/* ------------------------------------------------------------------------------------------ */
/* Private types                                                                              */
/* ------------------------------------------------------------------------------------------ */

typedef struct msgnode {
    struct msgnode *next;
    size_t len;
    unsigned char data[]; /* C99 flexible array member */
} msgnode;

/* One open call: the messages received for it, and its end. */
typedef struct call {
    uint32_t id;
    struct call *next; /* in the context's list of open calls */
    int linked;
    msgnode *head, *tail;
    size_t queued;
    int ended;
    int code;
    int err_kind; /* 0: ended by the server; else ORCHLOG_ERR_* (connection lost, ...) */
    int retryable; /* the end's details say "retryable": "true" (section 8) */
    uint64_t credit; /* messages the server may still send (unary: 1; stream: credit granted) */
    char message[256];
} call;

struct orchlog_ctx_priv {
    char *host;
    int port;
    orchlog_options opts;
    char *client_name;
    char *auth_token;
    int fd;
    int handshaken;
    int draining;     /* no new calls on this connection: goaway UNAVAILABLE, or ids_used_up */
    int ids_used_up;  /* the connection has given out its last call id, 2^32 - 1 */
    orchlog_reader *reader;
    uint32_t next_call_id; /* per connection: 1 after each handshake */
    uint32_t last_call_id;
    size_t decode_peak; /* most a response message's decode held (frames: reader->budget) */
    call *calls;
    uint64_t rng;
    int drop_replies;
    int drop_delay_ms;
    unsigned connections;
    unsigned attempts;
    char last_fail[128]; /* why the connection ended last */
    int last_fail_code;  /* status of that failure */
    int last_fail_kind;  /* ORCHLOG_ERR_* of that failure */
    char goaway_msg[256]; /* message of a final goaway received during the handshake */
    int status_retryable; /* the last call's end carried "retryable": "true" */
};

struct orchlog_stream {
    orchlog_ctx *c;
    call call;
    int is_tree;
    uint32_t window;
    uint32_t consumed; /* messages consumed since the last credit grant */
    uint64_t last_seq;
    int done;
    int status;
    char message[256];
};

/* ------------------------------------------------------------------------------------------ */
/* Small helpers                                                                              */
/* ------------------------------------------------------------------------------------------ */

/* snprintf into a fixed buffer; truncation is intended (messages are informational). */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void fmt_into(char *dst, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, n, fmt, ap);
    va_end(ap);
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline (-1 = no deadline => -1 = forever), never below 0. */
static int remaining_ms(int64_t deadline) {
    if (deadline < 0) return -1;
    int64_t r = deadline - now_ms();
    if (r < 0) return 0;
    if (r > 0x7fffffff) return 0x7fffffff;
    return (int)r;
}

static int64_t min_deadline(int64_t a, int64_t b) {
    if (a < 0) return b;
    if (b < 0) return a;
    return a < b ? a : b;
}

static void sleep_ms(int ms) {
    if (ms <= 0) return;
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void fill_random(void *buf, size_t len) {
    unsigned char *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(p + got, len - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        got += (size_t)n;
    }
    if (got < len) {
        FILE *f = fopen("/dev/urandom", "rb");
        if (f != NULL) {
            got += fread(p + got, 1, len - got, f);
            fclose(f);
        }
    }
    if (got < len) { /* last resort: not cryptographic, but unique enough with the time */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
        for (; got < len; got++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            p[got] = (unsigned char)x;
        }
    }
}

static uint64_t rng_next(struct orchlog_ctx_priv *p) {
    /* xorshift64* */
    uint64_t x = p->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    p->rng = x;
    return x * 2685821657736338717ULL;
}

void orchlog_uuid_v7(char out[37]) {
    unsigned char b[16];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    fill_random(b + 6, 10);
    b[0] = (unsigned char)(ms >> 40);
    b[1] = (unsigned char)(ms >> 32);
    b[2] = (unsigned char)(ms >> 24);
    b[3] = (unsigned char)(ms >> 16);
    b[4] = (unsigned char)(ms >> 8);
    b[5] = (unsigned char)ms;
    b[6] = (unsigned char)(0x70 | (b[6] & 0x0f)); /* version 7 */
    b[8] = (unsigned char)(0x80 | (b[8] & 0x3f)); /* variant 10 */
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}

const char *orchlog_status_name(int code) {
    static const char *const names[] = {
        "OK",        "CANCELLED",         "UNKNOWN",  "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
        "NOT_FOUND", "ALREADY_EXISTS",    "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
        "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
    if (code < 0 || code > 16) return "UNKNOWN_STATUS";
    return names[code];
}

void orchlog_options_init(orchlog_options *o) {
    memset(o, 0, sizeof(*o));
    o->connect_timeout_ms = 5000;
    o->call_timeout_ms = 30000;
    o->stream_wait_ms = 0;
    o->client_name = NULL;
    o->auth_token = NULL;
    o->max_attempts = 10;
    o->initial_backoff_ms = 100;
    o->max_backoff_ms = 5000;
    o->backoff_multiplier = 2.0;
    o->stream_credit = 64;
}

static char *dup_str(const char *s) {
    if (s == NULL) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL) memcpy(d, s, n);
    return d;
}

/* 1 if s is valid UTF-8 (no overlongs, no surrogates, at most U+10FFFF). */
static int utf8_valid(const char *str) {
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        unsigned char b = *s;
        int n;
        uint32_t cp;
        if (b < 0x80) {
            s++;
            continue;
        } else if ((b & 0xe0) == 0xc0) {
            n = 1;
            cp = b & 0x1f;
        } else if ((b & 0xf0) == 0xe0) {
            n = 2;
            cp = b & 0x0f;
        } else if ((b & 0xf8) == 0xf0) {
            n = 3;
            cp = b & 0x07;
        } else {
            return 0;
        }
        for (int i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        s += n + 1;
    }
    return 1;
}

static void ctx_reset_error(orchlog_ctx *c) {
    if (c->priv != NULL) c->priv->status_retryable = 0;
    c->err = 0;
    c->errstr[0] = '\0';
    c->status = ORCHLOG_OK;
    c->message[0] = '\0';
}

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int ctx_set_error(orchlog_ctx *c, int err, int status, const char *fmt, ...) {
    va_list ap;
    c->err = err;
    c->status = status;
    c->message[0] = '\0';
    va_start(ap, fmt);
    vsnprintf(c->errstr, sizeof(c->errstr), fmt, ap);
    va_end(ap);
    return status;
}

/* Copies a call's failure into the context. */
static int ctx_set_from_call(orchlog_ctx *c, const call *cl) {
    if (cl->code == ORCHLOG_OK && cl->err_kind == 0) return ORCHLOG_OK;
    c->status = cl->code;
    c->priv->status_retryable = cl->err_kind == 0 && cl->retryable;
    if (cl->err_kind != 0) {
        c->err = cl->err_kind;
        c->message[0] = '\0';
        fmt_into(c->errstr, sizeof(c->errstr), "%s", cl->message);
    } else {
        c->err = ORCHLOG_ERR_STATUS;
        fmt_into(c->message, sizeof(c->message), "%s", cl->message);
        fmt_into(c->errstr, sizeof(c->errstr), "%s: %s", orchlog_status_name(cl->code),
                 cl->message);
    }
    return cl->code;
}

/* ------------------------------------------------------------------------------------------ */
/* Calls                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static void call_clear_queue(call *cl) {
    msgnode *m = cl->head;
    while (m != NULL) {
        msgnode *n = m->next;
        free(m);
        m = n;
    }
    cl->head = cl->tail = NULL;
    cl->queued = 0;
}

/* Only after conn_ensure, which never leaves a connection without a free id. */
static void call_link(orchlog_ctx *c, call *cl) {
    struct orchlog_ctx_priv *p = c->priv;
    memset(cl, 0, sizeof(*cl));
    cl->id = p->next_call_id++;
    p->last_call_id = cl->id;
    if (p->next_call_id == 0) {
        /* That was the last id: ids must not wrap around (PROTOCOL.md section 4), so the
         * connection retires like a drained one and the next call gets a new connection. */
        p->ids_used_up = 1;
        p->draining = 1;
    }
    cl->next = p->calls;
    p->calls = cl;
    cl->linked = 1;
}

static void call_unlink(orchlog_ctx *c, call *cl) {
    if (!cl->linked) return;
    call **pp = &c->priv->calls;
    while (*pp != NULL) {
        if (*pp == cl) {
            *pp = cl->next;
            break;
        }
        pp = &(*pp)->next;
    }
    cl->next = NULL;
    cl->linked = 0;
}

static call *call_find(orchlog_ctx *c, uint32_t id) {
    for (call *cl = c->priv->calls; cl != NULL; cl = cl->next)
        if (cl->id == id) return cl;
    return NULL;
}

static void call_end(orchlog_ctx *c, call *cl, int code, int err_kind, const char *msg) {
    cl->ended = 1;
    cl->code = code;
    cl->err_kind = err_kind;
    fmt_into(cl->message, sizeof(cl->message), "%s", msg ? msg : "");
    call_unlink(c, cl);
}

/* ------------------------------------------------------------------------------------------ */
/* Connection                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static void conn_close(orchlog_ctx *c) {
    struct orchlog_ctx_priv *p = c->priv;
    if (p->fd >= 0) close(p->fd);
    p->fd = -1;
    p->handshaken = 0;
    p->draining = 0;
    p->ids_used_up = 0;
    /* Kept for the next connection: a frame being dispatched may still be alive, and it must
     * be freed through the reader's budget. */
    if (p->reader != NULL) orchlog_reader_reset(p->reader);
}

/* The connection is gone: every open call ends with code (outcome unknown for them). */
static void conn_fail(orchlog_ctx *c, int code, int err_kind, const char *msg) {
    struct orchlog_ctx_priv *p = c->priv;
    fmt_into(p->last_fail, sizeof(p->last_fail), "%s", msg);
    p->last_fail_code = code;
    p->last_fail_kind = err_kind;
    while (p->calls != NULL) call_end(c, p->calls, code, err_kind, msg);
    conn_close(c);
}

/* Reads what is available (waiting up to timeout_ms, -1 forever) into the reader.
 * Returns 1 if bytes were read, 0 on timeout, -1 if the connection failed (conn_fail done). */
static int io_read_some(orchlog_ctx *c, int timeout_ms) {
    struct orchlog_ctx_priv *p = c->priv;
    unsigned char buf[65536];
    /* After EINTR or a spurious wakeup, wait only for the time left. */
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    for (;;) {
        struct pollfd pfd = {p->fd, POLLIN, 0};
        int pr = poll(&pfd, 1, remaining_ms(deadline));
        if (pr < 0) {
            if (errno == EINTR) continue;
            char m[128];
            fmt_into(m, sizeof(m), "poll: %s", strerror(errno));
            conn_fail(c, ORCHLOG_UNAVAILABLE, ORCHLOG_ERR_IO, m);
            return -1;
        }
        if (pr == 0) return 0;
        ssize_t n = recv(p->fd, buf, sizeof(buf), 0);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
            char m[128];
            fmt_into(m, sizeof(m), "connection lost: %s", strerror(errno));
            conn_fail(c, ORCHLOG_UNAVAILABLE, ORCHLOG_ERR_IO, m);
            return -1;
        }
        if (n == 0) {
            conn_fail(c, ORCHLOG_UNAVAILABLE, ORCHLOG_ERR_EOF, "connection closed by the server");
            return -1;
        }
        if (orchlog_reader_feed(p->reader, buf, (size_t)n) != ORCHLOG_READER_OK) {
            conn_fail(c, ORCHLOG_RESOURCE_EXHAUSTED, ORCHLOG_ERR_OOM, "out of memory");
            return -1;
        }
        return 1;
    }
}

/* Writes all bytes, reading incoming bytes meanwhile (the server may stop reading while its
 * output to us is not drained). Returns 0 or -1 (connection failed, conn_fail done). */
static int io_write_all(orchlog_ctx *c, const unsigned char *b, size_t len, int64_t deadline) {
    struct orchlog_ctx_priv *p = c->priv;
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(p->fd, b + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            char m[128];
            fmt_into(m, sizeof(m), "connection lost: %s", strerror(errno));
            conn_fail(c, ORCHLOG_UNAVAILABLE, ORCHLOG_ERR_IO, m);
            return -1;
        }
        struct pollfd pfd = {p->fd, POLLIN | POLLOUT, 0};
        int t = remaining_ms(deadline);
        int pr = poll(&pfd, 1, t);
        if (pr < 0 && errno == EINTR) continue;
        if (pr == 0) {
            /* A partially written frame cannot be taken back: the connection is unusable. */
            conn_fail(c, ORCHLOG_DEADLINE_EXCEEDED, ORCHLOG_ERR_TIMEOUT, "write timed out");
            return -1;
        }
        if (pr < 0) {
            conn_fail(c, ORCHLOG_UNAVAILABLE, ORCHLOG_ERR_IO, "poll failed");
            return -1;
        }
        if (pfd.revents & POLLIN) {
            if (io_read_some(c, 0) < 0) return -1;
        }
    }
    return 0;
}

/* Sends one frame. 0: sent; -1: connection failed (conn_fail done); -2: frame too large or out
 * of memory (nothing sent, the connection is fine; the context error is set). */
static int send_frame(orchlog_ctx *c, Orchlog__V1__Frame *f, int64_t deadline) {
    unsigned char *b;
    size_t n;
    if (c->priv->fd < 0) return -1;
    size_t payload = orchlog__v1__frame__get_packed_size(f);
    if (payload > c->max_frame_bytes) {
        ctx_set_error(c, ORCHLOG_ERR_OTHER, ORCHLOG_RESOURCE_EXHAUSTED,
                      "frame of %lu bytes exceeds max_frame_bytes %lu", (unsigned long)payload,
                      (unsigned long)c->max_frame_bytes);
        return -2;
    }
    if (orchlog_frame_encode(f, c->max_frame_bytes, &b, &n) != ORCHLOG_READER_OK) {
        ctx_set_error(c, ORCHLOG_ERR_OOM, ORCHLOG_RESOURCE_EXHAUSTED, "out of memory");
        return -2;
    }
    int rc = io_write_all(c, b, n, deadline);
    free(b);
    return rc;
}

static int send_simple(orchlog_ctx *c, uint32_t call_id, int kind, uint32_t credit_n,
                       const ProtobufCBinaryData *payload, int64_t deadline) {
    Orchlog__V1__Frame f = ORCHLOG__V1__FRAME__INIT;
    Orchlog__V1__Credit cr = ORCHLOG__V1__CREDIT__INIT;
    Orchlog__V1__Cancel ca = ORCHLOG__V1__CANCEL__INIT;
    Orchlog__V1__Pong po = ORCHLOG__V1__PONG__INIT;
    f.has_call_id = 1;
    f.call_id = call_id;
    f.kind_case = (Orchlog__V1__Frame__KindCase)kind;
    if (kind == ORCHLOG__V1__FRAME__KIND_CREDIT) {
        cr.has_n = 1;
        cr.n = credit_n;
        f.credit = &cr;
    } else if (kind == ORCHLOG__V1__FRAME__KIND_CANCEL) {
        f.cancel = &ca;
    } else {
        if (payload != NULL) {
            po.has_payload = 1;
            po.payload = *payload;
        }
        f.pong = &po;
    }
    return send_frame(c, &f, deadline);
}

/* Handles one frame from the server. 0, or -1 if the connection ended (conn_fail done). */
static int dispatch(orchlog_ctx *c, Orchlog__V1__Frame *f) {
    struct orchlog_ctx_priv *p = c->priv;
    uint32_t id = f->has_call_id ? f->call_id : 0;
    char m[256];
    switch (f->kind_case) {
    case ORCHLOG__V1__FRAME__KIND_HELLO_ACK:
        if (p->handshaken) {
            conn_fail(c, ORCHLOG_INTERNAL, ORCHLOG_ERR_PROTOCOL, "protocol error: second hello_ack");
            return -1;
        }
        if (f->hello_ack->has_max_frame_bytes &&
            (f->hello_ack->max_frame_bytes < ORCHLOG_MIN_MAX_FRAME_BYTES ||
             f->hello_ack->max_frame_bytes > ORCHLOG_MAX_MAX_FRAME_BYTES)) {
            fmt_into(m, sizeof(m),
                     "protocol error: hello_ack max_frame_bytes %lu outside %lu..%lu",
                     (unsigned long)f->hello_ack->max_frame_bytes,
                     (unsigned long)ORCHLOG_MIN_MAX_FRAME_BYTES,
                     (unsigned long)ORCHLOG_MAX_MAX_FRAME_BYTES);
            conn_fail(c, ORCHLOG_INTERNAL, ORCHLOG_ERR_PROTOCOL, m);
            return -1;
        }
        if (f->hello_ack->has_max_frame_bytes) {
            c->max_frame_bytes = f->hello_ack->max_frame_bytes;
            p->reader->max_frame_bytes = f->hello_ack->max_frame_bytes;
        }
        p->handshaken = 1;
        return 0;
    case ORCHLOG__V1__FRAME__KIND_PING: {
        ProtobufCBinaryData pl = {0, NULL};
        if (f->ping->has_payload) pl = f->ping->payload;
        int rc = send_simple(c, 0, ORCHLOG__V1__FRAME__KIND_PONG, 0, &pl,
                             now_ms() + (p->opts.connect_timeout_ms > 0 ? p->opts.connect_timeout_ms
                                                                        : 5000));
        return rc == -1 ? -1 : 0;
    }
    case ORCHLOG__V1__FRAME__KIND_PONG:
        return 0;
    case ORCHLOG__V1__FRAME__KIND_GOAWAY: {
        int code = f->goaway->has_code ? (int)f->goaway->code : ORCHLOG_OK;
        const char *gm = f->goaway->message ? f->goaway->message : "";
        if (code == ORCHLOG_UNAVAILABLE) {
            /* Draining: open calls still finish; new calls go to a new connection. */
            p->draining = 1;
            return 0;
        }
        fmt_into(m, sizeof(m), "goaway %s: %s", orchlog_status_name(code), gm);
        fmt_into(p->goaway_msg, sizeof(p->goaway_msg), "%s", gm);
        /* The connection ends; abandoned calls have an unknown outcome and are retryable,
         * except for a protocol violation or version mismatch that a retry cannot fix. */
        if (code == ORCHLOG_INVALID_ARGUMENT || code == ORCHLOG_FAILED_PRECONDITION)
            conn_fail(c, code, ORCHLOG_ERR_PROTOCOL, m);
        else if (code == ORCHLOG_UNAUTHENTICATED || code == ORCHLOG_PERMISSION_DENIED)
            conn_fail(c, code, ORCHLOG_ERR_STATUS, m);
        else
            conn_fail(c, ORCHLOG_UNAVAILABLE, ORCHLOG_ERR_EOF, m);
        return -1;
    }
    case ORCHLOG__V1__FRAME__KIND_MESSAGE: {
        call *cl = call_find(c, id);
        if (cl == NULL) return 0; /* a call we gave up on */
        if (cl->credit == 0) {
            /* More messages than a unary call has, or than the stream's credit allows: the
             * server breaks the protocol; do not let the queue grow without bound. */
            fmt_into(m, sizeof(m), "protocol error: message beyond credit on call %lu",
                     (unsigned long)id);
            conn_fail(c, ORCHLOG_INTERNAL, ORCHLOG_ERR_PROTOCOL, m);
            return -1;
        }
        cl->credit--;
        size_t n = f->message->has_payload ? f->message->payload.len : 0;
        msgnode *node = malloc(sizeof(msgnode) + n + 1);
        if (node == NULL) {
            conn_fail(c, ORCHLOG_RESOURCE_EXHAUSTED, ORCHLOG_ERR_OOM, "out of memory");
            return -1;
        }
        node->next = NULL;
        node->len = n;
        if (n > 0) memcpy(node->data, f->message->payload.data, n);
        if (cl->tail) cl->tail->next = node;
        else cl->head = node;
        cl->tail = node;
        cl->queued++;
        return 0;
    }
    case ORCHLOG__V1__FRAME__KIND_END: {
        call *cl = call_find(c, id);
        if (cl == NULL) return 0;
        int code = f->end->has_code ? (int)f->end->code : ORCHLOG_OK;
        for (size_t i = 0; i < f->end->n_details; i++) {
            const Orchlog__V1__CallEnd__DetailsEntry *d = f->end->details[i];
            if (d != NULL && d->key != NULL && d->value != NULL &&
                strcmp(d->key, "retryable") == 0 && strcmp(d->value, "true") == 0)
                cl->retryable = 1;
        }
        call_end(c, cl, code, 0, f->end->message);
        if (p->draining && p->calls == NULL) {
            /* A retiring connection is done once its last call ended (the server half-closes
             * a drained one then). */
            conn_close(c);
            return -1;
        }
        return 0;
    }
    default:
        fmt_into(m, sizeof(m), "protocol error: unexpected frame kind %d from the server",
                 (int)f->kind_case);
        conn_fail(c, ORCHLOG_INTERNAL, ORCHLOG_ERR_PROTOCOL, m);
        return -1;
    }
}

/* Handles one frame, reading if needed until deadline. 0: a frame was handled; 1: timeout;
 * -1: the connection ended (all its calls ended). */
static int pump(orchlog_ctx *c, int64_t deadline) {
    struct orchlog_ctx_priv *p = c->priv;
    for (;;) {
        if (p->fd < 0) return -1;
        Orchlog__V1__Frame *f = NULL;
        if (orchlog_reader_get_frame(p->reader, &f) != ORCHLOG_READER_OK) {
            char m[160];
            fmt_into(m, sizeof(m), "protocol error: %s", p->reader->errstr);
            conn_fail(c, ORCHLOG_INTERNAL, ORCHLOG_ERR_PROTOCOL, m);
            return -1;
        }
        if (f != NULL) {
            int rc = dispatch(c, f);
            orchlog_reader_frame_free(p->reader, f);
            return rc;
        }
        int rc = io_read_some(c, remaining_ms(deadline));
        if (rc == 0) return 1;
        if (rc < 0) return -1;
    }
}

static int set_nonblocking(int fd) {
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl < 0) return -1;
    return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Opens the TCP connection and performs the handshake. Returns a status, error set on ctx. */
static int conn_open(orchlog_ctx *c, int64_t deadline) {
    struct orchlog_ctx_priv *p = c->priv;
    conn_close(c);
    if (p->opts.connect_timeout_ms > 0)
        deadline = min_deadline(deadline, now_ms() + p->opts.connect_timeout_ms);
    char portstr[16];
    fmt_into(portstr, sizeof(portstr), "%d", p->port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int gai = getaddrinfo(p->host, portstr, &hints, &res);
    if (gai != 0)
        return ctx_set_error(c, ORCHLOG_ERR_IO, ORCHLOG_UNAVAILABLE, "getaddrinfo(%s): %s",
                             p->host, gai_strerror(gai));
    int fd = -1;
    char last[96] = "no address";
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            fmt_into(last, sizeof(last), "socket: %s", strerror(errno));
            continue;
        }
        if (set_nonblocking(fd) != 0 || (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
                                          errno != EINPROGRESS)) {
            fmt_into(last, sizeof(last), "connect: %s", strerror(errno));
            close(fd);
            fd = -1;
            continue;
        }
        struct pollfd pfd = {fd, POLLOUT, 0};
        int pr;
        do {
            pr = poll(&pfd, 1, remaining_ms(deadline));
        } while (pr < 0 && errno == EINTR);
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (pr == 0) {
            fmt_into(last, sizeof(last), "connect: timed out");
            soerr = -1;
        } else if (pr < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) {
            fmt_into(last, sizeof(last), "connect: %s", strerror(errno));
            soerr = -1;
        } else if (soerr != 0) {
            fmt_into(last, sizeof(last), "connect: %s", strerror(soerr));
        }
        if (soerr != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return ctx_set_error(c, ORCHLOG_ERR_IO, ORCHLOG_UNAVAILABLE, "%s:%d: %s", p->host,
                             p->port, last);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    if (p->reader == NULL) p->reader = orchlog_reader_create();
    if (p->reader == NULL) {
        close(fd);
        return ctx_set_error(c, ORCHLOG_ERR_OOM, ORCHLOG_RESOURCE_EXHAUSTED, "out of memory");
    }
    p->fd = fd;
    p->next_call_id = 1; /* each connection has its own ids */
    c->max_frame_bytes = ORCHLOG_DEFAULT_MAX_FRAME_BYTES;
    p->reader->max_frame_bytes = c->max_frame_bytes;

    Orchlog__V1__Frame f = ORCHLOG__V1__FRAME__INIT;
    Orchlog__V1__Hello h = ORCHLOG__V1__HELLO__INIT;
    h.has_protocol_version = 1;
    h.protocol_version = ORCHLOG_PROTOCOL_VERSION;
    h.client_name = p->client_name;
    h.auth_token = p->auth_token;
    f.has_call_id = 1;
    f.call_id = 0;
    f.kind_case = ORCHLOG__V1__FRAME__KIND_HELLO;
    f.hello = &h;
    p->last_fail_code = ORCHLOG_OK;
    p->last_fail_kind = 0;
    p->goaway_msg[0] = '\0';
    int rc = send_frame(c, &f, deadline);
    if (rc == -2) {
        conn_close(c);
        return c->status;
    }
    while (rc == 0 && !p->handshaken && !p->draining) {
        int pr = pump(c, deadline);
        if (pr == 1) {
            conn_close(c);
            return ctx_set_error(c, ORCHLOG_ERR_TIMEOUT, ORCHLOG_DEADLINE_EXCEEDED,
                                 "handshake with %s:%d timed out", p->host, p->port);
        }
        if (pr < 0) rc = -1;
    }
    if (rc != 0 || p->fd < 0 || p->draining) {
        if (p->draining) fmt_into(p->last_fail, sizeof(p->last_fail), "server is draining");
        conn_close(c);
        /* A refused token, an unsupported version or a protocol violation is final: report
         * its real code and message, so that it is not retried. */
        if (!p->draining && (p->last_fail_code == ORCHLOG_UNAUTHENTICATED ||
                             p->last_fail_code == ORCHLOG_PERMISSION_DENIED ||
                             p->last_fail_code == ORCHLOG_INVALID_ARGUMENT ||
                             p->last_fail_code == ORCHLOG_FAILED_PRECONDITION)) {
            ctx_set_error(c, ORCHLOG_ERR_STATUS, p->last_fail_code, "handshake with %s:%d: %s",
                          p->host, p->port, p->last_fail);
            fmt_into(c->message, sizeof(c->message), "%s", p->goaway_msg);
            return c->status;
        }
        /* The server broke the protocol (bad hello_ack, undecodable frame): not retried. */
        if (!p->draining && p->last_fail_kind == ORCHLOG_ERR_PROTOCOL)
            return ctx_set_error(c, ORCHLOG_ERR_PROTOCOL, p->last_fail_code,
                                 "handshake with %s:%d: %s", p->host, p->port, p->last_fail);
        return ctx_set_error(c, ORCHLOG_ERR_IO, ORCHLOG_UNAVAILABLE, "handshake with %s:%d: %s",
                             p->host, p->port, p->last_fail);
    }
    p->connections++;
    return ORCHLOG_OK;
}

/* Makes sure there is a usable connection for a new call. Returns a status. */
static int conn_ensure(orchlog_ctx *c, int64_t deadline) {
    struct orchlog_ctx_priv *p = c->priv;
    if (p->fd >= 0 && p->calls == NULL) {
        /* Idle connection: take in what the server may have sent meanwhile (a goaway, EOF). */
        for (;;) {
            struct pollfd pfd = {p->fd, POLLIN, 0};
            if (orchlog_reader_buffered(p->reader) == 0 && poll(&pfd, 1, 0) <= 0) break;
            if (pump(c, 0) != 0) break;
            if (p->fd < 0) break;
        }
        if (p->fd >= 0 && p->draining) conn_close(c);
    }
    if (p->fd >= 0 && p->draining) {
        /* The open calls (e.g. follow streams, which the server ends at once when draining)
         * must end before a new connection can be made: one connection per context. Their
         * frames are queued for them meanwhile. */
        int64_t wait_until = min_deadline(deadline, now_ms() + 1000);
        while (p->fd >= 0 && p->calls != NULL) {
            if (pump(c, wait_until) == 1) break;
        }
        if (p->fd >= 0 && p->calls == NULL) conn_close(c);
    }
    if (p->fd >= 0 && p->ids_used_up) {
        /* Out of ids, the server would keep the remaining calls (a follow stream, a stream
         * nobody reads) open for ever, but they hold the context's only connection: they end
         * as if it was lost (UNAVAILABLE; streams resume with after_seq). */
        conn_fail(c, ORCHLOG_UNAVAILABLE, ORCHLOG_ERR_IO, IDS_USED_UP_MSG);
    }
    if (p->fd >= 0 && p->draining)
        return ctx_set_error(c, ORCHLOG_ERR_IO, ORCHLOG_UNAVAILABLE,
                             "the server is draining this connection while calls are open");
    if (p->fd >= 0) return ORCHLOG_OK;
    return conn_open(c, deadline);
}

/* ------------------------------------------------------------------------------------------ */
/* Context                                                                                    */
/* ------------------------------------------------------------------------------------------ */

orchlog_ctx *orchlog_connect(const char *host, int port, const orchlog_options *opts) {
    orchlog_ctx *c = calloc(1, sizeof(*c));
    if (c == NULL) return NULL;
    c->priv = calloc(1, sizeof(*c->priv));
    if (c->priv == NULL) {
        free(c);
        return NULL;
    }
    struct orchlog_ctx_priv *p = c->priv;
    p->fd = -1;
    if (opts != NULL) p->opts = *opts;
    else orchlog_options_init(&p->opts);
    if (p->opts.max_attempts < 1) p->opts.max_attempts = 1;
    if (p->opts.initial_backoff_ms < 1) p->opts.initial_backoff_ms = 1;
    if (p->opts.max_backoff_ms < p->opts.initial_backoff_ms)
        p->opts.max_backoff_ms = p->opts.initial_backoff_ms;
    if (p->opts.backoff_multiplier < 1.0) p->opts.backoff_multiplier = 1.0;
    if (p->opts.stream_credit < 1) p->opts.stream_credit = 1;
    p->host = dup_str(host ? host : "127.0.0.1");
    p->client_name = dup_str(p->opts.client_name ? p->opts.client_name : "orchlog-c/" ORCHLOG_VERSION);
    p->auth_token = dup_str(p->opts.auth_token);
    p->opts.client_name = NULL;
    p->opts.auth_token = NULL;
    p->port = port;
    p->next_call_id = 1;
    fill_random(&p->rng, sizeof(p->rng));
    if (p->rng == 0) p->rng = 0x9e3779b97f4a7c15ULL;
    c->max_frame_bytes = ORCHLOG_DEFAULT_MAX_FRAME_BYTES;
    if (p->host == NULL || p->client_name == NULL ||
        (opts != NULL && opts->auth_token != NULL && p->auth_token == NULL)) {
        ctx_set_error(c, ORCHLOG_ERR_OOM, ORCHLOG_RESOURCE_EXHAUSTED, "out of memory");
        return c;
    }
    if (!utf8_valid(p->client_name) || (p->auth_token && !utf8_valid(p->auth_token))) {
        /* The server would drop the connection (invalid UTF-8 in hello). */
        ctx_set_error(c, ORCHLOG_ERR_OTHER, ORCHLOG_INVALID_ARGUMENT,
                      "client_name and auth_token must be valid UTF-8");
        return c;
    }
    if (port <= 0 || port > 65535) {
        ctx_set_error(c, ORCHLOG_ERR_OTHER, ORCHLOG_INVALID_ARGUMENT, "invalid port %d", port);
        return c;
    }
    ctx_reset_error(c);
    conn_open(c, -1);
    return c;
}

orchlog_ctx *orchlog_connect_timeout(const char *host, int port, int call_timeout_ms) {
    orchlog_options o;
    orchlog_options_init(&o);
    o.call_timeout_ms = call_timeout_ms;
    return orchlog_connect(host, port, &o);
}

void orchlog_free(orchlog_ctx *c) {
    if (c == NULL) return;
    if (c->priv != NULL) {
        conn_fail(c, ORCHLOG_CANCELLED, ORCHLOG_ERR_OTHER, "context freed");
        orchlog_reader_free(c->priv->reader);
        free(c->priv->host);
        free(c->priv->client_name);
        free(c->priv->auth_token);
        free(c->priv);
    }
    free(c);
}

void orchlog_test_set_next_call_id(orchlog_ctx *c, uint32_t id) {
    c->priv->next_call_id = id != 0 ? id : 1;
}

uint32_t orchlog_test_last_call_id(const orchlog_ctx *c) { return c->priv->last_call_id; }

size_t orchlog_test_decode_peak(const orchlog_ctx *c) {
    const struct orchlog_ctx_priv *p = c->priv;
    size_t frames = p->reader != NULL ? p->reader->budget.peak : 0;
    return frames > p->decode_peak ? frames : p->decode_peak;
}

void orchlog_test_drop_replies(orchlog_ctx *c, int n, int delay_ms) {
    c->priv->drop_replies = n;
    c->priv->drop_delay_ms = delay_ms;
}

unsigned orchlog_test_connections(const orchlog_ctx *c) { return c->priv->connections; }
unsigned orchlog_test_attempts(const orchlog_ctx *c) { return c->priv->attempts; }

int orchlog_test_set_sndbuf(orchlog_ctx *c, int bytes) {
    if (c->priv->fd < 0) return -1;
    return setsockopt(c->priv->fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes)) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------------------------------ */
/* Unary calls with retries                                                                   */
/* ------------------------------------------------------------------------------------------ */

/* Sends start for cl (already linked). 0, -1 (connection failed: cl ended), -2 (local error). */
static int send_start(orchlog_ctx *c, call *cl, const char *rpc, const unsigned char *req,
                      size_t req_len, int64_t deadline, int send_deadline, uint32_t credit) {
    char method[96];
    fmt_into(method, sizeof(method), METHOD_PREFIX "%s", rpc);
    Orchlog__V1__Frame f = ORCHLOG__V1__FRAME__INIT;
    Orchlog__V1__CallStart s = ORCHLOG__V1__CALL_START__INIT;
    s.method = method;
    if (send_deadline && deadline >= 0) {
        int t = remaining_ms(deadline);
        s.has_timeout_ms = 1;
        s.timeout_ms = (uint32_t)(t > 0 ? t : 1);
    }
    if (credit > 0) {
        s.has_initial_credit = 1;
        s.initial_credit = credit;
    }
    s.has_request = 1;
    s.request.len = req_len;
    s.request.data = (uint8_t *)req;
    f.has_call_id = 1;
    f.call_id = cl->id;
    f.kind_case = ORCHLOG__V1__FRAME__KIND_START;
    f.start = &s;
    int rc = send_frame(c, &f, deadline);
    if (rc == -2) call_unlink(c, cl);
    return rc;
}

/* One attempt. On OK, *resp and *resp_len receive the (malloc-ed) response payload. */
static int unary_attempt(orchlog_ctx *c, const char *rpc, const unsigned char *req,
                         size_t req_len, int64_t deadline, unsigned char **resp,
                         size_t *resp_len) {
    struct orchlog_ctx_priv *p = c->priv;
    call cl;
    p->attempts++;
    int st = conn_ensure(c, deadline);
    if (st != ORCHLOG_OK) return st;
    call_link(c, &cl);
    cl.credit = 1; /* a unary call has exactly one response message */
    int rc = send_start(c, &cl, rpc, req, req_len, deadline, 1, 0);
    if (rc == -2) return c->status;
    if (rc == 0 && p->drop_replies > 0) {
        p->drop_replies--;
        sleep_ms(p->drop_delay_ms);
        conn_fail(c, ORCHLOG_UNAVAILABLE, ORCHLOG_ERR_IO, "test hook: reply dropped");
    }
    while (!cl.ended) {
        int pr = pump(c, deadline);
        if (pr < 0 && !cl.ended) call_end(c, &cl, ORCHLOG_UNAVAILABLE, ORCHLOG_ERR_IO, p->last_fail);
        if (pr == 1) {
            /* Local deadline: tell the server and forget the call. */
            send_simple(c, cl.id, ORCHLOG__V1__FRAME__KIND_CANCEL, 0, NULL, now_ms() + 1000);
            call_unlink(c, &cl);
            call_clear_queue(&cl);
            return ctx_set_error(c, ORCHLOG_ERR_TIMEOUT, ORCHLOG_DEADLINE_EXCEEDED,
                                 "%s: deadline exceeded", rpc);
        }
    }
    if (cl.code != ORCHLOG_OK || cl.err_kind != 0) {
        call_clear_queue(&cl);
        return ctx_set_from_call(c, &cl);
    }
    if (cl.head == NULL) {
        return ctx_set_error(c, ORCHLOG_ERR_PROTOCOL, ORCHLOG_INTERNAL,
                             "%s: OK without a response message", rpc);
    }
    /* Hand over the first message's bytes. */
    size_t n = cl.head->len;
    unsigned char *out = malloc(n + 1);
    if (out == NULL) {
        call_clear_queue(&cl);
        return ctx_set_error(c, ORCHLOG_ERR_OOM, ORCHLOG_RESOURCE_EXHAUSTED, "out of memory");
    }
    if (n > 0) memcpy(out, cl.head->data, n);
    call_clear_queue(&cl);
    *resp = out;
    *resp_len = n;
    return ORCHLOG_OK;
}

/* The next backoff delay (full jitter under the capped exponential cap); advances *cap.
 * 64-bit arithmetic: max_backoff_ms may be INT_MAX. */
static int backoff_delay(struct orchlog_ctx_priv *p, double *cap) {
    int64_t ceiling = *cap < (double)p->opts.max_backoff_ms ? (int64_t)*cap
                                                          : (int64_t)p->opts.max_backoff_ms;
    if (ceiling < 0) ceiling = 0;
    int64_t delay = (int64_t)(rng_next(p) % ((uint64_t)ceiling + 1u));
    if (*cap < (double)p->opts.max_backoff_ms) *cap *= p->opts.backoff_multiplier;
    return delay > 0x7fffffff ? 0x7fffffff : (int)delay;
}

static int is_retryable(const orchlog_ctx *c, int idempotent_append) {
    if (c->err == ORCHLOG_ERR_OTHER || c->err == ORCHLOG_ERR_PROTOCOL ||
        c->err == ORCHLOG_ERR_OOM)
        return 0;
    if (c->status == ORCHLOG_UNAVAILABLE) return 1;
    /* RESOURCE_EXHAUSTED only with "retryable": "true" in the end's details (section 8). */
    if (c->status == ORCHLOG_RESOURCE_EXHAUSTED)
        return c->err == ORCHLOG_ERR_STATUS && c->priv->status_retryable;
    if (idempotent_append &&
        (c->status == ORCHLOG_DEADLINE_EXCEEDED || c->status == ORCHLOG_CANCELLED))
        return 1;
    return 0;
}

static int unary_call(orchlog_ctx *c, const char *rpc, const unsigned char *req, size_t req_len,
                      int idempotent_append, unsigned char **resp, size_t *resp_len) {
    struct orchlog_ctx_priv *p = c->priv;
    int64_t deadline = p->opts.call_timeout_ms > 0 ? now_ms() + p->opts.call_timeout_ms : -1;
    double cap = p->opts.initial_backoff_ms;
    for (int attempt = 1;; attempt++) {
        ctx_reset_error(c);
        int st = unary_attempt(c, rpc, req, req_len, deadline, resp, resp_len);
        if (st == ORCHLOG_OK) return ORCHLOG_OK;
        if (attempt >= p->opts.max_attempts || !is_retryable(c, idempotent_append)) return st;
        /* Capped exponential backoff with full jitter. */
        int delay = backoff_delay(p, &cap);
        if (deadline >= 0 && now_ms() + delay >= deadline) return st;
        sleep_ms(delay);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Entries                                                                                    */
/* ------------------------------------------------------------------------------------------ */

void orchlog_entry_free(orchlog_entry *e) {
    if (e == NULL) return;
    free(e->orchestration_session_log_id);
    free(e->category);
    free(e->parent_exec_id);
    free(e->content);
    free(e->elaboration);
    free(e);
}

static orchlog_entry *entry_from_pb(const Orchlog__V1__LogEntry *pe) {
    orchlog_entry *e = calloc(1, sizeof(*e));
    if (e == NULL) return NULL;
    int oom = 0;
#define COPY_STR(f)                                                                           \
    do {                                                                                      \
        if (pe->f != NULL) {                                                                  \
            e->f = dup_str(pe->f);                                                            \
            if (e->f == NULL) oom = 1;                                                        \
        }                                                                                     \
    } while (0)
    COPY_STR(orchestration_session_log_id);
    COPY_STR(category);
    COPY_STR(parent_exec_id);
    COPY_STR(content);
    COPY_STR(elaboration);
#undef COPY_STR
    e->has_sibling_order = pe->has_sibling_order ? 1 : 0;
    e->sibling_order = pe->sibling_order;
    e->has_seq = pe->has_seq ? 1 : 0;
    e->seq = pe->seq;
    if (oom) {
        orchlog_entry_free(e);
        return NULL;
    }
    return e;
}

/* Fills a protobuf LogEntry that borrows the strings of e (id overrides e's id if not NULL). */
static void entry_to_pb(const orchlog_entry *e, const char *id, Orchlog__V1__LogEntry *pe) {
    orchlog__v1__log_entry__init(pe);
    pe->orchestration_session_log_id = (char *)(id ? id : e->orchestration_session_log_id);
    pe->category = e->category;
    pe->parent_exec_id = e->parent_exec_id;
    pe->content = e->content;
    pe->has_sibling_order = e->has_sibling_order ? 1 : 0;
    pe->sibling_order = e->sibling_order;
    pe->elaboration = e->elaboration;
    /* seq is output only */
}

static unsigned char *pack_msg(const ProtobufCMessage *m, size_t *len) {
    size_t n = protobuf_c_message_get_packed_size(m);
    unsigned char *b = malloc(n + 1);
    if (b == NULL) return NULL;
    protobuf_c_message_pack(m, b);
    *len = n;
    return b;
}

/* Packs req and runs it as a unary call of rpc; *resp is the response payload (free it). */
static int call_msg(orchlog_ctx *c, const char *rpc, const ProtobufCMessage *req, int is_append,
                    unsigned char **resp, size_t *resp_len) {
    size_t req_len;
    unsigned char *rb = pack_msg(req, &req_len);
    if (rb == NULL)
        return ctx_set_error(c, ORCHLOG_ERR_OOM, ORCHLOG_RESOURCE_EXHAUSTED, "out of memory");
    int st = unary_call(c, rpc, rb, req_len, is_append, resp, resp_len);
    free(rb);
    return st;
}

/* Starts decoding a response payload of len bytes within the decode budget (see
 * orchlog_reader.h): unpack with &b->base and free_unpacked with it too. */
static ProtobufCAllocator *payload_budget(orchlog_budget *b, size_t len) {
    orchlog_budget_init(b);
    orchlog_budget_start(b, len);
    return &b->base;
}

/* Notes the most a payload's decode has held (a test hook reads it). */
static void payload_done(orchlog_ctx *c, const orchlog_budget *b) {
    if (b->peak > c->priv->decode_peak) c->priv->decode_peak = b->peak;
}

static int bad_response(orchlog_ctx *c, const char *rpc, orchlog_budget *b, size_t len) {
    payload_done(c, b);
    if (b->refused)
        return ctx_set_error(c, ORCHLOG_ERR_PROTOCOL, ORCHLOG_INTERNAL,
                             "%s: response of %lu bytes needs more than %lu bytes to decode", rpc,
                             (unsigned long)len, (unsigned long)orchlog_decode_budget(len));
    if (b->oom)
        return ctx_set_error(c, ORCHLOG_ERR_OOM, ORCHLOG_RESOURCE_EXHAUSTED, "out of memory");
    return ctx_set_error(c, ORCHLOG_ERR_PROTOCOL, ORCHLOG_INTERNAL,
                         "%s: undecodable response message", rpc);
}

int orchlog_append(orchlog_ctx *c, const orchlog_entry *in, orchlog_entry **out, int *created) {
    if (out) *out = NULL;
    if (created) *created = 0;
    ctx_reset_error(c);
    if (in == NULL)
        return ctx_set_error(c, ORCHLOG_ERR_OTHER, ORCHLOG_INVALID_ARGUMENT, "entry: required");
    char idbuf[37];
    const char *id = NULL;
    if (in->orchestration_session_log_id == NULL) {
        orchlog_uuid_v7(idbuf); /* generated once, kept across retries */
        id = idbuf;
    }
    Orchlog__V1__LogEntry pe;
    entry_to_pb(in, id, &pe);
    Orchlog__V1__AppendLogRequest req = ORCHLOG__V1__APPEND_LOG_REQUEST__INIT;
    req.entry = &pe;
    unsigned char *resp = NULL;
    size_t resp_len = 0;
    int st = call_msg(c, "AppendLog", &req.base, 1, &resp, &resp_len);
    if (st != ORCHLOG_OK) return st;
    orchlog_budget b;
    ProtobufCAllocator *a = payload_budget(&b, resp_len);
    Orchlog__V1__AppendLogResponse *r = orchlog__v1__append_log_response__unpack(a, resp_len, resp);
    free(resp);
    if (r == NULL || r->entry == NULL) {
        if (r) orchlog__v1__append_log_response__free_unpacked(r, a);
        return bad_response(c, "AppendLog", &b, resp_len);
    }
    payload_done(c, &b);
    if (created) *created = r->created ? 1 : 0;
    if (out) {
        *out = entry_from_pb(r->entry);
        if (*out == NULL) {
            orchlog__v1__append_log_response__free_unpacked(r, a);
            return ctx_set_error(c, ORCHLOG_ERR_OOM, ORCHLOG_RESOURCE_EXHAUSTED, "out of memory");
        }
    }
    orchlog__v1__append_log_response__free_unpacked(r, a);
    return ORCHLOG_OK;
}

void orchlog_batch_result_free(orchlog_batch_result *r) {
    if (r == NULL) return;
    for (size_t i = 0; i < r->n; i++) orchlog_entry_free(r->entries[i]);
    free(r->entries);
    free(r->created);
    free(r);
}

int orchlog_append_batch(orchlog_ctx *c, const orchlog_entry *entries, size_t n,
                         orchlog_batch_result **out) {
    if (out) *out = NULL;
    ctx_reset_error(c);
    if (entries == NULL && n > 0)
        return ctx_set_error(c, ORCHLOG_ERR_OTHER, ORCHLOG_INVALID_ARGUMENT, "entries: required");
    Orchlog__V1__LogEntry *pes = calloc(n ? n : 1, sizeof(*pes));
    Orchlog__V1__LogEntry **pps = calloc(n ? n : 1, sizeof(*pps));
    char(*ids)[37] = calloc(n ? n : 1, sizeof(*ids));
    if (pes == NULL || pps == NULL || ids == NULL) {
        free(pes);
        free(pps);
        free(ids);
        return ctx_set_error(c, ORCHLOG_ERR_OOM, ORCHLOG_RESOURCE_EXHAUSTED, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const char *id = NULL;
        if (entries[i].orchestration_session_log_id == NULL) {
            orchlog_uuid_v7(ids[i]);
            id = ids[i];
        }
        entry_to_pb(&entries[i], id, &pes[i]);
        pps[i] = &pes[i];
    }
    Orchlog__V1__AppendLogsRequest req = ORCHLOG__V1__APPEND_LOGS_REQUEST__INIT;
    req.n_entries = n;
    req.entries = pps;
    unsigned char *resp = NULL;
    size_t resp_len = 0;
    int st = call_msg(c, "AppendLogs", &req.base, 1, &resp, &resp_len);
    free(pes);
    free(pps);
    free(ids);
    if (st != ORCHLOG_OK) return st;
    orchlog_budget b;
    ProtobufCAllocator *a = payload_budget(&b, resp_len);
    Orchlog__V1__AppendLogsResponse *r =
        orchlog__v1__append_logs_response__unpack(a, resp_len, resp);
    free(resp);
    if (r == NULL) return bad_response(c, "AppendLogs", &b, resp_len);
    payload_done(c, &b);
    if (r->n_results != n) {
        orchlog__v1__append_logs_response__free_unpacked(r, a);
        return ctx_set_error(c, ORCHLOG_ERR_PROTOCOL, ORCHLOG_INTERNAL,
                             "AppendLogs: %lu results for %lu entries",
                             (unsigned long)r->n_results, (unsigned long)n);
    }
    for (size_t i = 0; i < n; i++) {
        if (r->results[i]->entry == NULL) {
            orchlog__v1__append_logs_response__free_unpacked(r, a);
            return bad_response(c, "AppendLogs", &b, resp_len);
        }
    }
    if (out != NULL) {
        orchlog_batch_result *br = calloc(1, sizeof(*br));
        if (br != NULL) {
            br->entries = calloc(n ? n : 1, sizeof(*br->entries));
            br->created = calloc(n ? n : 1, sizeof(*br->created));
        }
        int oom = br == NULL || br->entries == NULL || br->created == NULL;
        for (size_t i = 0; !oom && i < n; i++) {
            br->entries[i] = entry_from_pb(r->results[i]->entry);
            br->created[i] = r->results[i]->created ? 1 : 0;
            br->n = i + 1;
            if (br->entries[i] == NULL) oom = 1;
        }
        if (oom) {
            if (br != NULL) {
                free(br->created);
                br->created = NULL;
                if (br->entries == NULL) br->n = 0;
            }
            orchlog_batch_result_free(br);
            orchlog__v1__append_logs_response__free_unpacked(r, a);
            return ctx_set_error(c, ORCHLOG_ERR_OOM, ORCHLOG_RESOURCE_EXHAUSTED, "out of memory");
        }
        *out = br;
    }
    orchlog__v1__append_logs_response__free_unpacked(r, a);
    return ORCHLOG_OK;
}

int orchlog_get(orchlog_ctx *c, const char *id, orchlog_entry **out) {
    if (out) *out = NULL;
    ctx_reset_error(c);
    Orchlog__V1__GetLogRequest req = ORCHLOG__V1__GET_LOG_REQUEST__INIT;
    req.orchestration_session_log_id = (char *)id;
    unsigned char *resp = NULL;
    size_t resp_len = 0;
    int st = call_msg(c, "GetLog", &req.base, 0, &resp, &resp_len);
    if (st != ORCHLOG_OK) return st;
    orchlog_budget b;
    ProtobufCAllocator *a = payload_budget(&b, resp_len);
    Orchlog__V1__LogEntry *r = orchlog__v1__log_entry__unpack(a, resp_len, resp);
    free(resp);
    if (r == NULL) return bad_response(c, "GetLog", &b, resp_len);
    payload_done(c, &b);
    if (out) {
        *out = entry_from_pb(r);
        if (*out == NULL) {
            orchlog__v1__log_entry__free_unpacked(r, a);
            return ctx_set_error(c, ORCHLOG_ERR_OOM, ORCHLOG_RESOURCE_EXHAUSTED, "out of memory");
        }
    }
    orchlog__v1__log_entry__free_unpacked(r, a);
    return ORCHLOG_OK;
}

int orchlog_health(orchlog_ctx *c, orchlog_health_info *out) {
    ctx_reset_error(c);
    if (out) memset(out, 0, sizeof(*out));
    unsigned char *resp = NULL;
    size_t resp_len = 0;
    static const unsigned char empty[1] = {0};
    int st = unary_call(c, "Health", empty, 0, 0, &resp, &resp_len);
    if (st != ORCHLOG_OK) return st;
    orchlog_budget b;
    ProtobufCAllocator *a = payload_budget(&b, resp_len);
    Orchlog__V1__HealthResponse *r = orchlog__v1__health_response__unpack(a, resp_len, resp);
    free(resp);
    if (r == NULL) return bad_response(c, "Health", &b, resp_len);
    payload_done(c, &b);
    if (out) {
        fmt_into(out->status, sizeof(out->status), "%s", r->status ? r->status : "");
        fmt_into(out->version, sizeof(out->version), "%s", r->version ? r->version : "");
        out->entry_count = r->entry_count;
    }
    orchlog__v1__health_response__free_unpacked(r, a);
    return ORCHLOG_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Streams                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static void stream_finish(orchlog_stream *s, int code, const char *msg) {
    s->done = 1;
    s->status = code;
    fmt_into(s->message, sizeof(s->message), "%s", msg ? msg : "");
}

static orchlog_stream *stream_open(orchlog_ctx *c, const char *rpc, const ProtobufCMessage *req,
                                   int is_tree) {
    struct orchlog_ctx_priv *p = c->priv;
    ctx_reset_error(c);
    orchlog_stream *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        ctx_set_error(c, ORCHLOG_ERR_OOM, ORCHLOG_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    s->c = c;
    s->is_tree = is_tree;
    s->window = p->opts.stream_credit;
    size_t req_len;
    unsigned char *rb = pack_msg(req, &req_len);
    if (rb == NULL) {
        free(s);
        ctx_set_error(c, ORCHLOG_ERR_OOM, ORCHLOG_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    /* Retry only the connection (nothing has been started yet). */
    int64_t deadline = p->opts.call_timeout_ms > 0 ? now_ms() + p->opts.call_timeout_ms : -1;
    double cap = p->opts.initial_backoff_ms;
    int st;
    for (int attempt = 1;; attempt++) {
        ctx_reset_error(c);
        st = conn_ensure(c, deadline);
        if (st == ORCHLOG_OK || attempt >= p->opts.max_attempts || !is_retryable(c, 0)) break;
        int delay = backoff_delay(p, &cap);
        if (deadline >= 0 && now_ms() + delay >= deadline) break;
        sleep_ms(delay);
    }
    if (st != ORCHLOG_OK) {
        free(rb);
        s->call.err_kind = c->err;
        stream_finish(s, st, c->errstr);
        return s;
    }
    call_link(c, &s->call);
    s->call.credit = s->window;
    /* Streams have no server deadline (a follow stream may run forever); the write of the
     * start frame is still bounded. */
    int64_t wd = now_ms() + (p->opts.call_timeout_ms > 0 ? p->opts.call_timeout_ms : 30000);
    int rc = send_start(c, &s->call, rpc, rb, req_len, wd, 0, s->window);
    free(rb);
    if (rc == -2) {
        s->call.err_kind = c->err;
        stream_finish(s, c->status, c->errstr);
        return s;
    }
    /* rc == -1: the call has ended (connection lost); orchlog_stream_next reports it. */
    return s;
}

orchlog_stream *orchlog_children_open(orchlog_ctx *c, const char *parent, uint64_t after_seq,
                                      int follow) {
    Orchlog__V1__StreamChildrenRequest req = ORCHLOG__V1__STREAM_CHILDREN_REQUEST__INIT;
    req.parent_exec_id = (char *)parent;
    if (after_seq > 0) {
        req.has_after_seq = 1;
        req.after_seq = after_seq;
    }
    if (follow) {
        req.has_follow = 1;
        req.follow = 1;
    }
    orchlog_stream *s = stream_open(c, "StreamChildren", &req.base, 0);
    if (s != NULL) s->last_seq = after_seq;
    return s;
}

orchlog_stream *orchlog_tree_open(orchlog_ctx *c, const char *root, uint32_t max_depth) {
    Orchlog__V1__GetTreeRequest req = ORCHLOG__V1__GET_TREE_REQUEST__INIT;
    req.root_id = (char *)root;
    if (max_depth > 0) {
        req.has_max_depth = 1;
        req.max_depth = max_depth;
    }
    return stream_open(c, "GetTree", &req.base, 1);
}

/* Reports the end of s on its context. */
static int stream_report_end(orchlog_stream *s) {
    orchlog_ctx *c = s->c;
    if (s->status != ORCHLOG_OK) {
        c->status = s->status;
        c->err = s->call.err_kind ? s->call.err_kind : ORCHLOG_ERR_STATUS;
        if (c->err == ORCHLOG_ERR_STATUS) {
            fmt_into(c->message, sizeof(c->message), "%s", s->message);
            fmt_into(c->errstr, sizeof(c->errstr), "%s: %s", orchlog_status_name(s->status),
                     s->message);
        } else {
            fmt_into(c->errstr, sizeof(c->errstr), "%s", s->message);
        }
    }
    return ORCHLOG_STREAM_END;
}

int orchlog_stream_next_timeout(orchlog_stream *s, orchlog_entry **entry, uint32_t *depth,
                                int timeout_ms) {
    orchlog_ctx *c = s->c;
    if (entry) *entry = NULL;
    if (depth) *depth = 0;
    ctx_reset_error(c);
    if (s->done) return stream_report_end(s);
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    for (;;) {
        call *cl = &s->call;
        if (cl->head != NULL) {
            msgnode *m = cl->head;
            cl->head = m->next;
            if (cl->head == NULL) cl->tail = NULL;
            cl->queued--;
            orchlog_entry *e = NULL;
            uint32_t d = 0;
            int bad = 0, oom = 0;
            size_t len = m->len;
            orchlog_budget b;
            ProtobufCAllocator *a = payload_budget(&b, len);
            if (s->is_tree) {
                Orchlog__V1__TreeNode *tn = orchlog__v1__tree_node__unpack(a, len, m->data);
                if (tn == NULL || tn->entry == NULL) bad = 1;
                else {
                    e = entry_from_pb(tn->entry);
                    d = tn->depth;
                    oom = e == NULL;
                }
                if (tn) orchlog__v1__tree_node__free_unpacked(tn, a);
            } else {
                Orchlog__V1__LogEntry *le = orchlog__v1__log_entry__unpack(a, len, m->data);
                if (le == NULL) bad = 1;
                else {
                    e = entry_from_pb(le);
                    oom = e == NULL;
                    orchlog__v1__log_entry__free_unpacked(le, a);
                }
            }
            free(m);
            payload_done(c, &b);
            if (bad && b.oom) {
                bad = 0;
                oom = 1;
            }
            if (bad || oom) {
                /* Give up on the stream; the connection itself is fine. */
                if (cl->linked) {
                    send_simple(c, cl->id, ORCHLOG__V1__FRAME__KIND_CANCEL, 0, NULL,
                                now_ms() + 1000);
                    call_unlink(c, cl);
                }
                call_clear_queue(cl);
                cl->err_kind = bad ? ORCHLOG_ERR_PROTOCOL : ORCHLOG_ERR_OOM;
                char msg[128];
                if (bad && b.refused)
                    fmt_into(msg, sizeof(msg),
                             "stream message of %lu bytes needs more than %lu bytes to decode",
                             (unsigned long)len, (unsigned long)orchlog_decode_budget(len));
                else
                    fmt_into(msg, sizeof(msg), "%s",
                             bad ? "undecodable stream message" : "out of memory");
                stream_finish(s, bad ? ORCHLOG_INTERNAL : ORCHLOG_RESOURCE_EXHAUSTED, msg);
                return stream_report_end(s);
            }
            /* Grant more credit once half of the window has been consumed. */
            s->consumed++;
            if (cl->linked && s->consumed >= (s->window + 1) / 2) {
                /* Counted before the send: the server may use it as soon as it is out. A
                 * failed send ends the connection (and the call) anyway. */
                uint64_t before = cl->credit;
                cl->credit += s->consumed;
                if (send_simple(c, cl->id, ORCHLOG__V1__FRAME__KIND_CREDIT, s->consumed, NULL,
                                now_ms() + 5000) == 0)
                    s->consumed = 0;
                else
                    cl->credit = before; /* not granted */
            }
            if (e->has_seq) s->last_seq = e->seq;
            if (entry) *entry = e;
            else orchlog_entry_free(e);
            if (depth) *depth = d;
            return ORCHLOG_STREAM_ITEM;
        }
        if (cl->ended) {
            stream_finish(s, cl->code, cl->message);
            return stream_report_end(s);
        }
        int pr = pump(c, deadline);
        if (pr < 0 && !cl->ended)
            call_end(c, cl, ORCHLOG_UNAVAILABLE, ORCHLOG_ERR_IO, c->priv->last_fail);
        if (pr == 1) return ORCHLOG_STREAM_TIMEOUT;
    }
}

int orchlog_stream_next(orchlog_stream *s, orchlog_entry **entry, uint32_t *depth) {
    int w = s->c->priv->opts.stream_wait_ms;
    return orchlog_stream_next_timeout(s, entry, depth, w > 0 ? w : -1);
}

int orchlog_stream_cancel(orchlog_stream *s) {
    orchlog_ctx *c = s->c;
    if (s->done) return s->status;
    call *cl = &s->call;
    if (cl->linked) {
        int64_t deadline = now_ms() + CANCEL_WAIT_MS;
        if (send_simple(c, cl->id, ORCHLOG__V1__FRAME__KIND_CANCEL, 0, NULL, deadline) == 0) {
            while (!cl->ended) {
                call_clear_queue(cl); /* messages in flight are dropped */
                int pr = pump(c, deadline);
                if (pr == 1) break;
                if (pr < 0 && !cl->ended)
                    call_end(c, cl, ORCHLOG_UNAVAILABLE, ORCHLOG_ERR_IO, c->priv->last_fail);
            }
        }
        if (!cl->ended) call_end(c, cl, ORCHLOG_CANCELLED, 0, "cancelled by the client");
    }
    call_clear_queue(cl);
    stream_finish(s, cl->code, cl->message);
    return s->status;
}

int orchlog_stream_status(const orchlog_stream *s) { return s->done ? s->status : ORCHLOG_OK; }
const char *orchlog_stream_message(const orchlog_stream *s) { return s->message; }
int orchlog_stream_done(const orchlog_stream *s) { return s->done; }
uint64_t orchlog_stream_last_seq(const orchlog_stream *s) { return s->last_seq; }
size_t orchlog_test_stream_queued(const orchlog_stream *s) { return s->call.queued; }

void orchlog_stream_free(orchlog_stream *s) {
    if (s == NULL) return;
    call *cl = &s->call;
    if (cl->linked) {
        /* Fire and forget: frames that still arrive for this call id are ignored. */
        send_simple(s->c, cl->id, ORCHLOG__V1__FRAME__KIND_CANCEL, 0, NULL, now_ms() + 1000);
        call_unlink(s->c, cl);
    }
    call_clear_queue(cl);
    free(s);
}
