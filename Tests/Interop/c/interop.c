/*
 * orchlog interop driver for the C client (Tests/Interop/README.md).
 *
 *   interop write --server HOST:PORT --writer NAME --scenario FILE
 *   interop read --server HOST:PORT --writer NAME --scenario FILE
 *   interop follow --server HOST:PORT --parent ID --count N [--timeout S]
 *   interop append-children --server HOST:PORT --parent ID --prefix P --count N
 *   interop list-children --server HOST:PORT --parent ID
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orchlog.h"

/* ---- small helpers ---------------------------------------------------------------------- */

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "c interop: out of memory\n");
        exit(2);
    }
    return p;
}

static char *xstrdup(const char *s) {
    if (s == NULL) return NULL;
    size_t n = strlen(s) + 1;
    char *p = xmalloc(n);
    memcpy(p, s, n);
    return p;
}

/* A growable byte buffer. */
typedef struct {
    char *data;
    size_t len, cap;
} buf;

static void buf_add(buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap) cap *= 2;
        char *d = xmalloc(cap);
        if (b->data) memcpy(d, b->data, b->len);
        free(b->data);
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void buf_str(buf *b, const char *s) { buf_add(b, s, strlen(s)); }

static void buf_fmt(buf *b, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    buf_str(b, tmp);
}

/* ---- SHA-256 (FIPS 180-4) --------------------------------------------------------------- */

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t h[8], const unsigned char *p) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = ((uint32_t)p[4 * i] << 24) | ((uint32_t)p[4 * i + 1] << 16) |
               ((uint32_t)p[4 * i + 2] << 8) | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROTR(w[i - 15], 7) ^ ROTR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROTR(w[i - 2], 17) ^ ROTR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t S1 = ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = hh + S1 + ch + K256[i] + w[i];
        uint32_t S0 = ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = S0 + maj;
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d;
    h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

static void sha256(const unsigned char *msg, size_t len, unsigned char out[32]) {
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    size_t full = len / 64;
    for (size_t i = 0; i < full; i++) sha256_block(h, msg + 64 * i);
    unsigned char tail[128] = {0};
    size_t rest = len - 64 * full;
    memcpy(tail, msg + 64 * full, rest);
    tail[rest] = 0x80;
    size_t tlen = rest + 1 + 8 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++) tail[tlen - 1 - i] = (unsigned char)(bits >> (8 * i));
    sha256_block(h, tail);
    if (tlen == 128) sha256_block(h, tail + 64);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(h[i] >> 8);
        out[4 * i + 3] = (unsigned char)h[i];
    }
}

/* SHA-256 of "writer/label", first 16 bytes, version 8, variant 10, lower-case 8-4-4-4-12. */
static void derive_id(const char *writer, const char *label, char out[37]) {
    buf b = {0};
    buf_str(&b, writer);
    buf_str(&b, "/");
    buf_str(&b, label);
    unsigned char d[32];
    sha256((const unsigned char *)b.data, b.len, d);
    free(b.data);
    d[6] = (unsigned char)((d[6] & 0x0f) | 0x80);
    d[8] = (unsigned char)((d[8] & 0x3f) | 0x80);
    static const char hex[] = "0123456789abcdef";
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
        out[o++] = hex[d[i] >> 4];
        out[o++] = hex[d[i] & 15];
    }
    out[o] = '\0';
}

/* ---- scenario ---------------------------------------------------------------------------- */

#define MAXF 12

typedef struct {
    int n;
    char *f[MAXF]; /* NULL = \N */
} op;

static char *unescape(const char *s, size_t n) {
    if (n == 2 && s[0] == '\\' && s[1] == 'N') return NULL;
    char *out = xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n) {
            char c = s[i + 1];
            if (c == 't') out[o++] = '\t';
            else if (c == 'n') out[o++] = '\n';
            else if (c == 'r') out[o++] = '\r';
            else if (c == '\\') out[o++] = '\\';
            else {
                out[o++] = '\\';
                out[o++] = c;
            }
            i++;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

static void escape(buf *b, const char *s) {
    if (s == NULL) {
        buf_str(b, "\\N");
        return;
    }
    for (; *s; s++) {
        switch (*s) {
        case '\\': buf_str(b, "\\\\"); break;
        case '\t': buf_str(b, "\\t"); break;
        case '\n': buf_str(b, "\\n"); break;
        case '\r': buf_str(b, "\\r"); break;
        default: buf_add(b, s, 1);
        }
    }
}

static op *load_scenario(const char *path, size_t *count) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "c interop: %s: %s\n", path, strerror(errno));
        exit(2);
    }
    buf all = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_add(&all, chunk, n);
    fclose(f);
    size_t cap = 64, len = 0;
    op *ops = xmalloc(cap * sizeof *ops);
    char *p = all.data ? all.data : "";
    while (*p) {
        char *nl = strchr(p, '\n');
        size_t ll = nl ? (size_t)(nl - p) : strlen(p);
        if (ll > 0 && p[0] != '#') {
            if (len == cap) {
                cap *= 2;
                op *bigger = xmalloc(cap * sizeof *ops);
                memcpy(bigger, ops, len * sizeof *ops);
                free(ops);
                ops = bigger;
            }
            op *o = &ops[len++];
            memset(o, 0, sizeof *o);
            size_t start = 0;
            for (size_t i = 0; i <= ll; i++) {
                if (i == ll || p[i] == '\t') {
                    if (o->n == MAXF) {
                        fprintf(stderr, "c interop: too many fields in a line\n");
                        exit(2);
                    }
                    o->f[o->n++] = unescape(p + start, i - start);
                    start = i + 1;
                }
            }
        }
        p += ll;
        if (*p == '\n') p++;
    }
    free(all.data);
    *count = len;
    return ops;
}

static const char *g_writer;

/* A label's id (malloc'ed): "=text" is the raw text, "^label" the derived id in upper case;
 * NULL stays NULL. */
static char *id_of(const char *label) {
    if (label == NULL) return NULL;
    if (label[0] == '=') return xstrdup(label + 1);
    char *out = xmalloc(37);
    if (label[0] == '^') {
        derive_id(g_writer, label + 1, out);
        for (char *p = out; *p; p++) *p = (char)toupper((unsigned char)*p);
    } else {
        derive_id(g_writer, label, out);
    }
    return out;
}

/* An append's fields: label parent category content order elaboration, from f[first]. */
typedef struct {
    const char *label;
    orchlog_entry e; /* strings owned: id, parent */
} spec;

static spec make_spec(const op *o, int first) {
    spec s;
    memset(&s, 0, sizeof s);
    if (o->n < first + 6) {
        fprintf(stderr, "c interop: short append line\n");
        exit(2);
    }
    s.label = o->f[first];
    s.e.orchestration_session_log_id = id_of(o->f[first]);
    s.e.parent_exec_id = id_of(o->f[first + 1]);
    s.e.category = o->f[first + 2];
    s.e.content = o->f[first + 3];
    if (o->f[first + 4] != NULL) {
        s.e.has_sibling_order = 1;
        s.e.sibling_order = strtoll(o->f[first + 4], NULL, 10);
    }
    s.e.elaboration = o->f[first + 5];
    return s;
}

static int streq(const char *a, const char *b) {
    if (a == NULL || b == NULL) return a == b;
    return strcmp(a, b) == 0;
}

/* An id as stored (lower case) equals the id sent (any case). */
static int id_eq(const char *stored_id, const char *sent) {
    if (stored_id == NULL || sent == NULL) return stored_id == sent;
    for (; *stored_id && *sent; stored_id++, sent++)
        if (*stored_id != (char)tolower((unsigned char)*sent)) return 0;
    return *stored_id == *sent;
}

/* ---- write ------------------------------------------------------------------------------- */

static int g_failures;

static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "c write %s: MISMATCH: ", g_writer);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    g_failures++;
}

typedef struct {
    char *label;
    uint64_t seq;
} seqrec;

static seqrec *g_seqs;
static size_t g_nseqs, g_capseqs;

static uint64_t *seq_slot(const char *label, int create) {
    for (size_t i = 0; i < g_nseqs; i++)
        if (strcmp(g_seqs[i].label, label) == 0) return &g_seqs[i].seq;
    if (!create) return NULL;
    if (g_nseqs == g_capseqs) {
        g_capseqs = g_capseqs ? 2 * g_capseqs : 64;
        seqrec *n = xmalloc(g_capseqs * sizeof *n);
        if (g_seqs) memcpy(n, g_seqs, g_nseqs * sizeof *n);
        free(g_seqs);
        g_seqs = n;
    }
    g_seqs[g_nseqs].label = xstrdup(label);
    g_seqs[g_nseqs].seq = 0;
    return &g_seqs[g_nseqs++].seq;
}

static void check_stored(const spec *s, const orchlog_entry *e, int created, int want_created) {
    if (created != want_created)
        fail("%s: created=%d, expected %d", s->label, created, want_created);
    if (!id_eq(e->orchestration_session_log_id, s->e.orchestration_session_log_id))
        fail("%s: stored id differs", s->label);
    if (!streq(e->category, s->e.category)) fail("%s: stored category differs", s->label);
    if (!id_eq(e->parent_exec_id, s->e.parent_exec_id)) fail("%s: stored parent differs", s->label);
    if (!streq(e->content, s->e.content)) fail("%s: stored content differs", s->label);
    if (!streq(e->elaboration, s->e.elaboration)) fail("%s: stored elaboration differs", s->label);
    if (s->e.has_sibling_order && (!e->has_sibling_order || e->sibling_order != s->e.sibling_order))
        fail("%s: stored sibling_order differs", s->label);
    if (!e->has_sibling_order || !e->has_seq) fail("%s: stored entry without order or seq", s->label);
    if (want_created) {
        *seq_slot(s->label, 1) = e->seq;
    } else {
        uint64_t *first = seq_slot(s->label, 0);
        if (first == NULL || *first != e->seq)
            fail("%s: retry returned seq %" PRIu64 ", first append had %" PRIu64, s->label, e->seq,
                 first ? *first : 0);
    }
}

static void free_spec(spec *s) {
    free(s->e.orchestration_session_log_id);
    free(s->e.parent_exec_id);
}

static int status_of(const char *name) {
    for (int i = 0; i <= 16; i++)
        if (strcmp(orchlog_status_name(i), name) == 0) return i;
    fprintf(stderr, "c interop: unknown status %s\n", name);
    exit(2);
}

static void expect_status(orchlog_ctx *c, const char *what, int rc, const char *want) {
    if (rc == ORCHLOG_OK) {
        fail("%s: succeeded, expected %s", what, want);
    } else if (rc != status_of(want)) {
        fail("%s: got %s (%s), expected %s", what, orchlog_status_name(rc), c->errstr, want);
    }
}

/* Drains a stream; returns its final status. */
static int drain(orchlog_stream *s) {
    if (s == NULL) {
        fprintf(stderr, "c interop: out of memory\n");
        exit(2);
    }
    orchlog_entry *e;
    int rc;
    while ((rc = orchlog_stream_next_timeout(s, &e, NULL, 30000)) == ORCHLOG_STREAM_ITEM)
        orchlog_entry_free(e);
    int st = rc == ORCHLOG_STREAM_END ? orchlog_stream_status(s) : ORCHLOG_DEADLINE_EXCEEDED;
    orchlog_stream_free(s);
    return st;
}

static int find_op(const op *ops, size_t n, const char *label) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(ops[i].f[0], "append") == 0 && streq(ops[i].f[1], label)) return (int)i;
    return -1;
}

static int do_write(orchlog_ctx *c, const op *ops, size_t nops) {
    spec batch[256];
    size_t nbatch = 0;
    int in_batch = 0;
    const char *batch_status = "OK";
    for (size_t i = 0; i < nops; i++) {
        const op *o = &ops[i];
        const char *kind = o->f[0];
        if (strcmp(kind, "append") == 0) {
            spec s = make_spec(o, 1);
            if (in_batch) {
                if (nbatch == 256) {
                    fprintf(stderr, "c interop: batch too long\n");
                    exit(2);
                }
                batch[nbatch++] = s;
                continue;
            }
            orchlog_entry *out = NULL;
            int created = 0;
            int rc = orchlog_append(c, &s.e, &out, &created);
            if (rc != ORCHLOG_OK) fail("append %s: %s", s.label, c->errstr);
            else check_stored(&s, out, created, 1);
            orchlog_entry_free(out);
            free_spec(&s);
        } else if (strcmp(kind, "batch-begin") == 0) {
            in_batch = 1;
            nbatch = 0;
            batch_status = o->n > 1 ? o->f[1] : "OK";
        } else if (strcmp(kind, "batch-end") == 0) {
            orchlog_entry entries[256];
            for (size_t k = 0; k < nbatch; k++) entries[k] = batch[k].e;
            orchlog_batch_result *r = NULL;
            int rc = orchlog_append_batch(c, entries, nbatch, &r);
            if (strcmp(batch_status, "OK") == 0) {
                if (rc != ORCHLOG_OK) {
                    fail("batch: %s", c->errstr);
                } else if (r->n != nbatch) {
                    fail("batch: %zu results for %zu entries", r->n, nbatch);
                } else {
                    for (size_t k = 0; k < nbatch; k++)
                        check_stored(&batch[k], r->entries[k], r->created[k], 1);
                }
            } else {
                expect_status(c, "batch", rc, batch_status);
            }
            orchlog_batch_result_free(r);
            for (size_t k = 0; k < nbatch; k++) free_spec(&batch[k]);
            in_batch = 0;
            nbatch = 0;
        } else if (strcmp(kind, "retry") == 0) {
            int at = find_op(ops, nops, o->f[1]);
            if (at < 0) {
                fail("retry %s: no such append", o->f[1]);
                continue;
            }
            spec s = make_spec(&ops[at], 1);
            orchlog_entry *out = NULL;
            int created = 1;
            int rc = orchlog_append(c, &s.e, &out, &created);
            if (rc != ORCHLOG_OK) fail("retry %s: %s", s.label, c->errstr);
            else check_stored(&s, out, created, 0);
            orchlog_entry_free(out);
            free_spec(&s);
        } else if (strcmp(kind, "error") == 0) {
            const char *want = o->f[1], *what = o->f[2];
            char desc[256];
            snprintf(desc, sizeof desc, "error %s %s", what, o->f[3] ? o->f[3] : "\\N");
            if (strcmp(what, "append") == 0) {
                spec s = make_spec(o, 3);
                orchlog_entry *out = NULL;
                int rc = orchlog_append(c, &s.e, &out, NULL);
                expect_status(c, desc, rc, want);
                orchlog_entry_free(out);
                free_spec(&s);
            } else if (strcmp(what, "get-log") == 0) {
                char *id = id_of(o->f[3]);
                orchlog_entry *out = NULL;
                int rc = orchlog_get(c, id, &out);
                expect_status(c, desc, rc, want);
                orchlog_entry_free(out);
                free(id);
            } else if (strcmp(what, "get-tree") == 0 || strcmp(what, "children") == 0) {
                char *id = id_of(o->f[3]);
                orchlog_stream *s = strcmp(what, "get-tree") == 0
                                        ? orchlog_tree_open(c, id, 0)
                                        : orchlog_children_open(c, id, 0, 0);
                int st = drain(s);
                if (st == ORCHLOG_OK) fail("%s: succeeded, expected %s", desc, want);
                else if (st != status_of(want))
                    fail("%s: got %s, expected %s", desc, orchlog_status_name(st), want);
                free(id);
            } else {
                fail("unknown error op %s", what);
            }
        } else {
            fail("unknown op %s", kind);
        }
    }
    fprintf(stderr, "c write %s: %zu ops, 0 skipped, %d mismatches\n", g_writer, nops, g_failures);
    return g_failures ? 1 : 0;
}

/* ---- read -------------------------------------------------------------------------------- */

typedef struct {
    const char *label;
    const char *parent_label;
    char id[37];
    uint64_t seq;
    uint64_t rank;
} stored;

static stored *g_stored;
static size_t g_nstored;

static const stored *by_id(const char *id) {
    if (id == NULL) return NULL;
    for (size_t i = 0; i < g_nstored; i++)
        if (strcmp(g_stored[i].id, id) == 0) return &g_stored[i];
    return NULL;
}

static void ref(buf *b, const char *id) {
    if (id == NULL) {
        buf_str(b, "\\N");
        return;
    }
    const stored *s = by_id(id);
    if (s) {
        escape(b, s->label);
    } else {
        buf_str(b, "?");
        buf_str(b, id);
    }
}

static void fmt_entry(buf *b, const orchlog_entry *e) {
    ref(b, e->orchestration_session_log_id);
    buf_str(b, "\t");
    ref(b, e->parent_exec_id);
    buf_str(b, "\t");
    escape(b, e->category);
    buf_str(b, "\t");
    escape(b, e->content);
    buf_str(b, "\t");
    if (e->has_sibling_order) buf_fmt(b, "%" PRId64, e->sibling_order);
    else buf_str(b, "\\N");
    buf_str(b, "\t");
    escape(b, e->elaboration);
    buf_str(b, "\t");
    const stored *s = NULL;
    for (size_t i = 0; i < g_nstored; i++)
        if (g_stored[i].seq == e->seq) s = &g_stored[i];
    if (s) buf_fmt(b, "%" PRIu64, s->rank);
    else buf_fmt(b, "?%" PRIu64, e->seq);
    buf_str(b, "\n");
}

static void stream_failed(const char *what, orchlog_stream *s, int rc) {
    fprintf(stderr, "c read %s: %s: %s %s\n", g_writer, what,
            rc == ORCHLOG_STREAM_TIMEOUT ? "TIMEOUT" : orchlog_status_name(orchlog_stream_status(s)),
            orchlog_stream_message(s));
    exit(1);
}

static int do_read(orchlog_ctx *c, const op *ops, size_t nops) {
    g_stored = xmalloc((nops + 1) * sizeof *g_stored);
    size_t batch_start = 0;
    int in_batch = 0;
    for (size_t i = 0; i < nops; i++) {
        const op *o = &ops[i];
        if (strcmp(o->f[0], "append") == 0) {
            stored *s = &g_stored[g_nstored++];
            memset(s, 0, sizeof *s);
            s->label = o->f[1][0] == '^' ? o->f[1] + 1 : o->f[1];
            s->parent_label = o->f[2];
            derive_id(g_writer, s->label, s->id);
        } else if (strcmp(o->f[0], "batch-begin") == 0) {
            in_batch = 1;
            batch_start = g_nstored;
            if (o->n > 1 && strcmp(o->f[1], "OK") != 0) in_batch = 2;
        } else if (strcmp(o->f[0], "batch-end") == 0) {
            if (in_batch == 2) g_nstored = batch_start; /* a failing batch stores nothing */
            in_batch = 0;
        }
    }
    orchlog_entry **logs = xmalloc((g_nstored + 1) * sizeof *logs);
    for (size_t i = 0; i < g_nstored; i++) {
        if (orchlog_get(c, g_stored[i].id, &logs[i]) != ORCHLOG_OK) {
            fprintf(stderr, "c read %s: get %s: %s\n", g_writer, g_stored[i].label, c->errstr);
            return 1;
        }
        g_stored[i].seq = logs[i]->seq;
    }
    for (size_t i = 0; i < g_nstored; i++) {
        uint64_t r = 1;
        for (size_t j = 0; j < g_nstored; j++)
            if (g_stored[j].seq < g_stored[i].seq) r++;
        g_stored[i].rank = r;
    }
    buf out = {0};
    for (size_t i = 0; i < g_nstored; i++) {
        buf_str(&out, "log\t");
        fmt_entry(&out, logs[i]);
        orchlog_entry_free(logs[i]);
    }
    free(logs);
    orchlog_entry *e;
    uint32_t depth;
    int rc;
    orchlog_stream *s = orchlog_children_open(c, NULL, 0, 0);
    while ((rc = orchlog_stream_next_timeout(s, &e, NULL, 30000)) == ORCHLOG_STREAM_ITEM) {
        if (by_id(e->orchestration_session_log_id)) {
            buf_str(&out, "roots\t");
            fmt_entry(&out, e);
        }
        orchlog_entry_free(e);
    }
    if (rc != ORCHLOG_STREAM_END || orchlog_stream_status(s) != ORCHLOG_OK) stream_failed("roots", s, rc);
    orchlog_stream_free(s);
    /* Every root's tree, whole ("tree") and to depth 2 ("tree2"). */
    static const struct { const char *tag; uint32_t max_depth; } trees[] = {{"tree", 0}, {"tree2", 2}};
    for (size_t t = 0; t < sizeof(trees) / sizeof(trees[0]); t++) {
        for (size_t i = 0; i < g_nstored; i++) {
            if (g_stored[i].parent_label != NULL) continue;
            s = orchlog_tree_open(c, g_stored[i].id, trees[t].max_depth);
            while ((rc = orchlog_stream_next_timeout(s, &e, &depth, 30000)) == ORCHLOG_STREAM_ITEM) {
                buf_str(&out, trees[t].tag);
                buf_str(&out, "\t");
                escape(&out, g_stored[i].label);
                buf_fmt(&out, "\t%" PRIu32 "\t", depth);
                fmt_entry(&out, e);
                orchlog_entry_free(e);
            }
            if (rc != ORCHLOG_STREAM_END || orchlog_stream_status(s) != ORCHLOG_OK) stream_failed("tree", s, rc);
            orchlog_stream_free(s);
        }
    }
    for (size_t i = 0; i < g_nstored; i++) {
        /* all children, then (with two or more) the children after the first one's seq */
        uint64_t after = 0;
        size_t n = 0;
        for (int pass = 0; pass < 2; pass++) {
            if (pass == 1 && n < 2) break;
            s = orchlog_children_open(c, g_stored[i].id, after, 0);
            while ((rc = orchlog_stream_next_timeout(s, &e, NULL, 30000)) == ORCHLOG_STREAM_ITEM) {
                buf_str(&out, pass == 0 ? "children\t" : "after\t");
                escape(&out, g_stored[i].label);
                buf_str(&out, "\t");
                fmt_entry(&out, e);
                if (pass == 0 && n++ == 0) after = e->seq;
                orchlog_entry_free(e);
            }
            if (rc != ORCHLOG_STREAM_END || orchlog_stream_status(s) != ORCHLOG_OK)
                stream_failed("children", s, rc);
            orchlog_stream_free(s);
        }
    }
    if (out.len) fwrite(out.data, 1, out.len, stdout);
    free(out.data);
    free(g_stored);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- follow, append-children, list-children --------------------------------------------- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int do_follow(orchlog_ctx *c, const char *parent, long count, double timeout) {
    double deadline = now_s() + timeout;
    orchlog_stream *s = orchlog_children_open(c, parent, 0, 1);
    long got = 0;
    while (got < count) {
        double left = deadline - now_s();
        if (left <= 0) break;
        orchlog_entry *e;
        int rc = orchlog_stream_next_timeout(s, &e, NULL, (int)(left * 1000) + 1);
        if (rc == ORCHLOG_STREAM_TIMEOUT) break;
        if (rc == ORCHLOG_STREAM_END) {
            fprintf(stderr, "c follow: stream ended: %s %s\n",
                    orchlog_status_name(orchlog_stream_status(s)), orchlog_stream_message(s));
            break;
        }
        printf("%s\n", e->orchestration_session_log_id);
        fflush(stdout);
        orchlog_entry_free(e);
        got++;
    }
    orchlog_stream_free(s);
    if (got != count) {
        fprintf(stderr, "c follow: %ld of %ld children within %.0f s\n", got, count, timeout);
        return 1;
    }
    return 0;
}

static int do_append_children(orchlog_ctx *c, const char *parent, const char *prefix, long count) {
    for (long i = 0; i < count; i++) {
        char content[512];
        snprintf(content, sizeof content, "%s%ld", prefix, i);
        orchlog_entry e;
        memset(&e, 0, sizeof e);
        e.parent_exec_id = (char *)parent;
        e.content = content;
        int created = 0;
        if (orchlog_append(c, &e, NULL, &created) != ORCHLOG_OK || !created) {
            fprintf(stderr, "c append-children: %s: %s\n", content, c->errstr);
            return 1;
        }
    }
    return 0;
}

static int do_list_children(orchlog_ctx *c, const char *parent) {
    orchlog_stream *s = orchlog_children_open(c, parent, 0, 0);
    orchlog_entry *e;
    int rc;
    while ((rc = orchlog_stream_next_timeout(s, &e, NULL, 30000)) == ORCHLOG_STREAM_ITEM) {
        printf("%s\n", e->orchestration_session_log_id);
        orchlog_entry_free(e);
    }
    int st = rc == ORCHLOG_STREAM_END ? orchlog_stream_status(s) : ORCHLOG_DEADLINE_EXCEEDED;
    orchlog_stream_free(s);
    if (st != ORCHLOG_OK) {
        fprintf(stderr, "c list-children: %s\n", orchlog_status_name(st));
        return 1;
    }
    return 0;
}

/* ---- main -------------------------------------------------------------------------------- */

static void usage(void) {
    fprintf(stderr,
            "usage: interop MODE --server HOST:PORT [options]\n"
            "  write|read --writer NAME --scenario FILE\n"
            "  follow --parent ID --count N [--timeout S]\n"
            "  append-children --parent ID --prefix P --count N\n"
            "  list-children --parent ID\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *server = NULL, *mode = NULL, *writer = NULL, *scenario = NULL, *parent = NULL,
               *prefix = NULL;
    long count = -1;
    double timeout = 60;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] == '-' && a[1] == '-') {
            if (i + 1 >= argc) usage();
            const char *v = argv[++i];
            if (strcmp(a, "--server") == 0) server = v;
            else if (strcmp(a, "--writer") == 0) writer = v;
            else if (strcmp(a, "--scenario") == 0) scenario = v;
            else if (strcmp(a, "--parent") == 0) parent = v;
            else if (strcmp(a, "--prefix") == 0) prefix = v;
            else if (strcmp(a, "--count") == 0) count = strtol(v, NULL, 10);
            else if (strcmp(a, "--timeout") == 0) timeout = strtod(v, NULL);
            else usage();
        } else if (mode == NULL) {
            mode = a;
        } else {
            usage();
        }
    }
    if (server == NULL || mode == NULL) usage();
    const char *colon = strrchr(server, ':');
    if (colon == NULL) usage();
    char host[256];
    snprintf(host, sizeof host, "%.*s", (int)(colon - server), server);
    orchlog_ctx *c = orchlog_connect(host, atoi(colon + 1), NULL);
    if (c == NULL || c->err) {
        fprintf(stderr, "c interop: connect %s: %s\n", server, c ? c->errstr : "out of memory");
        orchlog_free(c);
        return 1;
    }
    int rc;
    if (strcmp(mode, "write") == 0 || strcmp(mode, "read") == 0) {
        if (writer == NULL || scenario == NULL) usage();
        g_writer = writer;
        size_t n;
        op *ops = load_scenario(scenario, &n);
        rc = strcmp(mode, "write") == 0 ? do_write(c, ops, n) : do_read(c, ops, n);
        for (size_t i = 0; i < n; i++)
            for (int k = 0; k < ops[i].n; k++) free(ops[i].f[k]);
        free(ops);
    } else if (strcmp(mode, "follow") == 0) {
        if (parent == NULL || count < 0) usage();
        rc = do_follow(c, parent, count, timeout);
    } else if (strcmp(mode, "append-children") == 0) {
        if (parent == NULL || prefix == NULL || count < 0) usage();
        rc = do_append_children(c, parent, prefix, count);
    } else if (strcmp(mode, "list-children") == 0) {
        if (parent == NULL) usage();
        rc = do_list_children(c, parent);
    } else {
        usage();
        rc = 2;
    }
    for (size_t i = 0; i < g_nseqs; i++) free(g_seqs[i].label);
    free(g_seqs);
    orchlog_free(c);
    return rc;
}
