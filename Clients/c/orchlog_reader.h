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
 *         orchlog_reader_frame_free(r, f);
 *     }
 *     orchlog_reader_free(r);
 *
 * A frame is a u32 big-endian length (1..max_frame_bytes) followed by one serialized
 * orchlog.v1.Frame. A length of 0 or above the limit, an undecodable Frame or a Frame without a
 * kind puts the reader in a sticky error state (err, errstr, code) instead of crashing. A Frame
 * whose kind this client does not know (an unknown field, e.g. from a newer server) is skipped.
 *
 * Decoding is bounded too: protobuf-c builds the whole message before anything can look at it,
 * and a frame of tiny map entries or fields takes 30 to 64 times its size to decode. So every
 * message from the network is decoded through an orchlog_budget, a counting allocator that
 * refuses to hand out more than orchlog_decode_budget(n) bytes for n bytes of input; the unpack
 * then fails, and the reader fails with "frame of N bytes needs more than M bytes to decode".
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

/* Decoding n bytes may take max(ORCHLOG_DECODE_FLOOR, ORCHLOG_DECODE_FACTOR * n) bytes of heap,
 * counted with a size header per block (16 bytes on x86-64). Measured: legitimate messages need at most
 * ~6.5x (a batch response of minimal entries), one large string or bytes field ~1x; a frame of
 * empty map entries needs 64x. */
#define ORCHLOG_DECODE_FACTOR 16u
#define ORCHLOG_DECODE_FLOOR 65536u

/* A counting protobuf-c allocator. Pass &b->base to *__unpack and to *__free_unpacked of the
 * same message: the count only stays right if frees go through it too. */
typedef struct orchlog_budget {
    ProtobufCAllocator base;
    size_t used;  /* bytes handed out and not freed yet */
    size_t limit; /* used never goes above this */
    size_t peak;  /* high-water mark of used */
    int refused;  /* an allocation was refused for the budget since orchlog_budget_start */
    int oom;      /* malloc itself failed since orchlog_budget_start */
} orchlog_budget;

/* max(ORCHLOG_DECODE_FLOOR, ORCHLOG_DECODE_FACTOR * n), saturated. */
size_t orchlog_decode_budget(size_t n);
/* Sets up b with nothing in use and a limit of 0. */
void orchlog_budget_init(orchlog_budget *b);
/* Before decoding n bytes: allows orchlog_decode_budget(n) more bytes than are in use now. */
void orchlog_budget_start(orchlog_budget *b, size_t n);

typedef struct orchlog_reader {
    int err;            /* 0 or 1: the reader failed and stays failed */
    char errstr[128];
    int code;           /* status code of the failure (INVALID_ARGUMENT, RESOURCE_EXHAUSTED) */
    /* Limits (fields, may be changed after create). */
    uint32_t max_frame_bytes; /* largest payload accepted; default 4 MiB */
    /* Decoding of frames; budget.peak is the most its frames held at once. */
    orchlog_budget budget;
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
 * needed, ORCHLOG_READER_OK with a frame (free it with orchlog_reader_frame_free(r, f), before
 * orchlog_reader_free), or ORCHLOG_READER_ERR (see r->errstr).
 */
int orchlog_reader_get_frame(orchlog_reader *r, Orchlog__V1__Frame **frame);
/* Frees a frame returned by orchlog_reader_get_frame through the reader's budget. NULL is ok. */
void orchlog_reader_frame_free(orchlog_reader *r, Orchlog__V1__Frame *f);
/* Bytes fed but not consumed yet. */
size_t orchlog_reader_buffered(const orchlog_reader *r);
/* Frees the reader. Free its frames first. */
void orchlog_reader_free(orchlog_reader *r);
/* Drops buffered bytes and the error state and restores the default limit (for a new
 * connection). Frames already taken stay valid, and the budget keeps counting them. */
void orchlog_reader_reset(orchlog_reader *r);

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
