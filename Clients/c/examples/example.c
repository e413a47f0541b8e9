/*
 * orchlog-c-example: connect, append a root and a child, read the tree, print it.
 *
 *     orchlog-c-example [host [port]]     (default 127.0.0.1 7700)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "orchlog.h"

int main(int argc, char **argv) {
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 7700;

    orchlog_options opts;
    orchlog_options_init(&opts);
    opts.client_name = "orchlog-c-example";
    opts.call_timeout_ms = 10000;
    opts.stream_wait_ms = 10000;

    orchlog_ctx *c = orchlog_connect(host, port, &opts);
    if (c == NULL || c->err) {
        fprintf(stderr, "connect: %s\n", c ? c->errstr : "out of memory");
        orchlog_free(c);
        return 1;
    }

    /* A root entry: NULL fields are SQL NULL; the library generates a UUIDv7 id. */
    orchlog_entry root = {0};
    root.category = "session";
    root.content = "example session";
    orchlog_entry *stored_root = NULL;
    int created = 0;
    if (orchlog_append(c, &root, &stored_root, &created) != ORCHLOG_OK) {
        fprintf(stderr, "append root: %s (%s)\n", c->errstr, orchlog_status_name(c->status));
        orchlog_free(c);
        return 1;
    }

    orchlog_entry child = {0};
    child.parent_exec_id = stored_root->orchestration_session_log_id;
    child.category = "step";
    child.content = "first step";
    child.elaboration = "{\"tool\":\"example\"}";
    if (orchlog_append(c, &child, NULL, NULL) != ORCHLOG_OK) {
        fprintf(stderr, "append child: %s\n", c->errstr);
        orchlog_entry_free(stored_root);
        orchlog_free(c);
        return 1;
    }

    orchlog_stream *s = orchlog_tree_open(c, stored_root->orchestration_session_log_id, 0);
    if (s == NULL) {
        fprintf(stderr, "tree: out of memory\n");
        orchlog_entry_free(stored_root);
        orchlog_free(c);
        return 1;
    }
    orchlog_entry *e;
    uint32_t depth;
    int rc;
    while ((rc = orchlog_stream_next(s, &e, &depth)) == ORCHLOG_STREAM_ITEM) {
        printf("%*s- [%s] %s (id %s, seq %" PRIu64 ")\n", (int)depth * 2, "",
               e->category ? e->category : "NULL", e->content, e->orchestration_session_log_id,
               e->seq);
        orchlog_entry_free(e);
    }
    int status = orchlog_stream_status(s);
    if (rc != ORCHLOG_STREAM_END || status != ORCHLOG_OK)
        fprintf(stderr, "tree: %s %s\n", orchlog_status_name(status), orchlog_stream_message(s));
    orchlog_stream_free(s);
    orchlog_entry_free(stored_root);
    orchlog_free(c);
    return status == ORCHLOG_OK && rc == ORCHLOG_STREAM_END ? 0 : 1;
}
