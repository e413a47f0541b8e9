/*
 * orchlog.h - C client for orchlogd (orchlog wire protocol version 1).
 *
 * The protocol is described in docs/PROTOCOL.md of the orchlog repository.
 *
 * Conventions (in the spirit of hiredis):
 *  - Every call takes an orchlog_ctx. It returns a status code (ORCHLOG_OK = 0 on success) and
 *    leaves the context usable. On failure c->err is non-zero (an ORCHLOG_ERR_* kind),
 *    c->errstr describes the failure, c->status holds the gRPC status code and c->message the
 *    server's message (empty for local failures). Callers test `c == NULL || c->err`.
 *  - Every object the library returns has a named free function.
 *  - In entries, a NULL pointer or a zero has_ flag means SQL NULL.
 *  - A context is not thread-safe: use it from one thread at a time.
 */
#ifndef ORCHLOG_H
#define ORCHLOG_H

#include <stddef.h>
#include <stdint.h>

#define ORCHLOG_MAJOR 0
#define ORCHLOG_MINOR 1
#define ORCHLOG_PATCH 0
#define ORCHLOG_VERSION "0.1.0"
#define ORCHLOG_VERSION_NUMBER ((ORCHLOG_MAJOR * 10000) + (ORCHLOG_MINOR * 100) + ORCHLOG_PATCH)
/* The wire protocol version this client speaks. */
#define ORCHLOG_PROTOCOL_VERSION 1

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes: gRPC's numbers and names (PROTOCOL.md section 8). */
typedef enum orchlog_status {
    ORCHLOG_OK = 0,
    ORCHLOG_CANCELLED = 1,
    ORCHLOG_UNKNOWN = 2,
    ORCHLOG_INVALID_ARGUMENT = 3,
    ORCHLOG_DEADLINE_EXCEEDED = 4,
    ORCHLOG_NOT_FOUND = 5,
    ORCHLOG_ALREADY_EXISTS = 6,
    ORCHLOG_PERMISSION_DENIED = 7,
    ORCHLOG_RESOURCE_EXHAUSTED = 8,
    ORCHLOG_FAILED_PRECONDITION = 9,
    ORCHLOG_ABORTED = 10,
    ORCHLOG_OUT_OF_RANGE = 11,
    ORCHLOG_UNIMPLEMENTED = 12,
    ORCHLOG_INTERNAL = 13,
    ORCHLOG_UNAVAILABLE = 14,
    ORCHLOG_DATA_LOSS = 15,
    ORCHLOG_UNAUTHENTICATED = 16
} orchlog_status;

/* Name of a status code ("OK", "NOT_FOUND", ...); "UNKNOWN_STATUS" for other numbers. */
const char *orchlog_status_name(int code);

/* Kinds of failure in orchlog_ctx.err (0 = no error). */
#define ORCHLOG_ERR_IO 1       /* socket error or connection lost; status UNAVAILABLE */
#define ORCHLOG_ERR_EOF 3      /* the server closed the connection; status UNAVAILABLE */
#define ORCHLOG_ERR_PROTOCOL 4 /* the server sent bytes that break the protocol; status INTERNAL */
#define ORCHLOG_ERR_OOM 5      /* out of memory; status RESOURCE_EXHAUSTED */
#define ORCHLOG_ERR_TIMEOUT 6  /* a local deadline passed; status DEADLINE_EXCEEDED */
#define ORCHLOG_ERR_STATUS 7   /* the server ended the call with a non-OK status (c->status) */
#define ORCHLOG_ERR_OTHER 2    /* invalid argument given to the library, frame too large, ... */

/*
 * Options of a connection. Start from orchlog_options_init() and change what you need.
 *
 * Retries: a unary call is retried (new connection + hello when the old one is gone) after
 * connection loss, a goaway (except a handshake refused with INVALID_ARGUMENT,
 * FAILED_PRECONDITION, UNAUTHENTICATED or PERMISSION_DENIED, which is final), UNAVAILABLE, or
 * RESOURCE_EXHAUSTED whose end carries the detail "retryable": "true" (too many calls; without
 * it, e.g. a response over the frame limit, RESOURCE_EXHAUSTED is final), and for appends also
 * after DEADLINE_EXCEEDED / CANCELLED, up to max_attempts and within call_timeout_ms. The delay before
 * attempt k+1 is uniform in [0, min(max_backoff_ms, initial_backoff_ms * multiplier^(k-1))]
 * (capped exponential backoff, full jitter). Appends keep their id across attempts, so a retry
 * after a lost reply returns created=0. INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS,
 * FAILED_PRECONDITION and every other code are returned at once.
 */
typedef struct orchlog_options {
    int connect_timeout_ms;    /* TCP connect + hello/hello_ack; default 5000; <= 0: none */
    int call_timeout_ms;       /* deadline of one unary call including its retries, also sent to
                                  the server as timeout_ms; default 30000; <= 0: none */
    int stream_wait_ms;        /* how long orchlog_stream_next() waits for the next item;
                                  default 0 = forever (see orchlog_stream_next_timeout) */
    const char *client_name;   /* informational, sent in hello; may be NULL (copied) */
    const char *auth_token;    /* sent in hello; required by a server run with --auth-token-file
                                  (a wrong one fails with ORCHLOG_UNAUTHENTICATED) (copied) */
    int max_attempts;          /* attempts per unary call, >= 1 (1 = no retries); default 10 */
    int initial_backoff_ms;    /* backoff cap before the 2nd attempt; default 100 */
    int max_backoff_ms;        /* largest backoff cap; default 5000 */
    double backoff_multiplier; /* default 2.0; each delay is uniform in [0, cap] (full jitter) */
    uint32_t stream_credit;    /* request-n credit window of a stream; default 64; >= 1 */
} orchlog_options;

/* Fills *opts with the defaults above. */
void orchlog_options_init(orchlog_options *opts);

/* A connection to orchlogd. Fields are read-only for callers; the rest is private. */
typedef struct orchlog_ctx {
    int err;                 /* 0 or ORCHLOG_ERR_*: the last call failed */
    char errstr[128];        /* human readable description of err */
    int status;              /* gRPC status code of the last call (ORCHLOG_OK on success) */
    char message[256];       /* the server's message for status, truncated; "" if none */
    uint32_t max_frame_bytes; /* announced by the server in hello_ack */
    struct orchlog_ctx_priv *priv;
} orchlog_ctx;

/*
 * Connects to host:port and performs the handshake (hello / hello_ack) once, without retries.
 * opts may be NULL for the defaults. Returns NULL only when out of memory; otherwise check
 * c->err. A failed context must still be released with orchlog_free(). A context whose
 * connection broke later reconnects by itself on the next call.
 */
orchlog_ctx *orchlog_connect(const char *host, int port, const orchlog_options *opts);
/* Convenience: default options with the given call timeout (ms). */
orchlog_ctx *orchlog_connect_timeout(const char *host, int port, int call_timeout_ms);
/* Closes the connection and frees the context. Open streams must be freed before. NULL is ok. */
void orchlog_free(orchlog_ctx *c);

/* One row of orchestration_session_log. NULL pointer / has_ flag 0 = SQL NULL. */
typedef struct orchlog_entry {
    char *orchestration_session_log_id; /* UUID text; NULL in an append: the library makes one */
    char *category;
    char *parent_exec_id;               /* NULL: a root */
    char *content;                      /* required in appends */
    int has_sibling_order;
    int64_t sibling_order;              /* absent in an append: assigned by the server */
    char *elaboration;                  /* JSON text */
    int has_seq;
    uint64_t seq;                       /* output only: the arrival order */
} orchlog_entry;

/* Frees an entry returned by the library (and its strings). NULL is ok. */
void orchlog_entry_free(orchlog_entry *e);

/* Writes a new lower-case UUIDv7 (RFC 9562) into out (37 bytes with the terminating NUL). */
void orchlog_uuid_v7(char out[37]);

/*
 * Appends one entry. If in->orchestration_session_log_id is NULL a UUIDv7 is generated once and
 * kept across retries, so a retry after a lost reply returns created=0 instead of a duplicate.
 * On success *out (if out != NULL) receives the stored entry (free with orchlog_entry_free) and
 * *created (if created != NULL) is 1 if the row was inserted, 0 if it existed already.
 */
int orchlog_append(orchlog_ctx *c, const orchlog_entry *in, orchlog_entry **out, int *created);

/* The result of orchlog_append_batch: one entry and created flag per request entry, in order. */
typedef struct orchlog_batch_result {
    size_t n;
    orchlog_entry **entries;
    int *created;
} orchlog_batch_result;

void orchlog_batch_result_free(orchlog_batch_result *r);

/*
 * Appends n entries atomically (all or nothing). Entries without an id get a generated UUIDv7.
 * A parent may appear earlier in the same batch. On success *out (if out != NULL) receives the
 * result (free with orchlog_batch_result_free).
 */
int orchlog_append_batch(orchlog_ctx *c, const orchlog_entry *entries, size_t n,
                         orchlog_batch_result **out);

/* Reads one entry by id. *out receives it (free with orchlog_entry_free). */
int orchlog_get(orchlog_ctx *c, const char *id, orchlog_entry **out);

/* Health of the server; strings are truncated to fit. */
typedef struct orchlog_health_info {
    char status[32];  /* "SERVING"; treat anything else as not serving */
    char version[32];
    uint64_t entry_count;
} orchlog_health_info;

int orchlog_health(orchlog_ctx *c, orchlog_health_info *out);

/*
 * Streams. An open stream is a call on its context; unary calls and other streams may run on
 * the same context meanwhile (frames are multiplexed by call id and queued per call). A stream
 * asks for at most stream_credit messages ahead (request-n) and grants more as the caller
 * consumes, so its buffer stays bounded. Streams are not retried: if the connection is lost, or
 * retired because its call ids are used up (README), the stream ends with UNAVAILABLE; resume
 * with orchlog_children_open(..., after_seq = orchlog_stream_last_seq(s), ...).
 */
typedef struct orchlog_stream orchlog_stream;

/*
 * StreamChildren: the children of parent (NULL: the roots) with seq > after_seq, in seq order.
 * follow != 0 keeps the stream open for new children. Returns NULL when out of memory; check
 * orchlog_stream_status(s) for a failure to start.
 */
orchlog_stream *orchlog_children_open(orchlog_ctx *c, const char *parent, uint64_t after_seq,
                                      int follow);
/* GetTree: depth-first preorder from root; max_depth 0 = unbounded. */
orchlog_stream *orchlog_tree_open(orchlog_ctx *c, const char *root, uint32_t max_depth);

#define ORCHLOG_STREAM_END 0     /* the stream ended: see orchlog_stream_status() */
#define ORCHLOG_STREAM_ITEM 1    /* *entry (and *depth for trees) were set */
#define ORCHLOG_STREAM_TIMEOUT 2 /* nothing arrived within the wait; the stream is still open */

/*
 * Waits for the next item, up to the context's stream_wait_ms (0 = forever).
 * Returns ORCHLOG_STREAM_ITEM with *entry set (free with orchlog_entry_free) and *depth set
 * (tree streams; 0 for children; depth may be NULL), ORCHLOG_STREAM_END when the stream has
 * ended (orchlog_stream_status(): ORCHLOG_OK = complete), or ORCHLOG_STREAM_TIMEOUT.
 */
int orchlog_stream_next(orchlog_stream *s, orchlog_entry **entry, uint32_t *depth);
/* The same with an explicit wait in ms (< 0: forever). */
int orchlog_stream_next_timeout(orchlog_stream *s, orchlog_entry **entry, uint32_t *depth,
                                int timeout_ms);
/* Cancels the stream and waits (bounded) for its end; the status becomes CANCELLED unless the
 * stream had already ended. Returns the final status. */
int orchlog_stream_cancel(orchlog_stream *s);
/* ORCHLOG_OK while open or after a complete end; the final code otherwise. */
int orchlog_stream_status(const orchlog_stream *s);
/* The server's message of the final status ("" if none). */
const char *orchlog_stream_message(const orchlog_stream *s);
/* 1 once the stream has ended. */
int orchlog_stream_done(const orchlog_stream *s);
/* seq of the last entry returned (0 if none): the after_seq to resume with. */
uint64_t orchlog_stream_last_seq(const orchlog_stream *s);
/* Frees the stream; an open stream is cancelled without waiting. NULL is ok. */
void orchlog_stream_free(orchlog_stream *s);

#ifdef __cplusplus
}
#endif

#endif /* ORCHLOG_H */
