/* reader.c - sans-IO frame parser (see orchlog_reader.h). */
#include "orchlog_reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchlog.h"

/* ---- decode budget ---- */

/* Each block starts with its size, so that frees keep the count exact; the union keeps the
 * block after it aligned like malloc's. */
typedef union budget_hdr {
    size_t n;
    long double ld;
    long long ll;
    void *p;
} budget_hdr;

size_t orchlog_decode_budget(size_t n) {
    if (n > SIZE_MAX / ORCHLOG_DECODE_FACTOR) return SIZE_MAX;
    n *= ORCHLOG_DECODE_FACTOR;
    return n < ORCHLOG_DECODE_FLOOR ? ORCHLOG_DECODE_FLOOR : n;
}

static void *budget_alloc(void *data, size_t size) {
    orchlog_budget *b = data;
    if (size > b->limit - b->used || b->limit - b->used - size < sizeof(budget_hdr)) {
        b->refused = 1;
        return NULL;
    }
    size_t total = size + sizeof(budget_hdr);
    budget_hdr *h = malloc(total);
    if (h == NULL) {
        b->oom = 1;
        return NULL;
    }
    h->n = total;
    b->used += total;
    if (b->used > b->peak) b->peak = b->used;
    return h + 1;
}

static void budget_free(void *data, void *ptr) {
    orchlog_budget *b = data;
    if (ptr == NULL) return;
    budget_hdr *h = (budget_hdr *)ptr - 1;
    b->used -= h->n;
    free(h);
}

void orchlog_budget_init(orchlog_budget *b) {
    memset(b, 0, sizeof(*b));
    b->base.alloc = budget_alloc;
    b->base.free = budget_free;
    b->base.allocator_data = b;
}

void orchlog_budget_start(orchlog_budget *b, size_t n) {
    size_t room = orchlog_decode_budget(n);
    b->limit = b->used > SIZE_MAX - room ? SIZE_MAX : b->used + room;
    b->refused = 0;
    b->oom = 0;
}

/* ---- reader ---- */

orchlog_reader *orchlog_reader_create(void) {
    orchlog_reader *r = calloc(1, sizeof(*r));
    if (r == NULL) return NULL;
    r->max_frame_bytes = ORCHLOG_DEFAULT_MAX_FRAME_BYTES;
    orchlog_budget_init(&r->budget);
    return r;
}

void orchlog_reader_frame_free(orchlog_reader *r, Orchlog__V1__Frame *f) {
    if (f != NULL) orchlog__v1__frame__free_unpacked(f, &r->budget.base);
}

void orchlog_reader_free(orchlog_reader *r) {
    if (r == NULL) return;
    free(r->buf);
    free(r);
}

void orchlog_reader_reset(orchlog_reader *r) {
    free(r->buf);
    r->buf = NULL;
    r->len = r->pos = r->cap = 0;
    r->err = 0;
    r->errstr[0] = '\0';
    r->code = 0;
    r->max_frame_bytes = ORCHLOG_DEFAULT_MAX_FRAME_BYTES;
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
    orchlog_budget_start(&r->budget, n);
    Orchlog__V1__Frame *f = orchlog__v1__frame__unpack(&r->budget.base, n, p + 4);
    if (f == NULL) {
        if (r->budget.refused) {
            char msg[128];
            snprintf(msg, sizeof(msg), "frame of %lu bytes needs more than %lu bytes to decode",
                     (unsigned long)n, (unsigned long)orchlog_decode_budget(n));
            return reader_fail(r, ORCHLOG_RESOURCE_EXHAUSTED, msg);
        }
        if (r->budget.oom)
            return reader_fail(r, ORCHLOG_RESOURCE_EXHAUSTED, "out of memory decoding a frame");
        return reader_fail(r, ORCHLOG_INVALID_ARGUMENT, "undecodable frame payload");
    }
    r->pos += 4 + (size_t)n;
    if (f->kind_case == ORCHLOG__V1__FRAME__KIND__NOT_SET) {
        /* A kind this client does not know arrives as an unknown field: ignore the frame
         * (PROTOCOL.md section 2). A frame with no field besides call_id has no kind. */
        int unknown = f->base.n_unknown_fields > 0;
        orchlog_reader_frame_free(r, f);
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
