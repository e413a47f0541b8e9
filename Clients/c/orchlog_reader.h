/*
 * orchlog_reader.h - the frame parser of the orchlog C client, apart from any socket.
 *
 * Feed it the bytes read from the connection, then pull decoded frames:
 *
 *     orchlog_reader *r = orchlog_reader_create();
 *     orchlog_reader_feed(r, buf, n);
 *     Orchlog__V1__Frame *f;
 *     while (orchlog_reader_get_frame(r, &f) == ORCHLOG_READER_OK && f != NULL) {
 *         ...;
 *         orchlog__v1__frame__free_unpacked(f, NULL);
 *     }
 *     orchlog_reader_free(r);
 *
 * A frame is a u32 big-endian length (1..max_frame_bytes) followed by one serialized
 * orchlog.v1.Frame. A length of 0 or above the limit, an undecodable Frame or a Frame without a
 * kind puts the reader in a sticky error state (err, errstr, code) instead of crashing. A Frame
 * whose kind this client does not know (an unknown field, e.g. from a newer server) is skipped.
 */
#ifndef ORCHLOG_READER_H
#define ORCHLOG_READER_H

#include <stddef.h>
#include <stdint.h>

#include "orchlog.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ORCHLOG_READER_OK 0
#define ORCHLOG_READER_ERR -1

#define ORCHLOG_DEFAULT_MAX_FRAME_BYTES 4194304u

typedef struct orchlog_reader {
    int err;            /* 0 or 1: the reader failed and stays failed */
    char errstr[128];
    int code;           /* status code of the failure (INVALID_ARGUMENT, RESOURCE_EXHAUSTED) */
    /* Limits (fields, may be changed after create). */
    uint32_t max_frame_bytes; /* largest payload accepted; default 4 MiB */
    /* Private buffer state. */
    unsigned char *buf;
    size_t len;   /* bytes in buf */
    size_t pos;   /* first unconsumed byte */
    size_t cap;
} orchlog_reader;

orchlog_reader *orchlog_reader_create(void);
/* Appends bytes. ORCHLOG_READER_ERR when out of memory or already failed. */
int orchlog_reader_feed(orchlog_reader *r, const void *data, size_t len);
/*
 * Takes the next complete frame. ORCHLOG_READER_OK with *frame = NULL when more bytes are
 * needed, ORCHLOG_READER_OK with a frame (free with orchlog__v1__frame__free_unpacked(f, NULL)),
 * or ORCHLOG_READER_ERR (see r->errstr).
 */
int orchlog_reader_get_frame(orchlog_reader *r, Orchlog__V1__Frame **frame);
/* Bytes fed but not consumed yet. */
size_t orchlog_reader_buffered(const orchlog_reader *r);
void orchlog_reader_free(orchlog_reader *r);

/*
 * Encodes frame as length + payload into a new malloc'ed buffer (*out, *out_len).
 * ORCHLOG_READER_ERR if out of memory or the payload is empty or exceeds max_frame_bytes.
 */
int orchlog_frame_encode(const Orchlog__V1__Frame *frame, uint32_t max_frame_bytes,
                         unsigned char **out, size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif /* ORCHLOG_READER_H */
