/* test_live.c - tests against a live orchlogd on 127.0.0.1 (port 0, temporary database). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "orchlog.h"
#include "orchlog_private.h"
#include "test.h"

static orchlog_ctx *open_ctx(int port) {
    orchlog_options o;
    orchlog_options_init(&o);
    o.client_name = "orchlog-c-tests";
    o.call_timeout_ms = 10000;
    o.connect_timeout_ms = 3000;
    o.stream_wait_ms = 5000;
    return orchlog_connect("127.0.0.1", port, &o);
}

static int streq(const char *a, const char *b) {
    if (a == NULL || b == NULL) return a == b;
    return strcmp(a, b) == 0;
}

#define CONNECT(c, port)                                                                      \
    orchlog_ctx *c = open_ctx(port);                                                          \
    do {                                                                                      \
        if (c == NULL || c->err) {                                                            \
            fprintf(stderr, "    connect: %s\n", c ? c->errstr : "oom");                      \
            orchlog_free(c);                                                                  \
            t_failed = 1;                                                                     \
            return;                                                                           \
        }                                                                                     \
    } while (0)

static void test_health(void) {
    CONNECT(c, t_shared.port);
    orchlog_health_info h;
    CHECK_OK(c, orchlog_health(c, &h));
    CHECK(strcmp(h.status, "SERVING") == 0);
    CHECK(strcmp(h.version, "0.1.0") == 0);
    CHECK(c->err == 0 && c->status == ORCHLOG_OK);
    CHECK(c->max_frame_bytes == 4194304);
    orchlog_free(c);
}

static void test_append_get(void) {
    CONNECT(c, t_shared.port);
    orchlog_entry in = {0};
    char id[37];
    orchlog_uuid_v7(id);
    for (int i = 0; id[i]; i++) /* upper case on input is normalised */
        if (id[i] >= 'a' && id[i] <= 'f') id[i] = (char)(id[i] - 'a' + 'A');
    in.orchestration_session_log_id = id;
    in.category = "cat";
    in.content = "hello";
    in.elaboration = "{\"a\":1}";
    in.has_sibling_order = 1;
    in.sibling_order = 42;
    orchlog_entry *out = NULL;
    int created = -1;
    CHECK_OK(c, orchlog_append(c, &in, &out, &created));
    CHECK(created == 1);
    int ok = out != NULL && out->has_seq && out->seq > 0 && streq(out->content, "hello") &&
             streq(out->category, "cat") && out->parent_exec_id == NULL &&
             out->has_sibling_order && out->sibling_order == 42 &&
             streq(out->elaboration, "{\"a\":1}");
    char lower[37];
    for (int i = 0; i < 37; i++)
        lower[i] = (char)((id[i] >= 'A' && id[i] <= 'F') ? id[i] - 'A' + 'a' : id[i]);
    ok = ok && streq(out->orchestration_session_log_id, lower);
    uint64_t seq = out ? out->seq : 0;
    orchlog_entry_free(out);
    CHECK(ok);

    orchlog_entry *got = NULL;
    CHECK_OK(c, orchlog_get(c, lower, &got));
    ok = streq(got->orchestration_session_log_id, lower) && streq(got->content, "hello") &&
         got->seq == seq && got->sibling_order == 42;
    orchlog_entry_free(got);
    CHECK(ok);

    /* The same append again: created = 0, same row. */
    CHECK_OK(c, orchlog_append(c, &in, &out, &created));
    ok = created == 0 && out->seq == seq;
    orchlog_entry_free(out);
    CHECK(ok);
    /* Without sibling_order the retry still matches (absent = equal). */
    in.has_sibling_order = 0;
    CHECK_OK(c, orchlog_append(c, &in, NULL, &created));
    CHECK(created == 0);
    orchlog_free(c);
}

static void test_null_fields(void) {
    CONNECT(c, t_shared.port);
    orchlog_entry in = {0};
    in.content = "only content";
    orchlog_entry *a = NULL;
    CHECK_OK(c, orchlog_append(c, &in, &a, NULL));
    orchlog_entry *g = NULL;
    int st = orchlog_get(c, a->orchestration_session_log_id, &g);
    orchlog_entry_free(a);
    CHECK_OK(c, st);
    int ok = g->category == NULL && g->parent_exec_id == NULL && g->elaboration == NULL &&
             g->has_sibling_order && g->sibling_order >= 1 && g->has_seq &&
             streq(g->content, "only content") && strlen(g->orchestration_session_log_id) == 36;
    orchlog_entry_free(g);
    CHECK(ok);

    /* Empty and zero values are values, not NULL. */
    orchlog_entry z = {0};
    z.category = "";
    z.content = "";
    z.elaboration = "null";
    z.has_sibling_order = 1;
    z.sibling_order = 0;
    CHECK_OK(c, orchlog_append(c, &z, &a, NULL));
    st = orchlog_get(c, a->orchestration_session_log_id, &g);
    orchlog_entry_free(a);
    CHECK_OK(c, st);
    ok = streq(g->category, "") && streq(g->content, "") && streq(g->elaboration, "null") &&
         g->has_sibling_order && g->sibling_order == 0;
    orchlog_entry_free(g);
    CHECK(ok);

    /* Negative and large sibling orders round-trip. */
    z.sibling_order = -9000000000000000000LL;
    CHECK_OK(c, orchlog_append(c, &z, &a, NULL));
    ok = a->sibling_order == -9000000000000000000LL;
    orchlog_entry_free(a);
    CHECK(ok);
    orchlog_free(c);
}

static void test_batch(void) {
    CONNECT(c, t_shared.port);
    char p[37], k1[37];
    orchlog_uuid_v7(p);
    orchlog_uuid_v7(k1);
    orchlog_entry e[4];
    memset(e, 0, sizeof(e));
    e[0].orchestration_session_log_id = p;
    e[0].content = "parent";
    e[1].orchestration_session_log_id = k1;
    e[1].parent_exec_id = p; /* parent earlier in the same batch */
    e[1].content = "child 1";
    e[2].parent_exec_id = p;
    e[2].content = "child 2";
    e[2].category = "c";
    e[3].parent_exec_id = k1;
    e[3].content = "grandchild";
    orchlog_batch_result *r = NULL;
    CHECK_OK(c, orchlog_append_batch(c, e, 4, &r));
    int ok = r->n == 4;
    for (size_t i = 0; ok && i < 4; i++) ok = r->created[i] == 1 && r->entries[i]->has_seq;
    ok = ok && streq(r->entries[0]->orchestration_session_log_id, p) &&
         streq(r->entries[1]->parent_exec_id, p) && r->entries[1]->sibling_order == 1 &&
         r->entries[2]->sibling_order == 2 && streq(r->entries[2]->category, "c") &&
         streq(r->entries[3]->parent_exec_id, k1) &&
         r->entries[0]->seq < r->entries[1]->seq && r->entries[1]->seq < r->entries[2]->seq;
    orchlog_batch_result_free(r);
    CHECK(ok);

    /* Empty batch: OK, no results. */
    CHECK_OK(c, orchlog_append_batch(c, NULL, 0, &r));
    ok = r != NULL && r->n == 0;
    orchlog_batch_result_free(r);
    CHECK(ok);

    /* All or nothing: the second entry's parent is missing, so the first is not stored. */
    char n1[37], missing[37];
    orchlog_uuid_v7(n1);
    orchlog_uuid_v7(missing);
    orchlog_entry f[2];
    memset(f, 0, sizeof(f));
    f[0].orchestration_session_log_id = n1;
    f[0].content = "would be rolled back";
    f[1].parent_exec_id = missing;
    f[1].content = "orphan";
    CHECK(orchlog_append_batch(c, f, 2, &r) == ORCHLOG_FAILED_PRECONDITION);
    CHECK(r == NULL && c->err == ORCHLOG_ERR_STATUS);
    CHECK(strncmp(c->message, "entries[1].parent_exec_id", 25) == 0);
    orchlog_entry *g = NULL;
    CHECK(orchlog_get(c, n1, &g) == ORCHLOG_NOT_FOUND && g == NULL);
    orchlog_free(c);
}

static void test_error_statuses(void) {
    CONNECT(c, t_shared.port);
    orchlog_entry in = {0};
    unsigned before = orchlog_test_attempts(c);

    in.orchestration_session_log_id = "not-a-uuid";
    in.content = "x";
    CHECK(orchlog_append(c, &in, NULL, NULL) == ORCHLOG_INVALID_ARGUMENT);
    CHECK(c->err == ORCHLOG_ERR_STATUS && c->status == ORCHLOG_INVALID_ARGUMENT);
    CHECK(strncmp(c->message, "entry.orchestration_session_log_id", 34) == 0);
    CHECK(strstr(c->errstr, "INVALID_ARGUMENT") != NULL);

    /* content absent */
    orchlog_entry nc = {0};
    CHECK(orchlog_append(c, &nc, NULL, NULL) == ORCHLOG_INVALID_ARGUMENT);
    CHECK(strncmp(c->message, "entry.content", 13) == 0);

    /* invalid JSON elaboration */
    orchlog_entry bj = {0};
    bj.content = "x";
    bj.elaboration = "{nope";
    CHECK(orchlog_append(c, &bj, NULL, NULL) == ORCHLOG_INVALID_ARGUMENT);

    char missing[37];
    orchlog_uuid_v7(missing);
    orchlog_entry orphan = {0};
    orphan.parent_exec_id = missing;
    orphan.content = "orphan";
    CHECK(orchlog_append(c, &orphan, NULL, NULL) == ORCHLOG_FAILED_PRECONDITION);
    CHECK(c->status == ORCHLOG_FAILED_PRECONDITION);

    char id[37];
    orchlog_uuid_v7(id);
    orchlog_entry a = {0};
    a.orchestration_session_log_id = id;
    a.content = "hi";
    CHECK_OK(c, orchlog_append(c, &a, NULL, NULL));
    CHECK(c->err == 0);
    a.content = "ho";
    CHECK(orchlog_append(c, &a, NULL, NULL) == ORCHLOG_ALREADY_EXISTS);
    CHECK(c->status == ORCHLOG_ALREADY_EXISTS);

    orchlog_entry *g = NULL;
    CHECK(orchlog_get(c, missing, &g) == ORCHLOG_NOT_FOUND && g == NULL);
    CHECK(c->status == ORCHLOG_NOT_FOUND && c->err == ORCHLOG_ERR_STATUS);
    CHECK(orchlog_get(c, "{bad}", &g) == ORCHLOG_INVALID_ARGUMENT);
    CHECK(orchlog_get(c, NULL, &g) == ORCHLOG_INVALID_ARGUMENT);

    /* Invalid UTF-8 in a request field: the request is undecodable, only the call fails. */
    unsigned conns = orchlog_test_connections(c);
    orchlog_entry bad = {0};
    bad.content = "\xff\xfe";
    CHECK(orchlog_append(c, &bad, NULL, NULL) == ORCHLOG_INVALID_ARGUMENT);
    CHECK(orchlog_test_connections(c) == conns);

    /* Non-retryable codes come back at once: one attempt each (9 calls, +1 ok append). */
    CHECK(orchlog_test_attempts(c) - before == 10);
    /* The context is still usable. */
    orchlog_health_info h;
    CHECK_OK(c, orchlog_health(c, &h));
    orchlog_free(c);
}

static void test_invalid_utf8_client_name(void) {
    orchlog_options o;
    orchlog_options_init(&o);
    o.client_name = "bad \xc3\x28";
    orchlog_ctx *c = orchlog_connect("127.0.0.1", t_shared.port, &o);
    int ok = c != NULL && c->err == ORCHLOG_ERR_OTHER && c->status == ORCHLOG_INVALID_ARGUMENT;
    orchlog_free(c);
    CHECK(ok);
    o.client_name = "caf\xc3\xa9 \xf0\x9f\x98\x80"; /* valid UTF-8 */
    c = orchlog_connect("127.0.0.1", t_shared.port, &o);
    ok = c != NULL && c->err == 0;
    orchlog_free(c);
    CHECK(ok);
}

static void test_frame_too_large_locally(void) {
    CONNECT(c, t_shared.port);
    size_t n = 5u << 20; /* 5 MiB > max_frame_bytes */
    char *big = malloc(n + 1);
    CHECK(big != NULL);
    memset(big, 'x', n);
    big[n] = '\0';
    orchlog_entry in = {0};
    in.content = big;
    unsigned before = orchlog_test_attempts(c);
    int st = orchlog_append(c, &in, NULL, NULL);
    free(big);
    CHECK(st == ORCHLOG_RESOURCE_EXHAUSTED);
    CHECK(c->err == ORCHLOG_ERR_OTHER);
    CHECK(orchlog_test_attempts(c) - before == 1);
    /* Nothing was sent: the connection is intact. */
    unsigned conns = orchlog_test_connections(c);
    orchlog_health_info h;
    CHECK_OK(c, orchlog_health(c, &h));
    CHECK(orchlog_test_connections(c) == conns);
    orchlog_free(c);
}

/* Appends a root, returns its id in out. */
static int new_root(orchlog_ctx *c, const char *content, char out[37]) {
    orchlog_entry in = {0};
    orchlog_uuid_v7(out);
    in.orchestration_session_log_id = out;
    in.content = (char *)content;
    return orchlog_append(c, &in, NULL, NULL);
}

static int add_child(orchlog_ctx *c, const char *parent, const char *content, int has_order,
                     int64_t order, char out[37]) {
    orchlog_entry in = {0};
    orchlog_uuid_v7(out);
    in.orchestration_session_log_id = out;
    in.parent_exec_id = (char *)parent;
    in.content = (char *)content;
    in.has_sibling_order = has_order;
    in.sibling_order = order;
    return orchlog_append(c, &in, NULL, NULL);
}

static void test_stream_children_follow(void) {
    CONNECT(c, t_shared.port);
    CONNECT(c2, t_shared.port);
    char p[37], k[37];
    CHECK_OK(c, new_root(c, "stream parent", p));
    for (int i = 0; i < 3; i++) CHECK_OK(c, add_child(c, p, "backlog", 0, 0, k));

    orchlog_stream *s = orchlog_children_open(c, p, 0, 1);
    CHECK(s != NULL);
    orchlog_entry *e;
    uint64_t last = 0;
    for (int i = 0; i < 3; i++) {
        int rc = orchlog_stream_next(s, &e, NULL);
        if (rc != ORCHLOG_STREAM_ITEM) orchlog_stream_free(s);
        CHECK(rc == ORCHLOG_STREAM_ITEM);
        int ok = streq(e->content, "backlog") && streq(e->parent_exec_id, p) && e->seq > last;
        last = e->seq;
        orchlog_entry_free(e);
        CHECK(ok);
    }
    /* Nothing more yet: the follow stream waits. */
    CHECK(orchlog_stream_next_timeout(s, &e, NULL, 200) == ORCHLOG_STREAM_TIMEOUT);
    /* Appends from a second context arrive in seq order. */
    const char *names[] = {"live 1", "live 2", "live 3"};
    for (int i = 0; i < 3; i++) CHECK_OK(c2, add_child(c2, p, names[i], 0, 0, k));
    for (int i = 0; i < 3; i++) {
        int rc = orchlog_stream_next(s, &e, NULL);
        CHECK(rc == ORCHLOG_STREAM_ITEM);
        int ok = streq(e->content, names[i]) && e->seq > last;
        last = e->seq;
        orchlog_entry_free(e);
        CHECK(ok);
    }
    CHECK(orchlog_stream_last_seq(s) == last);
    /* A unary call on the same context while the stream is open (multiplexed). */
    CHECK_OK(c, add_child(c, p, "same ctx", 0, 0, k));
    orchlog_health_info h;
    CHECK_OK(c, orchlog_health(c, &h));
    CHECK(orchlog_stream_next(s, &e, NULL) == ORCHLOG_STREAM_ITEM);
    int ok = streq(e->content, "same ctx");
    orchlog_entry_free(e);
    CHECK(ok);
    /* Cancel ends the follow stream with CANCELLED. */
    CHECK(orchlog_stream_cancel(s) == ORCHLOG_CANCELLED);
    CHECK(orchlog_stream_done(s));
    CHECK(orchlog_stream_next(s, &e, NULL) == ORCHLOG_STREAM_END && e == NULL);
    CHECK(orchlog_stream_status(s) == ORCHLOG_CANCELLED);
    orchlog_stream_free(s);

    /* Resume from the last seq: only newer children. */
    CHECK_OK(c2, add_child(c2, p, "after cancel", 0, 0, k));
    s = orchlog_children_open(c, p, last, 0);
    int n = 0, rc;
    while ((rc = orchlog_stream_next(s, &e, NULL)) == ORCHLOG_STREAM_ITEM) {
        n++;
        orchlog_entry_free(e);
    }
    ok = rc == ORCHLOG_STREAM_END && orchlog_stream_status(s) == ORCHLOG_OK && n == 2;
    orchlog_stream_free(s);
    CHECK(ok);
    CHECK_OK(c, orchlog_health(c, &h));
    orchlog_free(c2);
    orchlog_free(c);
}

static void test_stream_credit_many(void) {
    orchlog_options o;
    orchlog_options_init(&o);
    o.stream_credit = 4; /* small window: the stream only completes if credit is granted */
    o.stream_wait_ms = 5000;
    orchlog_ctx *c = orchlog_connect("127.0.0.1", t_shared.port, &o);
    CHECK(c != NULL && c->err == 0);
    char p[37];
    CHECK_OK(c, new_root(c, "many", p));
    enum { N = 300 };
    orchlog_entry *e = calloc(N, sizeof(*e));
    for (int i = 0; i < N; i++) {
        e[i].parent_exec_id = p;
        e[i].content = "k";
    }
    int st = orchlog_append_batch(c, e, N, NULL);
    free(e);
    CHECK_OK(c, st);
    orchlog_stream *s = orchlog_children_open(c, p, 0, 0);
    orchlog_entry *x;
    uint64_t last = 0;
    int n = 0, rc, ordered = 1;
    while ((rc = orchlog_stream_next(s, &x, NULL)) == ORCHLOG_STREAM_ITEM) {
        if (x->seq <= last) ordered = 0;
        last = x->seq;
        n++;
        orchlog_entry_free(x);
    }
    int ok = rc == ORCHLOG_STREAM_END && orchlog_stream_status(s) == ORCHLOG_OK && n == N &&
             ordered;
    if (!ok) fprintf(stderr, "    rc %d n %d status %d\n", rc, n, orchlog_stream_status(s));
    orchlog_stream_free(s);
    CHECK(ok);
    /* A slow consumer: unary calls on the same context take in the stream's frames, but the
     * server sends no more than the credit window ahead. */
    s = orchlog_children_open(c, p, 0, 0);
    orchlog_health_info hh;
    for (int i = 0; i < 20; i++) CHECK_OK(c, orchlog_health(c, &hh));
    t_sleep_ms(100);
    CHECK_OK(c, orchlog_health(c, &hh));
    size_t q = orchlog_test_stream_queued(s);
    n = 0;
    while (orchlog_stream_next(s, &x, NULL) == ORCHLOG_STREAM_ITEM) {
        if (orchlog_test_stream_queued(s) > 4) q = 1000;
        n++;
        orchlog_entry_free(x);
    }
    ok = n == N && orchlog_stream_status(s) == ORCHLOG_OK;
    orchlog_stream_free(s);
    if (q > 4) fprintf(stderr, "    queued %zu\n", q);
    CHECK(q <= 4);
    CHECK(ok);
    /* Free an open stream without reading it; the context stays usable. */
    s = orchlog_children_open(c, p, 0, 1);
    CHECK(orchlog_stream_next(s, &x, NULL) == ORCHLOG_STREAM_ITEM);
    orchlog_entry_free(x);
    orchlog_stream_free(s);
    orchlog_health_info h;
    CHECK_OK(c, orchlog_health(c, &h));
    orchlog_free(c);
}

static void test_two_streams_interleaved(void) {
    CONNECT(c, t_shared.port);
    char p1[37], p2[37], k[37];
    CHECK_OK(c, new_root(c, "mux 1", p1));
    CHECK_OK(c, new_root(c, "mux 2", p2));
    orchlog_stream *s1 = orchlog_children_open(c, p1, 0, 1);
    orchlog_stream *s2 = orchlog_children_open(c, p2, 0, 1);
    /* Appends on the same context while both follow streams are open. */
    for (int i = 0; i < 10; i++) {
        CHECK_OK(c, add_child(c, p1, "one", 0, 0, k));
        CHECK_OK(c, add_child(c, p2, "two", 0, 0, k));
    }
    int n1 = 0, n2 = 0, ok = 1;
    for (int i = 0; i < 10; i++) {
        orchlog_entry *e;
        if (orchlog_stream_next(s2, &e, NULL) == ORCHLOG_STREAM_ITEM) {
            if (!streq(e->content, "two") || !streq(e->parent_exec_id, p2)) ok = 0;
            n2++;
            orchlog_entry_free(e);
        }
        if (orchlog_stream_next(s1, &e, NULL) == ORCHLOG_STREAM_ITEM) {
            if (!streq(e->content, "one") || !streq(e->parent_exec_id, p1)) ok = 0;
            n1++;
            orchlog_entry_free(e);
        }
    }
    int c1 = orchlog_stream_cancel(s1), c2 = orchlog_stream_cancel(s2);
    orchlog_stream_free(s1);
    orchlog_stream_free(s2);
    orchlog_free(c);
    CHECK(ok && n1 == 10 && n2 == 10);
    CHECK(c1 == ORCHLOG_CANCELLED && c2 == ORCHLOG_CANCELLED);
}

static void test_tree(void) {
    CONNECT(c, t_shared.port);
    char r[37], a[37], b[37], a1[37], a2[37], b1[37], n1[37];
    CHECK_OK(c, new_root(c, "root", r));
    /* Inserted out of order: b (order 2) before a (order 1); a NULL-order child is last. */
    CHECK_OK(c, add_child(c, r, "b", 1, 2, b));
    CHECK_OK(c, add_child(c, r, "a", 1, 1, a));
    CHECK_OK(c, add_child(c, a, "a2", 1, 20, a2));
    CHECK_OK(c, add_child(c, a, "a1", 1, 10, a1));
    CHECK_OK(c, add_child(c, b, "b1", 0, 0, b1));
    CHECK_OK(c, add_child(c, r, "c", 1, 3, n1));
    const char *want[] = {"root", "a", "a1", "a2", "b", "b1", "c"};
    const uint32_t depths[] = {0, 1, 2, 2, 1, 2, 1};
    orchlog_stream *s = orchlog_tree_open(c, r, 0);
    orchlog_entry *e;
    uint32_t d;
    int i = 0, rc, ok = 1;
    while ((rc = orchlog_stream_next(s, &e, &d)) == ORCHLOG_STREAM_ITEM) {
        if (i >= 7 || !streq(e->content, want[i]) || d != depths[i]) {
            fprintf(stderr, "    item %d: %s depth %u\n", i, e->content, d);
            ok = 0;
        }
        i++;
        orchlog_entry_free(e);
    }
    ok = ok && i == 7 && rc == ORCHLOG_STREAM_END && orchlog_stream_status(s) == ORCHLOG_OK;
    orchlog_stream_free(s);
    CHECK(ok);

    /* max_depth 1: root and its children only. */
    s = orchlog_tree_open(c, r, 1);
    const char *want1[] = {"root", "a", "b", "c"};
    i = 0;
    ok = 1;
    while ((rc = orchlog_stream_next(s, &e, &d)) == ORCHLOG_STREAM_ITEM) {
        if (i >= 4 || !streq(e->content, want1[i])) ok = 0;
        i++;
        orchlog_entry_free(e);
    }
    ok = ok && i == 4 && orchlog_stream_status(s) == ORCHLOG_OK;
    orchlog_stream_free(s);
    CHECK(ok);

    /* Unknown root / parent: NOT_FOUND; malformed: INVALID_ARGUMENT. */
    char missing[37];
    orchlog_uuid_v7(missing);
    s = orchlog_tree_open(c, missing, 0);
    rc = orchlog_stream_next(s, &e, &d);
    ok = rc == ORCHLOG_STREAM_END && orchlog_stream_status(s) == ORCHLOG_NOT_FOUND &&
         c->status == ORCHLOG_NOT_FOUND && c->err == ORCHLOG_ERR_STATUS;
    orchlog_stream_free(s);
    CHECK(ok);
    s = orchlog_children_open(c, missing, 0, 1);
    rc = orchlog_stream_next(s, &e, NULL);
    ok = rc == ORCHLOG_STREAM_END && orchlog_stream_status(s) == ORCHLOG_NOT_FOUND;
    orchlog_stream_free(s);
    CHECK(ok);
    s = orchlog_children_open(c, "", 0, 0); /* "" is malformed, not "the roots" */
    rc = orchlog_stream_next(s, &e, NULL);
    ok = rc == ORCHLOG_STREAM_END && orchlog_stream_status(s) == ORCHLOG_INVALID_ARGUMENT;
    orchlog_stream_free(s);
    CHECK(ok);
    s = orchlog_tree_open(c, NULL, 0);
    rc = orchlog_stream_next(s, &e, &d);
    ok = rc == ORCHLOG_STREAM_END && orchlog_stream_status(s) == ORCHLOG_INVALID_ARGUMENT &&
         strncmp(orchlog_stream_message(s), "root_id", 7) == 0;
    orchlog_stream_free(s);
    CHECK(ok);
    orchlog_free(c);
}

static void test_roots_stream(void) {
    CONNECT(c, t_shared.port);
    char r1[37], r2[37];
    CHECK_OK(c, new_root(c, "roots-a", r1));
    orchlog_entry *g = NULL;
    CHECK_OK(c, orchlog_get(c, r1, &g));
    uint64_t after = g->seq;
    orchlog_entry_free(g);
    CHECK_OK(c, new_root(c, "roots-b", r2));
    orchlog_stream *s = orchlog_children_open(c, NULL, after, 0);
    orchlog_entry *e;
    int n = 0, found = 0, rc;
    while ((rc = orchlog_stream_next(s, &e, NULL)) == ORCHLOG_STREAM_ITEM) {
        n++;
        if (streq(e->orchestration_session_log_id, r2)) found = 1;
        if (e->parent_exec_id != NULL || e->seq <= after) found = -100;
        orchlog_entry_free(e);
    }
    int ok = rc == ORCHLOG_STREAM_END && found == 1 && n >= 1;
    orchlog_stream_free(s);
    CHECK(ok);
    orchlog_free(c);
}

static void test_example_program(void) {
    const char *ex = getenv("ORCHLOG_EXAMPLE");
    if (ex == NULL || ex[0] == '\0') ex = "examples/orchlog-c-example";
    char cmd[1024], out[512];
    snprintf(out, sizeof(out), "%s/example.out", t_tmpdir);
    snprintf(cmd, sizeof(cmd), "'%s' 127.0.0.1 %d > '%s' 2>&1", ex, t_shared.port, out);
    int st = system(cmd);
    CHECK(st == 0);
    FILE *f = fopen(out, "r");
    CHECK(f != NULL);
    char buf[2048];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    CHECK(strstr(buf, "- [session] example session") != NULL);
    CHECK(strstr(buf, "  - [step] first step") != NULL);
}

static orchlog_ctx *retry_ctx(int port) {
    orchlog_options o;
    orchlog_options_init(&o);
    o.call_timeout_ms = 20000;
    o.connect_timeout_ms = 2000;
    o.max_attempts = 60;
    o.initial_backoff_ms = 20;
    o.max_backoff_ms = 250;
    o.stream_wait_ms = 5000;
    return orchlog_connect("127.0.0.1", port, &o);
}

static void test_retry_kill_restart(void) {
    test_server s;
    CHECK(t_server_start(&s, "restart", 0, NULL) == 0);
    orchlog_ctx *c = retry_ctx(s.port);
    CHECK(c != NULL && c->err == 0);
    char a[37], p[37];
    CHECK_OK(c, new_root(c, "before kill", a));
    CHECK(orchlog_test_connections(c) == 1);

    /* SIGKILL, then restart on the same port and db after 400 ms while the client appends. */
    t_server_kill(&s);
    int st = t_server_start_delayed(&s, 400);
    CHECK(st == 0);
    orchlog_entry in = {0};
    orchlog_uuid_v7(p);
    in.orchestration_session_log_id = p;
    in.content = "during restart";
    orchlog_entry *out = NULL;
    int created = -1;
    unsigned attempts = orchlog_test_attempts(c);
    st = orchlog_append(c, &in, &out, &created);
    if (st != ORCHLOG_OK) {
        fprintf(stderr, "    append during restart: %s\n", c->errstr);
        t_server_kill(&s);
    }
    CHECK_OK(c, st);
    int ok = created == 1 && streq(out->orchestration_session_log_id, p);
    orchlog_entry_free(out);
    if (!ok) t_server_kill(&s);
    CHECK(ok);
    CHECK(orchlog_test_attempts(c) - attempts >= 2); /* it did have to retry */
    CHECK(orchlog_test_connections(c) == 2);
    CHECK(t_server_wait_listening(&s, 10000) == 0);

    /* Both rows are there (the first survived SIGKILL: acknowledged = committed). */
    orchlog_entry *g = NULL;
    CHECK_OK(c, orchlog_get(c, a, &g));
    orchlog_entry_free(g);
    CHECK_OK(c, orchlog_get(c, p, &g));
    orchlog_entry_free(g);

    /* A lost reply: the request is sent and committed, the connection drops before the reply;
     * the retry carries the same id and gets created = 0, so there is exactly one row. */
    char k[37];
    orchlog_entry child = {0};
    child.parent_exec_id = p;
    child.content = "reply lost";
    orchlog_test_drop_replies(c, 1, 500);
    attempts = orchlog_test_attempts(c);
    CHECK_OK(c, orchlog_append(c, &child, &out, &created));
    ok = created == 0 && out != NULL;
    if (out) snprintf(k, sizeof(k), "%s", out->orchestration_session_log_id);
    orchlog_entry_free(out);
    CHECK(ok);
    CHECK(orchlog_test_attempts(c) - attempts == 2);
    orchlog_stream *sc = orchlog_children_open(c, p, 0, 0);
    orchlog_entry *e;
    int n = 0;
    while (orchlog_stream_next(sc, &e, NULL) == ORCHLOG_STREAM_ITEM) {
        if (streq(e->orchestration_session_log_id, k) && streq(e->content, "reply lost")) n++;
        else n += 100;
        orchlog_entry_free(e);
    }
    ok = orchlog_stream_status(sc) == ORCHLOG_OK && n == 1;
    orchlog_stream_free(sc);
    CHECK(ok);

    /* A follow stream loses its connection: it ends with UNAVAILABLE, resumable by seq. */
    sc = orchlog_children_open(c, p, 0, 1);
    CHECK(orchlog_stream_next(sc, &e, NULL) == ORCHLOG_STREAM_ITEM);
    orchlog_entry_free(e);
    t_server_kill(&s);
    int rc = orchlog_stream_next(sc, &e, NULL);
    ok = rc == ORCHLOG_STREAM_END && orchlog_stream_status(sc) == ORCHLOG_UNAVAILABLE &&
         orchlog_stream_last_seq(sc) > 0;
    orchlog_stream_free(sc);
    orchlog_free(c);
    CHECK(ok);
}

static void test_idle_goaway_reconnect(void) {
    test_server s;
    const char *extra[] = {"--idle-timeout-ms", "200", NULL};
    CHECK(t_server_start(&s, "idle", 0, extra) == 0);
    orchlog_ctx *c = retry_ctx(s.port);
    int ok = c != NULL && c->err == 0;
    orchlog_health_info h;
    ok = ok && orchlog_health(c, &h) == ORCHLOG_OK;
    t_sleep_ms(1000); /* the server sends goaway OK and closes the idle connection */
    ok = ok && orchlog_health(c, &h) == ORCHLOG_OK && orchlog_test_connections(c) == 2;
    if (!ok && c) fprintf(stderr, "    %s (connections %u)\n", c->errstr, orchlog_test_connections(c));
    orchlog_free(c);
    t_server_kill(&s);
    CHECK(ok);
}

static void test_auth_token(void) {
    char token_path[300];
    snprintf(token_path, sizeof(token_path), "%s/auth-token", t_tmpdir);
    FILE *f = fopen(token_path, "w");
    CHECK(f != NULL);
    fputs("c-s3cret\n", f);
    fclose(f);
    test_server s;
    const char *extra[] = {"--auth-token-file", token_path, NULL};
    CHECK(t_server_start(&s, "auth", 0, extra) == 0);
    orchlog_options o;
    orchlog_options_init(&o);
    o.auth_token = "c-s3cret";
    orchlog_ctx *good = orchlog_connect("127.0.0.1", s.port, &o);
    orchlog_health_info h;
    int ok = good != NULL && good->err == 0 && orchlog_health(good, &h) == ORCHLOG_OK;
    if (!ok && good) fprintf(stderr, "    good token: %s\n", good->errstr);
    o.auth_token = "wrong";
    orchlog_ctx *bad = orchlog_connect("127.0.0.1", s.port, &o);
    ok = ok && bad != NULL && bad->err != 0 && bad->status == ORCHLOG_UNAUTHENTICATED;
    if (bad && bad->status != ORCHLOG_UNAUTHENTICATED) fprintf(stderr, "    wrong token: %s\n", bad->errstr);
    orchlog_free(good);
    orchlog_free(bad);
    t_server_kill(&s);
    CHECK(ok);
}

static void test_drain_ends_follow(void) {
    test_server s;
    CHECK(t_server_start(&s, "drain", 0, NULL) == 0);
    orchlog_ctx *c = retry_ctx(s.port);
    int ok = c != NULL && c->err == 0;
    char r[37];
    ok = ok && new_root(c, "drain root", r) == ORCHLOG_OK;
    orchlog_stream *st = ok ? orchlog_children_open(c, r, 0, 1) : NULL;
    orchlog_entry *e = NULL;
    ok = ok && st != NULL &&
         orchlog_stream_next_timeout(st, &e, NULL, 200) == ORCHLOG_STREAM_TIMEOUT;
    kill(s.pid, SIGTERM);
    ok = ok && orchlog_stream_next(st, &e, NULL) == ORCHLOG_STREAM_END &&
         orchlog_stream_status(st) == ORCHLOG_UNAVAILABLE;
    orchlog_stream_free(st);
    /* The client closed the drained connection after the last end: the server exits 0. */
    int code = t_server_wait(&s, 10000);
    if (!ok || code != 0) {
        orchlog_free(c);
        t_server_kill(&s);
    }
    CHECK(ok);
    CHECK(code == 0);
    /* The same context reconnects to a new server on the same port and db. */
    CHECK(t_server_start(&s, NULL, s.port, NULL) == 0);
    char k[37];
    int st2 = add_child(c, r, "after drain", 0, 0, k);
    ok = st2 == ORCHLOG_OK && orchlog_test_connections(c) == 2;
    if (!ok) fprintf(stderr, "    %s\n", c->errstr);
    orchlog_free(c);
    t_server_term(&s, 10000);
    CHECK(ok);
}

static void test_drain_unread_stream_then_append(void) {
    test_server s;
    CHECK(t_server_start(&s, "drain2", 0, NULL) == 0);
    orchlog_ctx *c = retry_ctx(s.port);
    int ok = c != NULL && c->err == 0;
    char r[37], k[37];
    ok = ok && new_root(c, "drain2 root", r) == ORCHLOG_OK;
    orchlog_stream *st = ok ? orchlog_children_open(c, r, 0, 1) : NULL;
    orchlog_entry *e = NULL;
    ok = ok && st != NULL &&
         orchlog_stream_next_timeout(st, &e, NULL, 200) == ORCHLOG_STREAM_TIMEOUT;
    if (!ok) {
        orchlog_stream_free(st);
        orchlog_free(c);
        t_server_kill(&s);
    }
    CHECK(ok);
    /* Drain while the follow stream is open and unread, then restart the server later. The
     * append meets the draining connection, keeps the stream's end for it, reconnects. */
    kill(s.pid, SIGTERM);
    t_sleep_ms(100);
    test_server old = s;
    t_server_wait(&old, 5000); /* exits 1 s after the drain at the latest */
    s.pid = -1;
    CHECK(t_server_start_delayed(&s, 300) == 0);
    int st2 = add_child(c, r, "after drain", 0, 0, k);
    ok = st2 == ORCHLOG_OK && orchlog_test_connections(c) == 2;
    if (!ok) fprintf(stderr, "    append: %s\n", c->errstr);
    int rc = orchlog_stream_next_timeout(st, &e, NULL, 2000);
    ok = ok && rc == ORCHLOG_STREAM_END && orchlog_stream_status(st) == ORCHLOG_UNAVAILABLE;
    orchlog_stream_free(st);
    orchlog_free(c);
    t_server_wait_listening(&s, 5000);
    t_server_term(&s, 10000);
    CHECK(ok);
}


/* Call ids never wrap (PROTOCOL.md section 4): after 2^32 - 1 the next call goes on a new
 * connection. A finite stream holding the last id finishes on the old one; a follow stream
 * that would hold the old connection for ever ends with UNAVAILABLE and says why. */
static void test_call_ids_exhausted(void) {
    CONNECT(c, t_shared.port);
    CONNECT(c2, t_shared.port);
    char p[37], k[37];
    CHECK_OK(c2, new_root(c2, "ids parent", p));
    CHECK_OK(c2, add_child(c2, p, "ids child", 0, 0, k));
    orchlog_free(c2);
    /* c's first call: a follow stream that keeps id 1 open on the first connection. */
    orchlog_stream *follow = orchlog_children_open(c, p, 0, 1);
    CHECK(follow != NULL && orchlog_test_last_call_id(c) == 1);
    orchlog_entry *e = NULL;
    int rc = orchlog_stream_next(follow, &e, NULL);
    orchlog_entry_free(e);
    if (rc != ORCHLOG_STREAM_ITEM) orchlog_stream_free(follow);
    CHECK(rc == ORCHLOG_STREAM_ITEM);
    unsigned conn0 = orchlog_test_connections(c);
    orchlog_test_set_next_call_id(c, 0xfffffffdu);

    enum { N = 7 };
    uint32_t ids[N];
    unsigned conns[N];
    int st[N];
    orchlog_stream *tree = NULL;
    orchlog_health_info h;
    for (int i = 0; i < N; i++) {
        if (i == 2) { /* the last id, 0xffffffff: a tree stream (3 entries, then its end) */
            tree = orchlog_tree_open(c, p, 0);
            st[i] = orchlog_stream_done(tree) ? orchlog_stream_status(tree) : ORCHLOG_OK;
        } else if (i % 2) {
            st[i] = add_child(c, p, "across the id boundary", 0, 0, k);
        } else {
            st[i] = orchlog_health(c, &h);
        }
        ids[i] = orchlog_test_last_call_id(c);
        conns[i] = orchlog_test_connections(c);
        if (st[i] != ORCHLOG_OK) fprintf(stderr, "    call %d: %s\n", i, c->errstr);
    }
    int ok = 1;
    for (int i = 0; i < N; i++) {
        /* 0xfffffffd..0xffffffff on the first connection, then 1, 2, ... on a second one. */
        uint32_t want = i < 3 ? 0xfffffffdu + (uint32_t)i : (uint32_t)(i - 2);
        unsigned want_conn = conn0 + (i < 3 ? 0 : 1);
        if (st[i] != ORCHLOG_OK || ids[i] != want || ids[i] == 0 || conns[i] != want_conn) {
            fprintf(stderr, "    call %d: status %d id %lu (want %lu) connection %u (want %u)\n",
                    i, st[i], (unsigned long)ids[i], (unsigned long)want, conns[i], want_conn);
            ok = 0;
        }
    }
    /* The tree stream finished on the old connection: root, 2 children, then OK. */
    int items = 0;
    while ((rc = orchlog_stream_next(tree, &e, NULL)) == ORCHLOG_STREAM_ITEM) {
        items++;
        orchlog_entry_free(e);
    }
    int tree_ok = rc == ORCHLOG_STREAM_END && orchlog_stream_status(tree) == ORCHLOG_OK &&
                  items == 3;
    if (!tree_ok) fprintf(stderr, "    tree: %d items, status %d: %s\n", items,
                          orchlog_stream_status(tree), orchlog_stream_message(tree));
    orchlog_stream_free(tree);
    /* The follow stream could not stay: what it had received, then UNAVAILABLE. */
    while ((rc = orchlog_stream_next(follow, &e, NULL)) == ORCHLOG_STREAM_ITEM)
        orchlog_entry_free(e);
    int follow_ok = rc == ORCHLOG_STREAM_END &&
                    orchlog_stream_status(follow) == ORCHLOG_UNAVAILABLE &&
                    c->err == ORCHLOG_ERR_IO &&
                    strcmp(orchlog_stream_message(follow),
                           "connection retired: its call ids are used up") == 0 &&
                    orchlog_stream_last_seq(follow) > 0;
    if (!follow_ok) fprintf(stderr, "    follow: status %d: %s\n", orchlog_stream_status(follow),
                            orchlog_stream_message(follow));
    orchlog_stream_free(follow);
    CHECK(ok);
    CHECK(tree_ok);
    CHECK(follow_ok);

    /* The last id on a unary call: the connection is left once its reply is in. */
    orchlog_test_set_next_call_id(c, 0xfffffffeu);
    CHECK_OK(c, orchlog_health(c, &h));
    CHECK_OK(c, orchlog_health(c, &h));
    CHECK(orchlog_test_last_call_id(c) == 0xffffffffu && orchlog_test_connections(c) == conn0 + 1);
    CHECK_OK(c, orchlog_health(c, &h));
    CHECK(orchlog_test_last_call_id(c) == 1 && orchlog_test_connections(c) == conn0 + 2);
    orchlog_free(c);
}

/* A legitimate frame near max_frame_bytes (an entry of the server's largest content, 4 MiB -
 * 64 KiB) decodes, needing about its own size. */
static void test_large_frame_decodes(void) {
    CONNECT(c, t_shared.port);
    size_t n = 4194304 - 65536;
    char *big = malloc(n + 1);
    CHECK(big != NULL);
    memset(big, 'q', n);
    big[0] = '<';
    big[n - 1] = '>';
    big[n] = '\0';
    char id[37];
    orchlog_uuid_v7(id);
    orchlog_entry in = {0};
    in.orchestration_session_log_id = id;
    in.content = big;
    orchlog_entry *out = NULL, *g = NULL;
    int st = orchlog_append(c, &in, &out, NULL);
    int ok = st == ORCHLOG_OK && out != NULL && out->content != NULL && strcmp(out->content, big) == 0;
    if (ok) st = orchlog_get(c, id, &g);
    ok = ok && st == ORCHLOG_OK && g != NULL && g->content != NULL && strcmp(g->content, big) == 0;
    size_t peak = orchlog_test_decode_peak(c);
    if (!ok || peak < n || peak > n + n / 8)
        fprintf(stderr, "    st %d peak %zu for %zu bytes: %s\n", st, peak, n, c->errstr);
    orchlog_entry_free(out);
    orchlog_entry_free(g);
    free(big);
    orchlog_free(c);
    CHECK(ok);
    CHECK(peak >= n && peak <= n + n / 8); /* ~1x */
}

/* Seeds n children of parent (content "child NNNNN " + filler, len bytes) in batches. */
static int seed_children(orchlog_ctx *c, const char *parent, int n, size_t len) {
    enum { BATCH = 256 };
    orchlog_entry *e = calloc(BATCH, sizeof(*e));
    char *text = malloc((size_t)BATCH * (len + 1));
    if (e == NULL || text == NULL) {
        free(e);
        free(text);
        return ORCHLOG_RESOURCE_EXHAUSTED;
    }
    int st = ORCHLOG_OK;
    for (int done = 0; done < n && st == ORCHLOG_OK;) {
        int k = n - done < BATCH ? n - done : BATCH;
        for (int i = 0; i < k; i++) {
            char *t = text + (size_t)i * (len + 1);
            memset(t, 'f', len);
            t[len] = '\0';
            char head[24];
            int hn = snprintf(head, sizeof(head), "child %05d ", done + i);
            memcpy(t, head, (size_t)hn);
            memset(&e[i], 0, sizeof(e[i]));
            e[i].parent_exec_id = (char *)parent;
            e[i].content = t;
        }
        st = orchlog_append_batch(c, e, (size_t)k, NULL);
        done += k;
    }
    free(e);
    free(text);
    return st;
}

/* Reads a stream of the n children seeded by seed_children (a tree: after its root) to its end.
 * Returns 1 if every child arrived once, in order, and the stream ended OK. */
static int drain_seeded(orchlog_stream *s, int n, int is_tree, const char *what) {
    orchlog_entry *e;
    uint32_t d;
    int i = is_tree ? -1 : 0, rc, ok = 1;
    uint64_t last = 0;
    while ((rc = orchlog_stream_next(s, &e, &d)) == ORCHLOG_STREAM_ITEM) {
        char want[24];
        snprintf(want, sizeof(want), "child %05d ", i);
        int good = i < 0 ? d == 0 : (i < n && d == (uint32_t)is_tree &&
                                     strncmp(e->content, want, strlen(want)) == 0 &&
                                     e->seq > last);
        if (!good && ok) {
            fprintf(stderr, "    %s: item %d: depth %u seq %llu \"%.12s\"\n", what, i, d,
                    (unsigned long long)e->seq, e->content ? e->content : "(null)");
            ok = 0;
        }
        if (i >= 0) last = e->seq;
        i++;
        orchlog_entry_free(e);
    }
    if (rc != ORCHLOG_STREAM_END || orchlog_stream_status(s) != ORCHLOG_OK || i != n) {
        fprintf(stderr, "    %s: %d of %d children, rc %d, status %d: %s\n", what, i, n, rc,
                orchlog_stream_status(s), orchlog_stream_message(s));
        ok = 0;
    }
    return ok;
}

/* PROTOCOL.md section 5: above 256 KiB of unwritten output the server stops reading frames
 * from a connection until it drains. Each round opens a children stream and a tree with an
 * unbounded window (~4.7 MiB each, nobody consumes them yet), leaves the connection unread for a
 * moment (the application busy elsewhere) so that the server fills its output and stops
 * reading, then appends 1 MiB on the same context. The append only gets through because the
 * client takes in what arrives while it writes; a client that did not would wait with the
 * server until the write timed out. A small send buffer on the client keeps the kernel from
 * absorbing the whole 1 MiB at once (on loopback it takes ~4 MB). */
static void test_streams_while_writing_large_appends(void) {
    enum { N = 600, ENTRY = 8192, ROUNDS = 3, BIG = 1 << 20 };
    CONNECT(seed, t_shared.port);
    char p[37], r[37];
    CHECK_OK(seed, new_root(seed, "flood parent", p));
    CHECK_OK(seed, new_root(seed, "large appends", r));
    CHECK_OK(seed, seed_children(seed, p, N, ENTRY));
    orchlog_free(seed);

    orchlog_options o;
    orchlog_options_init(&o);
    o.stream_credit = 0xffffffffu; /* the server may send a whole stream at once */
    o.call_timeout_ms = 10000;     /* a stalled write fails within this bound */
    o.max_attempts = 1;            /* and is not retried */
    o.stream_wait_ms = 5000;
    orchlog_ctx *c = orchlog_connect("127.0.0.1", t_shared.port, &o);
    CHECK(c != NULL && c->err == 0);
    CHECK(orchlog_test_set_sndbuf(c, 16384) == 0);
    char *big = malloc(BIG + 1);
    CHECK(big != NULL);
    memset(big, 'b', BIG);
    big[BIG] = '\0';
    orchlog_stream *kids[ROUNDS] = {NULL}, *tree[ROUNDS] = {NULL};
    int ok = 1;
    for (int i = 0; ok && i < ROUNDS; i++) {
        kids[i] = orchlog_children_open(c, p, 0, 0);
        tree[i] = orchlog_tree_open(c, p, 0);
        ok = kids[i] != NULL && tree[i] != NULL && !orchlog_stream_done(kids[i]) &&
             !orchlog_stream_done(tree[i]);
        t_sleep_ms(200);
        orchlog_entry in = {0}, *out = NULL;
        int created = 0;
        in.parent_exec_id = r;
        in.content = big;
        int st = ok ? orchlog_append(c, &in, &out, &created) : ORCHLOG_UNKNOWN;
        if (st != ORCHLOG_OK || !created || out == NULL || out->content == NULL ||
            strcmp(out->content, big) != 0) {
            fprintf(stderr, "    append %d: %s\n", i, c->errstr);
            ok = 0;
        }
        orchlog_entry_free(out);
    }
    free(big);
    for (int i = 0; ok && i < ROUNDS; i++)
        ok = drain_seeded(kids[i], N, 0, "children") && drain_seeded(tree[i], N, 1, "tree");
    for (int i = 0; i < ROUNDS; i++) {
        orchlog_stream_free(kids[i]);
        orchlog_stream_free(tree[i]);
    }
    orchlog_free(c);
    CHECK(ok);
}

const test_case live_tests[] = {
    {"live: health", test_health},
    {"live: append, get, idempotent re-append", test_append_get},
    {"live: NULL vs set fields round-trip", test_null_fields},
    {"live: batch, parent earlier in batch, empty, all-or-nothing", test_batch},
    {"live: error statuses returned at once", test_error_statuses},
    {"live: frame over max_frame_bytes fails locally", test_frame_too_large_locally},
    {"live: client_name must be valid UTF-8", test_invalid_utf8_client_name},
    {"live: stream children backlog + follow + multiplex + cancel", test_stream_children_follow},
    {"live: stream credit window, 300 children in order", test_stream_credit_many},
    {"live: two follow streams and appends multiplexed on one context", test_two_streams_interleaved},
    {"live: tree preorder, depths, max_depth, errors", test_tree},
    {"live: roots stream with after_seq", test_roots_stream},
    {"live: example program", test_example_program},
    {"live: retry across SIGKILL + restart, lost reply not duplicated", test_retry_kill_restart},
    {"live: reconnect after idle goaway", test_idle_goaway_reconnect},
    {"live: auth token required by the server", test_auth_token},
    {"live: drain ends follow stream with UNAVAILABLE, then reconnect", test_drain_ends_follow},
    {"live: drain with an unread follow stream, append reconnects", test_drain_unread_stream_then_append},
    {"live: call ids never wrap: new connection after 2^32-1, streams finish or end", test_call_ids_exhausted},
    {"live: a frame near max_frame_bytes still decodes", test_large_frame_decodes},
    {"live: 1 MiB appends while unread streams with an unbounded window fill the connection",
     test_streams_while_writing_large_appends},
    {NULL, NULL},
};
