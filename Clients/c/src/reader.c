/* reader.c - sans-IO frame parser (see orchlog_reader.h). */
#include "orchlog_reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchlog.h"

orchlog_reader *orchlog_reader_create(void) {
    orchlog_reader *r = calloc(1, sizeof(*r));
    if (r == NULL) return NULL;
    r->max_frame_bytes = ORCHLOG_DEFAULT_MAX_FRAME_BYTES;
    return r;
}

void orchlog_reader_free(orchlog_reader *r) {
    if (r == NULL) return;
    free(r->buf);
    free(r);
}

size_t orchlog_reader_buffered(const orchlog_reader *r) { return r->len - r->pos; }

static int reader_fail(orchlog_reader *r, int code, const char *msg) {
    r->err = 1;
    r->code = code;
    snprintf(r->errstr, sizeof(r->errstr), "%s", msg);
    return ORCHLOG_READER_ERR;
}

int orchlog_reader_feed(orchlog_reader *r, const void *data, size_t len) {
    if (r->err) return ORCHLOG_READER_ERR;
    if (len == 0) return ORCHLOG_READER_OK;
    /* Compact when at least half of the buffer has been consumed. */
    if (r->pos > 0 && (r->pos == r->len || r->pos >= r->cap / 2)) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
    }
    if (r->cap - r->len < len) {
        size_t need = r->len + len;
        size_t ncap = r->cap ? r->cap : 4096;
        while (ncap < need) {
            if (ncap > SIZE_MAX / 2) return reader_fail(r, ORCHLOG_RESOURCE_EXHAUSTED, "out of memory");
            ncap *= 2;
        }
        unsigned char *nb = realloc(r->buf, ncap);
        if (nb == NULL) return reader_fail(r, ORCHLOG_RESOURCE_EXHAUSTED, "out of memory");
        r->buf = nb;
        r->cap = ncap;
    }
    memcpy(r->buf + r->len, data, len);
    r->len += len;
    return ORCHLOG_READER_OK;
}

int orchlog_reader_get_frame(orchlog_reader *r, Orchlog__V1__Frame **frame) {
    *frame = NULL;
next:
    if (r->err) return ORCHLOG_READER_ERR;
    size_t avail = r->len - r->pos;
    if (avail < 4) return ORCHLOG_READER_OK;
    const unsigned char *p = r->buf + r->pos;
    uint32_t n = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
    if (n == 0) return reader_fail(r, ORCHLOG_INVALID_ARGUMENT, "frame length 0");
    if (n > r->max_frame_bytes) {
        char msg[128];
        snprintf(msg, sizeof(msg), "frame length %lu exceeds max_frame_bytes %lu",
                 (unsigned long)n, (unsigned long)r->max_frame_bytes);
        return reader_fail(r, ORCHLOG_RESOURCE_EXHAUSTED, msg);
    }
    if (avail - 4 < (size_t)n) return ORCHLOG_READER_OK; /* wait for the rest */
    Orchlog__V1__Frame *f = orchlog__v1__frame__unpack(NULL, n, p + 4);
    if (f == NULL) return reader_fail(r, ORCHLOG_INVALID_ARGUMENT, "undecodable frame payload");
    r->pos += 4 + (size_t)n;
    if (f->kind_case == ORCHLOG__V1__FRAME__KIND__NOT_SET) {
        /* A kind this client does not know arrives as an unknown field: ignore the frame
         * (PROTOCOL.md section 2). A frame with no field besides call_id has no kind. */
        int unknown = f->base.n_unknown_fields > 0;
        orchlog__v1__frame__free_unpacked(f, NULL);
        if (unknown) goto next;
        return reader_fail(r, ORCHLOG_INVALID_ARGUMENT, "frame without a kind");
    }
    *frame = f;
    return ORCHLOG_READER_OK;
}

int orchlog_frame_encode(const Orchlog__V1__Frame *frame, uint32_t max_frame_bytes,
                         unsigned char **out, size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    size_t n = orchlog__v1__frame__get_packed_size(frame);
    if (n == 0 || n > max_frame_bytes) return ORCHLOG_READER_ERR;
    unsigned char *b = malloc(n + 4);
    if (b == NULL) return ORCHLOG_READER_ERR;
    b[0] = (unsigned char)(n >> 24);
    b[1] = (unsigned char)(n >> 16);
    b[2] = (unsigned char)(n >> 8);
    b[3] = (unsigned char)n;
    orchlog__v1__frame__pack(frame, b + 4);
    *out = b;
    *out_len = n + 4;
    return ORCHLOG_READER_OK;
}
