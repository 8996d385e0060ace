/* Fluentd forward protocol (v1 spec, "Forward Protocol Specification v1"), PackedForward mode:
 *   [tag, entries, option]  entries = bin of concatenated [EventTime, record] arrays,
 *   option = {"size": n, "chunk": id}; with ack the receiver answers {"ack": id}.
 * The record is the event JSON turned into the same msgpack map (jansson parses it here, in the
 * sink thread, never on the packet path). A batch is resent until its chunk is acknowledged. */
#include <errno.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mw_encode.h"
#include "mw_msgpack.h"
#include "out_sink.h"

#define FLUENT_BATCH_MAX_BYTES (64u << 20)
#define FLUENT_ACK_MAX 1024

typedef struct {
    int fd;
    mw_buf entries;
    mw_buf msg;
    uint64_t seq;
    char chunk[MW_B64_LEN(16)];
} fluent_state;

static int buf_write(void *data, const char *p, size_t n) {
    return mw_buf_append(data, p, n) ? 0 : -1;
}

static bool pack_json(msgpack_packer *pk, const json_t *v, int depth) {
    if (depth > 64) return false;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (msgpack_pack_map(pk, json_object_size(v)) != 0) return false;
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)(uintptr_t)v, k, e) {
            size_t kl = strlen(k);
            if (msgpack_pack_str(pk, kl) != 0 || msgpack_pack_str_body(pk, k, kl) != 0 ||
                !pack_json(pk, e, depth + 1))
                return false;
        }
        return true;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (msgpack_pack_array(pk, n) != 0) return false;
        for (size_t i = 0; i < n; i++)
            if (!pack_json(pk, json_array_get(v, i), depth + 1)) return false;
        return true;
    }
    case JSON_STRING: {
        size_t l = json_string_length(v);
        return msgpack_pack_str(pk, l) == 0 &&
               msgpack_pack_str_body(pk, json_string_value(v), l) == 0;
    }
    case JSON_INTEGER:
        return msgpack_pack_int64(pk, (int64_t)json_integer_value(v)) == 0;
    case JSON_REAL:
        return msgpack_pack_double(pk, json_real_value(v)) == 0;
    case JSON_TRUE:
        return msgpack_pack_true(pk) == 0;
    case JSON_FALSE:
        return msgpack_pack_false(pk) == 0;
    case JSON_NULL:
        return msgpack_pack_nil(pk) == 0;
    }
    return false;
}

/* One [EventTime, record] entry. EventTime is ext type 0: seconds and nanoseconds, 32-bit
 * big-endian each. */
static bool pack_entry(msgpack_packer *pk, const out_item *it) {
    json_error_t jerr;
    json_t *root = json_loadb(it->data, it->len, 0, &jerr);
    if (!root) /* an integer past int64: keep the event rather than lose it */
        root = json_loadb(it->data, it->len, JSON_DECODE_INT_AS_REAL, &jerr);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return false;
    }
    int64_t sec;
    int32_t usec;
    if (!out_event_time(it->data, it->len, &sec, &usec)) out_time_now(&sec, &usec);
    uint32_t s32 = (uint32_t)sec, ns = (uint32_t)usec * 1000u;
    unsigned char t[8] = {(unsigned char)(s32 >> 24), (unsigned char)(s32 >> 16),
                          (unsigned char)(s32 >> 8),  (unsigned char)s32,
                          (unsigned char)(ns >> 24),  (unsigned char)(ns >> 16),
                          (unsigned char)(ns >> 8),   (unsigned char)ns};
    bool ok = msgpack_pack_array(pk, 2) == 0 && msgpack_pack_ext_with_body(pk, t, 8, 0) == 0 &&
              pack_json(pk, root, 0);
    json_decref(root);
    return ok;
}

static bool fluent_open(out_sink *s, char *err, size_t errlen) {
    fluent_state *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    st->fd = -1;
    mw_buf_init(&st->entries, FLUENT_BATCH_MAX_BYTES);
    mw_buf_init(&st->msg, FLUENT_BATCH_MAX_BYTES + 4096);
    s->proto = st;
    return true;
}

static void fluent_disconnect(out_sink *s) {
    fluent_state *st = s->proto;
    if (st->fd >= 0) close(st->fd);
    st->fd = -1;
}

static void fluent_close(out_sink *s) {
    fluent_state *st = s->proto;
    if (!st) return;
    fluent_disconnect(s);
    mw_buf_free(&st->entries);
    mw_buf_free(&st->msg);
    free(st);
    s->proto = NULL;
}

/* Chunk ids only need to be unique per connection; pid, sequence and time make them unique
 * across restarts too. */
static void new_chunk(fluent_state *st) {
    int64_t sec;
    int32_t usec;
    out_time_now(&sec, &usec);
    uint64_t q = ++st->seq, pid = (uint64_t)getpid(),
             tm = (uint64_t)sec * 1000000u + (uint64_t)usec;
    uint8_t b[16];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(q >> (8 * i));
    for (int i = 0; i < 4; i++)
        b[8 + i] = (uint8_t)(pid >> (8 * i));
    for (int i = 0; i < 4; i++)
        b[12 + i] = (uint8_t)(tm >> (8 * i));
    mw_b64(st->chunk, b, sizeof b);
}

/* How long to wait for one ack: ack_timeout, and while a shutdown deadline runs at most half
 * of what is left of it, so that a batch whose ack never comes can still be sent once more
 * (to a new connection) within the budget. */
static int ack_wait_ms(out_sink *s) {
    int64_t t = s->cfg.ack_timeout_ms ? s->cfg.ack_timeout_ms : s->cfg.timeout_ms;
    int64_t dl = atomic_load(&s->deadline_ms);
    if (dl != INT64_MAX) {
        int64_t half = (dl - out_now_ms()) / 2;
        if (half < t) t = half;
    }
    return t < 0 ? 0 : (int)t;
}

/* Waits for {"ack": chunk}. */
static bool read_ack(out_sink *s, fluent_state *st) {
    char buf[FLUENT_ACK_MAX];
    size_t have = 0;
    int64_t until = out_now_ms() + ack_wait_ms(s);
    for (;;) {
        int64_t left = out_left_ms(s, until);
        if (left <= 0 || !out_wait_readable(s, st->fd, (int)left)) {
            out_set_err(s, "no ack for chunk %s within %d ms", st->chunk, ack_wait_ms(s));
            return false;
        }
        ssize_t got = recv(st->fd, buf + have, sizeof buf - have, 0);
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (got <= 0) {
            out_set_err(s, "the collector closed the connection before acknowledging");
            return false;
        }
        have += (size_t)got;
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        size_t off = 0;
        bool truncated = false;
        /* shape first: an answer declaring 2^32 entries must not make msgpack-c allocate */
        msgpack_unpack_return ur =
            mw_msgpack_shape((const uint8_t *)buf, have, &truncated) == 0
                ? (truncated ? MSGPACK_UNPACK_CONTINUE : MSGPACK_UNPACK_PARSE_ERROR)
                : msgpack_unpack_next(&u, buf, have, &off);
        if (ur == MSGPACK_UNPACK_CONTINUE && have < sizeof buf) {
            msgpack_unpacked_destroy(&u);
            continue;
        }
        bool ok = false;
        if (ur == MSGPACK_UNPACK_SUCCESS && u.data.type == MSGPACK_OBJECT_MAP) {
            for (uint32_t i = 0; i < u.data.via.map.size; i++) {
                msgpack_object_kv *kv = &u.data.via.map.ptr[i];
                if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 3 &&
                    memcmp(kv->key.via.str.ptr, "ack", 3) == 0 &&
                    kv->val.type == MSGPACK_OBJECT_STR &&
                    kv->val.via.str.size == strlen(st->chunk) &&
                    memcmp(kv->val.via.str.ptr, st->chunk, kv->val.via.str.size) == 0)
                    ok = true;
            }
        }
        msgpack_unpacked_destroy(&u);
        if (!ok) out_set_err(s, "an answer that is not the ack of chunk %s", st->chunk);
        return ok;
    }
}

static out_send_rc fluent_send(out_sink *s, out_item **batch, size_t *n, uint64_t *rejected) {
    fluent_state *st = s->proto;
    char err[256];
    if (st->fd >= 0) {
        /* Without ack the receiver never talks: readable means closed. With ack, a stale
         * unread ack would be a protocol error too. Either way: reconnect. */
        char ch;
        ssize_t r = recv(st->fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
        if (r == 0 || r > 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            fluent_disconnect(s);
    }
    if (st->fd < 0) {
        st->fd = out_tcp_connect(s, s->cfg.host, s->cfg.port, out_attempt_ms(s), err, sizeof err);
        if (st->fd < 0) return OUT_SEND_RETRY;
    }

    mw_buf_reset(&st->entries);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &st->entries, buf_write);
    size_t total = *n, kept = 0;
    for (size_t i = 0; i < total; i++) {
        size_t before = st->entries.len;
        if (!pack_entry(&pk, batch[i])) {
            st->entries.len = before;
            (*rejected)++; /* not a JSON object, or past the byte cap */
            continue;
        }
        batch[kept++] = batch[i];
    }
    *n = kept;
    if (kept == 0) return OUT_SEND_OK;

    new_chunk(st);
    mw_buf_reset(&st->msg);
    msgpack_packer_init(&pk, &st->msg, buf_write);
    size_t tl = strlen(s->cfg.tag), cl = strlen(st->chunk);
    bool ok = msgpack_pack_array(&pk, 3) == 0 && msgpack_pack_str(&pk, tl) == 0 &&
              msgpack_pack_str_body(&pk, s->cfg.tag, tl) == 0 &&
              msgpack_pack_bin(&pk, st->entries.len) == 0 &&
              msgpack_pack_bin_body(&pk, st->entries.data, st->entries.len) == 0 &&
              msgpack_pack_map(&pk, s->cfg.ack ? 2 : 1) == 0 && msgpack_pack_str(&pk, 4) == 0 &&
              msgpack_pack_str_body(&pk, "size", 4) == 0 && msgpack_pack_uint64(&pk, kept) == 0;
    if (ok && s->cfg.ack)
        ok = msgpack_pack_str(&pk, 5) == 0 && msgpack_pack_str_body(&pk, "chunk", 5) == 0 &&
             msgpack_pack_str(&pk, cl) == 0 && msgpack_pack_str_body(&pk, st->chunk, cl) == 0;
    if (!ok) {
        *rejected += kept;
        *n = 0;
        return OUT_SEND_REJECTED;
    }
    if (!out_write_all(s, st->fd, st->msg.data, st->msg.len, out_attempt_ms(s), NULL))
        return OUT_SEND_RETRY; /* the whole batch again: frames are not split */
    if (s->cfg.ack && !read_ack(s, st)) return OUT_SEND_RETRY;
    return OUT_SEND_OK;
}

const out_net_ops out_fluentd_ops = {
    .type_name = "fluentd",
    .open = fluent_open,
    .send = fluent_send,
    .disconnect = fluent_disconnect,
    .close = fluent_close,
};
