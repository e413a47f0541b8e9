/* orchlog_private.h - hooks for the library's own tests; not part of the API. */
#ifndef ORCHLOG_PRIVATE_H
#define ORCHLOG_PRIVATE_H

#include "orchlog.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Test hook: the next n unary call attempts send their request, wait delay_ms (so the server can
 * commit it), then drop the connection before reading the reply, as if the reply was lost.
 */
void orchlog_test_drop_replies(orchlog_ctx *c, int n, int delay_ms);
/* Number of connections (handshakes) made by the context so far. */
unsigned orchlog_test_connections(const orchlog_ctx *c);
/* Number of unary attempts made by the context so far. */
unsigned orchlog_test_attempts(const orchlog_ctx *c);
/* Sets SO_SNDBUF of the current connection's socket, so that a test can have a write wait for
 * the server with little data (on loopback the kernel otherwise takes ~4 MB at once).
 * Returns 0, or -1 without a connection or if setsockopt fails. */
int orchlog_test_set_sndbuf(orchlog_ctx *c, int bytes);
/* Messages received for a stream and not yet returned by orchlog_stream_next. */
size_t orchlog_test_stream_queued(const orchlog_stream *s);
/* The id the next call on the current connection gets (0 counts as 1), e.g. 0xfffffffd to
 * reach the end of the connection's ids in a few calls. */
void orchlog_test_set_next_call_id(orchlog_ctx *c, uint32_t id);
/* The id of the last call started (unary attempt or stream). */
uint32_t orchlog_test_last_call_id(const orchlog_ctx *c);
/* The most bytes the decode of one frame or response message held at once, so far
 * (orchlog_reader.h, orchlog_budget). */
size_t orchlog_test_decode_peak(const orchlog_ctx *c);

#ifdef __cplusplus
}
#endif

#endif
