/*
 * loadclient: N concurrent viewers of a multipart/x-mixed-replace MJPEG stream on loopback.
 *
 * One thread, one epoll set, non-blocking sockets. Each viewer sends `GET PATH HTTP/1.1` with a
 * non-browser User-Agent, de-chunks the transfer coding (or reads an identity body), parses the
 * multipart stream incrementally with Content-Length framing, checks each JPEG's SOI (FFD8) and
 * EOI (FFD9), and measures over a window that starts after a warm-up:
 *
 *   per-client fps (min, median), total MB/s, latency = receive time of a part's last byte minus
 *   its X-Timestamp (p50, p99, max), time to first frame (median, max), the longest gap between
 *   frames of any client, invalid JPEGs, and this process's own CPU (getrusage) over the window.
 *
 * Prints one JSON object on stdout. Prints "WINDOW_START" and "WINDOW_END" lines on stderr at
 * the window's edges so a runner can sample a server's CPU over the same interval.
 *
 *   loadclient --url http://127.0.0.1:8080/stream --clients 200 --warmup 3 --duration 10
 *              [--spread 1.0] [--rate BYTES_PER_SECOND] [--user-agent UA]
 *              [--read-size BYTES] [--rcvbuf BYTES] [--oneshot] [--copy] [--browser] [--threads N]
 *              [--h2] [--streams N] [--h2-window BYTES] [--ciphersuites LIST] [--sni NAME]
 *
 * --rate limits each viewer's reads (a slow reader); the kernel's socket buffers still fill.
 *
 * How a viewer reads (the default is the cheapest reader possible: one 256 KB recv per readiness,
 * level-triggered, bytes parsed in place):
 *   --read-size  bytes per recv (a browser's network stack reads 32 to 64 KB at a time)
 *   --rcvbuf     SO_RCVBUF (0, the default, leaves the kernel's autotuning)
 *   --oneshot    read until EAGAIN, then re-arm the descriptor with EPOLLONESHOT: Chromium's
 *                SocketPosix reads until it would block and then asks its message pump to watch
 *                the descriptor once more (one epoll_ctl per wake-up)
 *   --copy       copy each part's bytes into the viewer's own image buffer, as a browser assembles
 *                the image before decoding it
 *   --threads    viewers spread over N threads, each with its own epoll set (a browser's network
 *                and renderer threads, or several tabs: a reader that can take both cores)
 *   --browser    a browser's way of reading: 32 KB reads, one-shot re-arming and copying (the
 *                CPU it spends is taken from the server on the shared cores)
 *
 * TLS and HTTP/2 (OpenSSL, libnghttp2):
 *   https://HOST:PORT/PATH  TLS (1.2 or 1.3), certificates not verified (self-signed test certs);
 *                ALPN "http/1.1" (or "h2" with --h2). OpenSSL reads ahead into a --read-size
 *                buffer, so a readiness is still one recv of up to 256 KB, decrypted record by
 *                record; the TLS 1.3 suites offered are --ciphersuites (default
 *                TLS_AES_128_GCM_SHA256: one suite, so every server negotiates the same cipher).
 *   --h2         HTTP/2 over TLS (ALPN "h2" required): --clients connections, each with --streams
 *                concurrent GET streams (default 1); every stream is a viewer with its own fps,
 *                latency and bytes. The client sends SETTINGS with a 16 MiB initial stream window
 *                and raises the connection window to 16 MiB (--h2-window BYTES: both); nghttp2 acknowledges the server's
 *                SETTINGS, answers PINGs and sends WINDOW_UPDATE as the data is consumed (counted
 *                in the JSON: h2_window_updates_sent, h2_settings_acks_sent).
 *   Bytes counted: for TLS the decrypted bytes (HTTP/1.1: the same as on a plain connection;
 *   HTTP/2: all frames, their 9-byte headers included; a stream's own bytes are its DATA payload).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

enum http_state { H_CONNECTING, H_STATUS_HEADERS, H_BODY, H_DONE };
enum chunk_state { C_SIZE, C_SIZE_EXT, C_SIZE_LF, C_DATA, C_DATA_CR, C_DATA_LF, C_TRAILER };
enum mp_state { M_LINE, M_HEADERS, M_BODY };
enum conn_state { K_IDLE, K_CONNECTING, K_HANDSHAKE, K_OPEN, K_DONE };

#define LINE_MAX_LEN 1024
#define HEAD_MAX_LEN 8192

struct conn;

/* A viewer: one HTTP/1.1 connection, or one HTTP/2 stream. */
struct client {
    struct conn *conn;
    int index;
    int32_t stream_id; /* HTTP/2 */
    enum http_state http;
    /* response head */
    char head[HEAD_MAX_LEN];
    int head_len;
    int chunked;
    /* chunked decoder */
    enum chunk_state cstate;
    uint64_t chunk_left;
    /* multipart parser */
    enum mp_state mstate;
    char line[LINE_MAX_LEN];
    int line_len;
    int64_t content_length; /* -1 = none */
    double x_timestamp;     /* 0 = none */
    int64_t body_left;
    int64_t body_len;
    unsigned char first2[2];
    unsigned char last2[2];
    int64_t body_seen;
    /* measurements */
    double connect_started;
    double first_frame_at; /* 0 = none yet */
    double last_frame_at;
    uint64_t frames_window;
    uint64_t bytes_window;
    double max_gap_window;
    uint64_t frames_total;
    int failed;
    int closed;
    /* --copy: the part's bytes, assembled */
    unsigned char *image;
    size_t image_cap;
};

/* A connection: plain TCP or TLS; HTTP/1.1 (one viewer) or HTTP/2 (--streams viewers). */
struct conn {
    int fd;
    int index;
    enum conn_state state;
    SSL *ssl;
    nghttp2_session *h2;
    struct client *viewers; /* nviewers consecutive viewers */
    int nviewers;
    int live;               /* viewers not yet failed or closed */
    uint32_t armed;         /* the epoll mask last set */
    /* bytes waiting to be written (the request, HTTP/2 frames) */
    unsigned char *out;
    size_t out_len, out_cap;
    /* rate limiting */
    double tokens;
};

static struct client *clients;
static struct conn *conns;
static int nclients = 1, nconns = 1, streams_per_conn = 1;
static double warmup = 3.0, duration = 10.0, spread = 1.0;
static double rate = 0.0; /* bytes/s per client, 0 = unlimited */
static const char *user_agent = "framecast-bench-loadclient/1.0";
static char host[256] = "127.0.0.1";
static int port = 8080;
static char path[1024] = "/stream";
static size_t read_size = 256 * 1024;
static int rcvbuf = 0, oneshot = 0, copy_parts = 0;
static int use_tls = 0, use_h2 = 0;
static const char *ciphersuites = "TLS_AES_128_GCM_SHA256";
static const char *sni = NULL;
static int h2_window = 16 << 20; /* --h2-window: the initial stream window and the connection window */
static SSL_CTX *ssl_ctx;
/* what the first completed handshake negotiated (for the report) */
static pthread_mutex_t tls_info_lock = PTHREAD_MUTEX_INITIALIZER;
static char tls_version[32], tls_cipher[64], tls_alpn[32];
static uint64_t tls_handshakes;

static int nthreads = 1;
static __thread int epfd; /* each thread's own epoll set */
static double t0, window_start, window_end;
static __thread int in_window;
static __thread double now_t; /* the receive time of the bytes being parsed */

/* latency samples (ms) of parts completed inside the window */
/* per thread (--threads), merged when the threads have ended */
static __thread double *lat;
static __thread size_t lat_n, lat_cap;
static __thread uint64_t invalid_jpeg, frames_no_ts, frames_no_len, http_errors, connect_errors, closed_early;
static __thread uint64_t bytes_total_window, tls_errors, h2_window_updates, h2_settings_acks, h2_data_frames, h2_resets;
struct totals {
    double *lat;
    size_t lat_n;
    uint64_t invalid_jpeg, frames_no_ts, frames_no_len, http_errors, connect_errors, closed_early, bytes_total_window;
    uint64_t tls_errors, h2_window_updates, h2_settings_acks, h2_data_frames, h2_resets;
};
static double cpu_u0, cpu_s0, cpu_u1, cpu_s1;

static double now_real(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void lat_push(double v) {
    if (lat_n == lat_cap) {
        lat_cap = lat_cap ? lat_cap * 2 : 65536;
        lat = realloc(lat, lat_cap * sizeof(double));
        if (!lat) { perror("realloc"); exit(1); }
    }
    lat[lat_n++] = v;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double *v, size_t n, double p) {
    if (n == 0) return NAN;
    double rank = p / 100.0 * (double)(n - 1);
    size_t lo = (size_t)floor(rank), hi = (size_t)ceil(rank);
    return v[lo] + (v[hi] - v[lo]) * (rank - lo);
}

static void conn_close(struct conn *k) {
    if (k->h2) { nghttp2_session_del(k->h2); k->h2 = NULL; }
    if (k->ssl) { SSL_free(k->ssl); k->ssl = NULL; }
    if (k->fd >= 0) { close(k->fd); k->fd = -1; }
    k->state = K_DONE;
}

static void viewer_end(struct client *c) {
    if (!c->failed) {
        c->failed = 1;
        c->http = H_DONE;
        if (c->conn && c->conn->live > 0) c->conn->live--;
    }
}

/* A viewer fails (or its stream ended): HTTP/1.1 closes its connection, HTTP/2 resets its stream
 * (and closes the connection once no stream is left). */
static void client_fail(struct client *c, int is_http_error) {
    if (!c->failed && !c->closed) {
        if (is_http_error) http_errors++;
    }
    int was_live = !c->failed;
    viewer_end(c);
    struct conn *k = c->conn;
    if (!k) return;
    if (k->h2 && was_live && c->stream_id > 0 && k->live > 0) {
        nghttp2_submit_rst_stream(k->h2, NGHTTP2_FLAG_NONE, c->stream_id, NGHTTP2_CANCEL);
        return;
    }
    conn_close(k);
}

/* Every viewer of a connection fails (a connection error, or its end). */
static void conn_fail(struct conn *k, int is_http_error, int count_closed) {
    for (int i = 0; i < k->nviewers; i++) {
        struct client *c = &k->viewers[i];
        if (c->failed) continue;
        if (count_closed) closed_early++;
        if (is_http_error && !c->closed) http_errors++;
        viewer_end(c);
    }
    conn_close(k);
}

/* One complete part (its body fully read). */
static void part_done(struct client *c, double t) {
    int valid = c->body_len >= 4 && c->first2[0] == 0xFF && c->first2[1] == 0xD8 &&
                c->last2[0] == 0xFF && c->last2[1] == 0xD9;
    if (!valid) invalid_jpeg++;
    c->frames_total++;
    if (c->first_frame_at == 0) c->first_frame_at = t;
    if (in_window && t >= window_start && t <= window_end) {
        double since = c->last_frame_at > window_start ? c->last_frame_at : window_start;
        double gap = t - since;
        if (gap > c->max_gap_window) c->max_gap_window = gap;
        c->frames_window++;
        if (c->x_timestamp > 0) lat_push((t - c->x_timestamp) * 1000.0);
        else frames_no_ts++;
    }
    c->last_frame_at = t;
}

static void handle_part_header(struct client *c, const char *line) {
    if (strncasecmp(line, "Content-Length:", 15) == 0) {
        c->content_length = strtoll(line + 15, NULL, 10);
    } else if (strncasecmp(line, "X-Timestamp:", 12) == 0) {
        c->x_timestamp = strtod(line + 12, NULL);
    }
}

/* Multipart bytes (after de-chunking). */
static void feed_multipart(struct client *c, const unsigned char *p, size_t n, double t) {
    while (n > 0 && !c->failed) {
        if (c->mstate == M_BODY) {
            size_t take = (uint64_t)c->body_left < n ? (size_t)c->body_left : n;
            if (copy_parts) {
                size_t need = (size_t)c->body_seen + take;
                if (need > c->image_cap) {
                    size_t cap = c->image_cap ? c->image_cap : 64 * 1024;
                    while (cap < need) cap *= 2;
                    c->image = realloc(c->image, cap);
                    if (!c->image) { perror("realloc"); exit(1); }
                    c->image_cap = cap;
                }
                memcpy(c->image + c->body_seen, p, take);
            }
            /* remember the first two and the last two bytes of the body */
            for (size_t i = 0; i < take && c->body_seen + (int64_t)i < 2; i++) c->first2[c->body_seen + i] = p[i];
            if (take >= 2) { c->last2[0] = p[take - 2]; c->last2[1] = p[take - 1]; }
            else if (take == 1) { c->last2[0] = c->last2[1]; c->last2[1] = p[0]; }
            c->body_seen += take;
            c->body_left -= take;
            p += take; n -= take;
            if (c->body_left == 0) {
                part_done(c, t);
                c->mstate = M_LINE;
                c->line_len = 0;
            }
            continue;
        }
        /* line-oriented states */
        const unsigned char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) + 1 : n;
        if (c->line_len + take >= LINE_MAX_LEN) { client_fail(c, 1); return; }
        memcpy(c->line + c->line_len, p, take);
        c->line_len += take;
        p += take; n -= take;
        if (!nl) continue;
        /* a complete line: strip CRLF */
        int len = c->line_len;
        while (len > 0 && (c->line[len - 1] == '\n' || c->line[len - 1] == '\r')) len--;
        c->line[len] = 0;
        c->line_len = 0;
        if (c->mstate == M_LINE) {
            if (len == 0) continue; /* CRLF before a delimiter */
            if (c->line[0] == '-' && c->line[1] == '-') {
                if (len >= 4 && c->line[len - 1] == '-' && c->line[len - 2] == '-') { c->closed = 1; client_fail(c, 0); return; }
                c->mstate = M_HEADERS;
                c->content_length = -1;
                c->x_timestamp = 0;
            }
            /* anything else is preamble: ignore */
        } else { /* M_HEADERS */
            if (len == 0) {
                if (c->content_length < 0) { frames_no_len++; client_fail(c, 1); return; }
                c->mstate = M_BODY;
                c->body_left = c->content_length;
                c->body_len = c->content_length;
                c->body_seen = 0;
                c->first2[0] = c->first2[1] = c->last2[0] = c->last2[1] = 0;
                if (c->body_left == 0) { part_done(c, t); c->mstate = M_LINE; }
            } else {
                handle_part_header(c, c->line);
            }
        }
    }
}

static int hexval(unsigned char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Body bytes (still chunked when the response is). */
static void feed_body(struct client *c, const unsigned char *p, size_t n, double t) {
    if (!c->chunked) { feed_multipart(c, p, n, t); return; }
    while (n > 0 && !c->failed) {
        switch (c->cstate) {
        case C_SIZE: {
            int h = hexval(*p);
            if (h >= 0) { c->chunk_left = c->chunk_left * 16 + h; p++; n--; }
            else if (*p == '\r') { c->cstate = C_SIZE_LF; p++; n--; }
            else if (*p == ';') { c->cstate = C_SIZE_EXT; p++; n--; }
            else { client_fail(c, 1); return; }
            break;
        }
        case C_SIZE_EXT:
            if (*p == '\r') c->cstate = C_SIZE_LF;
            p++; n--;
            break;
        case C_SIZE_LF:
            if (*p != '\n') { client_fail(c, 1); return; }
            p++; n--;
            if (c->chunk_left == 0) { c->cstate = C_TRAILER; c->closed = 1; break; }
            c->cstate = C_DATA;
            break;
        case C_DATA: {
            size_t take = c->chunk_left < n ? (size_t)c->chunk_left : n;
            feed_multipart(c, p, take, t);
            p += take; n -= take;
            c->chunk_left -= take;
            if (c->chunk_left == 0) c->cstate = C_DATA_CR;
            break;
        }
        case C_DATA_CR:
            if (*p != '\r') { client_fail(c, 1); return; }
            c->cstate = C_DATA_LF; p++; n--;
            break;
        case C_DATA_LF:
            if (*p != '\n') { client_fail(c, 1); return; }
            c->cstate = C_SIZE; c->chunk_left = 0; p++; n--;
            break;
        case C_TRAILER:
            p += n; n = 0; /* end of the stream */
            break;
        }
    }
}

/* Response status line and headers; returns the number of bytes consumed, -1 on error. */
static long feed_head(struct client *c, const unsigned char *p, size_t n) {
    size_t room = HEAD_MAX_LEN - 1 - c->head_len;
    size_t take = n < room ? n : room;
    memcpy(c->head + c->head_len, p, take);
    int old = c->head_len;
    c->head_len += take;
    c->head[c->head_len] = 0;
    char *end = strstr(c->head, "\r\n\r\n");
    if (!end) {
        if (c->head_len >= HEAD_MAX_LEN - 1) return -1;
        return (long)take;
    }
    size_t head_bytes = (size_t)(end - c->head) + 4;
    *end = 0;
    if (strncmp(c->head, "HTTP/1.", 7) != 0 || strncmp(c->head + 9, "200", 3) != 0) return -1;
    /* header lookup, case-insensitive */
    for (char *line = strstr(c->head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        char *h = line + 2;
        if (strncasecmp(h, "Transfer-Encoding:", 18) == 0) {
            char *v = h + 18;
            while (*v == ' ') v++;
            if (strncasecmp(v, "chunked", 7) == 0) c->chunked = 1;
        }
    }
    c->http = H_BODY;
    return (long)(head_bytes - old);
}

/* HTTP/1.1: a viewer's bytes (head, then body). */
static void on_data(struct client *c, const unsigned char *buf, size_t n, double t) {
    if (in_window && t >= window_start && t <= window_end) c->bytes_window += n;
    size_t off = 0;
    if (c->http == H_STATUS_HEADERS) {
        long used = feed_head(c, buf, n);
        if (used < 0) { client_fail(c, 1); return; }
        off = (size_t)used;
    }
    if (c->http == H_BODY && off < n) feed_body(c, buf + off, n - off, t);
}

static int parse_url(const char *url) {
    const char *p = url;
    int default_port = 80;
    if (strncmp(p, "http://", 7) == 0) p += 7;
    else if (strncmp(p, "https://", 8) == 0) { p += 8; use_tls = 1; default_port = 443; }
    const char *slash = strchr(p, '/');
    const char *colon = strchr(p, ':');
    size_t hl;
    if (colon && (!slash || colon < slash)) {
        hl = (size_t)(colon - p);
        port = atoi(colon + 1);
    } else {
        hl = slash ? (size_t)(slash - p) : strlen(p);
        port = default_port;
    }
    if (hl >= sizeof host) return -1;
    memcpy(host, p, hl);
    host[hl] = 0;
    snprintf(path, sizeof path, "%s", slash ? slash : "/");
    return 0;
}

/* ---------------------------------------------------------------- connection I/O */

/* The epoll mask a connection wants: readable (unless rate-limited: the tick reads), writable
 * while output waits or the handshake wants to write. */
static void conn_arm(struct conn *k, int want_read, int want_write, int force) {
    if (k->fd < 0) return;
    uint32_t ev = (want_read ? EPOLLIN : 0) | (want_write ? EPOLLOUT : 0);
    if (oneshot && k->state == K_OPEN) ev |= EPOLLONESHOT;
    if (ev == k->armed && !force) return;
    struct epoll_event e = {.events = ev, .data.u32 = (uint32_t)k->index};
    epoll_ctl(epfd, EPOLL_CTL_MOD, k->fd, &e);
    k->armed = ev;
}

static void conn_arm_open(struct conn *k, int force) {
    conn_arm(k, rate <= 0, k->out_len > 0, force);
}

static void out_append(struct conn *k, const void *p, size_t n) {
    if (k->out_len + n > k->out_cap) {
        size_t cap = k->out_cap ? k->out_cap : 4096;
        while (cap < k->out_len + n) cap *= 2;
        k->out = realloc(k->out, cap);
        if (!k->out) { perror("realloc"); exit(1); }
        k->out_cap = cap;
    }
    memcpy(k->out + k->out_len, p, n);
    k->out_len += n;
}

/* Writes what waits; 0 when done or blocked (EPOLLOUT armed), -1 when the connection failed. */
static int conn_flush(struct conn *k) {
    if (k->h2) {
        for (;;) {
            const uint8_t *data;
            ssize_t n = nghttp2_session_mem_send(k->h2, &data);
            if (n < 0) { conn_fail(k, 1, 0); return -1; }
            if (n == 0) break;
            out_append(k, data, (size_t)n);
        }
    }
    while (k->out_len > 0) {
        ssize_t w;
        if (k->ssl) {
            ERR_clear_error();
            int r = SSL_write(k->ssl, k->out, (int)k->out_len);
            if (r <= 0) {
                int e = SSL_get_error(k->ssl, r);
                if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) break;
                tls_errors++;
                conn_fail(k, 0, 1);
                return -1;
            }
            w = r;
        } else {
            w = send(k->fd, k->out, k->out_len, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
                conn_fail(k, 0, 1);
                return -1;
            }
        }
        memmove(k->out, k->out + w, k->out_len - (size_t)w);
        k->out_len -= (size_t)w;
    }
    return 0;
}

/* Decrypted (or plain) bytes: > 0, 0 at the end of the stream, -1 would block, -2 an error. */
static ssize_t conn_read(struct conn *k, unsigned char *buf, size_t want) {
    if (!k->ssl) {
        ssize_t r = recv(k->fd, buf, want, 0);
        if (r >= 0) return r;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return -1;
        return -2;
    }
    ERR_clear_error();
    int r = SSL_read(k->ssl, buf, (int)(want > INT32_MAX ? INT32_MAX : want));
    if (r > 0) return r;
    int e = SSL_get_error(k->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return -1;
    if (e == SSL_ERROR_ZERO_RETURN) return 0;
    if (e == SSL_ERROR_SYSCALL && r == 0) return 0; /* EOF without close_notify */
    tls_errors++;
    return -2;
}

/* ---------------------------------------------------------------- HTTP/2 (nghttp2) */

static int h2_on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                        const uint8_t *value, size_t valuelen, uint8_t flags, void *user) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_RESPONSE) return 0;
    struct client *c = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
    if (!c || c->failed) return 0;
    if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
        if (valuelen != 3 || memcmp(value, "200", 3) != 0) client_fail(c, 1);
        else c->http = H_BODY;
    }
    return 0;
}

static int h2_on_data(nghttp2_session *s, uint8_t flags, int32_t stream_id, const uint8_t *data, size_t len, void *user) {
    struct client *c = nghttp2_session_get_stream_user_data(s, stream_id);
    if (!c || c->failed || c->http != H_BODY) return 0;
    double t = now_t;
    if (in_window && t >= window_start && t <= window_end) c->bytes_window += len;
    feed_multipart(c, data, len, t);
    return 0;
}

static int h2_on_frame_recv(nghttp2_session *s, const nghttp2_frame *frame, void *user) {
    if (frame->hd.type == NGHTTP2_DATA && in_window) h2_data_frames++;
    return 0;
}

static int h2_on_frame_send(nghttp2_session *s, const nghttp2_frame *frame, void *user) {
    if (frame->hd.type == NGHTTP2_WINDOW_UPDATE) h2_window_updates++;
    else if (frame->hd.type == NGHTTP2_SETTINGS && (frame->hd.flags & NGHTTP2_FLAG_ACK)) h2_settings_acks++;
    return 0;
}

static int h2_on_stream_close(nghttp2_session *s, int32_t stream_id, uint32_t error_code, void *user) {
    struct client *c = nghttp2_session_get_stream_user_data(s, stream_id);
    if (!c || c->failed) return 0;
    /* the server ended or reset a stream it should have kept open */
    closed_early++;
    if (error_code) h2_resets++;
    c->closed = 1;
    viewer_end(c);
    return 0;
}

static nghttp2_session_callbacks *h2_callbacks;

static int h2_start(struct conn *k) {
    if (nghttp2_session_client_new(&k->h2, h2_callbacks, k) != 0) return -1;
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, (uint32_t)h2_window},
    };
    if (nghttp2_submit_settings(k->h2, NGHTTP2_FLAG_NONE, settings, sizeof settings / sizeof settings[0]) != 0) return -1;
    /* the connection's window: 64 KB by default, raised by a WINDOW_UPDATE */
    if (nghttp2_session_set_local_window_size(k->h2, NGHTTP2_FLAG_NONE, 0, h2_window) != 0) return -1;
    char authority[300];
    snprintf(authority, sizeof authority, "%s:%d", host, port);
#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NO_COPY_NAME}
    nghttp2_nv hdrs[] = {
        NV(":method", "GET"), NV(":scheme", "https"), NV(":authority", authority), NV(":path", path),
        NV("user-agent", user_agent), NV("accept", "*/*"),
    };
#undef NV
    for (int i = 0; i < k->nviewers; i++) {
        struct client *c = &k->viewers[i];
        int32_t id = nghttp2_submit_request(k->h2, NULL, hdrs, sizeof hdrs / sizeof hdrs[0], NULL, c);
        if (id < 0) return -1;
        c->stream_id = id;
        c->http = H_STATUS_HEADERS;
    }
    return 0;
}

/* ---------------------------------------------------------------- connecting */

static void start_connect(struct conn *k) {
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "loadclient: only IPv4 literal hosts are supported (got %s)\n", host);
        exit(2);
    }
    double t = now_real();
    for (int i = 0; i < k->nviewers; i++) { k->viewers[i].connect_started = t; k->viewers[i].http = H_CONNECTING; }
    k->live = k->nviewers;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) { perror("socket"); connect_errors++; conn_fail(k, 0, 0); return; }
    k->fd = fd;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    int r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    if (r < 0 && errno != EINPROGRESS) { connect_errors++; conn_fail(k, 0, 0); return; }
    struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)k->index};
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    k->armed = EPOLLOUT;
    k->state = K_CONNECTING;
}

/* The connection is up (and its handshake done): the request(s). */
static void conn_open(struct conn *k) {
    k->state = K_OPEN;
    if (use_h2) {
        if (h2_start(k) != 0) { conn_fail(k, 1, 0); return; }
    } else {
        char req[2048];
        int n = snprintf(req, sizeof req,
                         "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: %s\r\nAccept: */*\r\n\r\n",
                         path, host, port, user_agent);
        out_append(k, req, (size_t)n);
        k->viewers[0].http = H_STATUS_HEADERS;
    }
    if (conn_flush(k) < 0) return;
    conn_arm_open(k, 1);
}

static void handshake(struct conn *k) {
    ERR_clear_error();
    int r = SSL_connect(k->ssl);
    if (r == 1) {
        const unsigned char *alpn = NULL;
        unsigned int alpn_len = 0;
        SSL_get0_alpn_selected(k->ssl, &alpn, &alpn_len);
        pthread_mutex_lock(&tls_info_lock);
        if (!tls_handshakes++) {
            snprintf(tls_version, sizeof tls_version, "%s", SSL_get_version(k->ssl));
            snprintf(tls_cipher, sizeof tls_cipher, "%s", SSL_get_cipher_name(k->ssl));
            snprintf(tls_alpn, sizeof tls_alpn, "%.*s", (int)alpn_len, alpn ? (const char *)alpn : "");
        }
        pthread_mutex_unlock(&tls_info_lock);
        if (use_h2 && !(alpn_len == 2 && memcmp(alpn, "h2", 2) == 0)) {
            static int warned;
            if (!warned++) fprintf(stderr, "loadclient: the server did not select ALPN h2\n");
            conn_fail(k, 1, 0);
            return;
        }
        conn_open(k);
        return;
    }
    int e = SSL_get_error(k->ssl, r);
    if (e == SSL_ERROR_WANT_READ) { conn_arm(k, 1, 0, 0); return; }
    if (e == SSL_ERROR_WANT_WRITE) { conn_arm(k, 0, 1, 0); return; }
    static int reported;
    if (!reported++) {
        char msg[256];
        ERR_error_string_n(ERR_peek_last_error(), msg, sizeof msg);
        fprintf(stderr, "loadclient: TLS handshake failed: %s\n", msg);
    }
    tls_errors++;
    connect_errors++;
    conn_fail(k, 0, 0);
}

static void connected(struct conn *k) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) { connect_errors++; conn_fail(k, 0, 0); return; }
    if (!use_tls) { conn_open(k); return; }
    k->ssl = SSL_new(ssl_ctx);
    if (!k->ssl) { tls_errors++; connect_errors++; conn_fail(k, 0, 0); return; }
    SSL_set_fd(k->ssl, k->fd);
    if (sni) SSL_set_tlsext_host_name(k->ssl, sni);
    k->state = K_HANDSHAKE;
    handshake(k);
}

/* ---------------------------------------------------------------- reading */

/* Decrypted (or plain) bytes of a connection. */
static void conn_data(struct conn *k, const unsigned char *buf, size_t n, double t) {
    if (in_window && t >= window_start && t <= window_end) bytes_total_window += n;
    if (k->h2) {
        now_t = t;
        ssize_t r = nghttp2_session_mem_recv(k->h2, buf, n);
        if (r < 0) {
            static int reported;
            if (!reported++) fprintf(stderr, "loadclient: HTTP/2: %s\n", nghttp2_strerror((int)r));
            conn_fail(k, 1, 0);
            return;
        }
        /* WINDOW_UPDATE, SETTINGS and PING acknowledgements, resets */
        if (k->fd >= 0 && (nghttp2_session_want_write(k->h2) || k->out_len)) conn_flush(k);
        if (k->fd >= 0 && k->live == 0) conn_close(k);
        return;
    }
    on_data(&k->viewers[0], buf, n, t);
}

/* A readable connection: one read (level-triggered), or read until it would block and re-arm
 * (--oneshot). TLS: OpenSSL has read ahead up to --read-size bytes; what it holds is decrypted
 * before returning, since epoll would not report it. */
static void read_ready(struct conn *k, unsigned char *buf) {
    for (;;) {
        ssize_t r = conn_read(k, buf, read_size);
        if (r > 0) {
            conn_data(k, buf, (size_t)r, now_real());
            if (k->fd < 0) return;
            if (!oneshot && !(k->ssl && SSL_has_pending(k->ssl))) return;
            continue;
        }
        if (r == 0 || r == -2) { conn_fail(k, 0, 1); return; }
        /* would block */
        if (oneshot) conn_arm_open(k, 1);
        else conn_arm_open(k, 0);
        return;
    }
}

static double rusage_cpu(double *user, double *sys) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
    *sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    return *user + *sys;
}

static void print_num(const char *key, double v, int last) {
    if (isnan(v) || isinf(v)) printf("\"%s\": null%s", key, last ? "" : ", ");
    else printf("\"%s\": %.3f%s", key, v, last ? "" : ", ");
}

static void *worker(void *arg) {
    int tid = (int)(intptr_t)arg;
    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event *events = calloc(1024, sizeof *events);
    size_t bufsize = read_size;
    unsigned char *buf = malloc(bufsize);

    int next_connect = tid; /* this thread's connections: tid, tid + nthreads, ... */
    int window_reported = 0;
    double last_refill = t0;
    const double tick = 0.005;

    for (;;) {
        double t = now_real();
        /* scheduled connects, spread evenly over `spread` seconds */
        while (next_connect < nconns && t >= t0 + spread * next_connect / nconns) {
            start_connect(&conns[next_connect]);
            next_connect += nthreads;
        }
        if (!window_reported && t >= window_start) {
            in_window = 1;
            window_reported = 1;
            if (tid == 0) {
                rusage_cpu(&cpu_u0, &cpu_s0);
                fprintf(stderr, "WINDOW_START %.6f\n", t);
                fflush(stderr);
            }
        }
        if (t >= window_end) break;

        /* rate-limited readers: refill and read on a fixed tick instead of on readiness */
        if (rate > 0 && t - last_refill >= tick) {
            double dt = t - last_refill;
            last_refill = t;
            for (int i = tid; i < next_connect && i < nconns; i += nthreads) {
                struct conn *k = &conns[i];
                if (k->fd < 0 || k->state != K_OPEN) continue;
                k->tokens += rate * dt;
                if (k->tokens > rate * 0.05) k->tokens = rate * 0.05; /* burst of 50 ms at most */
                while (k->tokens >= 1 && k->fd >= 0) {
                    size_t want = k->tokens < bufsize ? (size_t)k->tokens : bufsize;
                    ssize_t r = conn_read(k, buf, want);
                    if (r > 0) { k->tokens -= r; conn_data(k, buf, (size_t)r, now_real()); }
                    else if (r == -1) break;
                    else conn_fail(k, 0, 1);
                }
            }
        }

        int timeout_ms = 100;
        if (next_connect < nconns) {
            double due = t0 + spread * next_connect / nconns - t;
            int ms = (int)(due * 1000);
            if (ms < timeout_ms) timeout_ms = ms < 0 ? 0 : ms;
        }
        if (rate > 0 && timeout_ms > (int)(tick * 1000)) timeout_ms = (int)(tick * 1000);
        double until_edge = (window_reported ? window_end : window_start) - t;
        if (until_edge * 1000 < timeout_ms) timeout_ms = until_edge > 0 ? (int)(until_edge * 1000) + 1 : 0;

        int ne = epoll_wait(epfd, events, 1024, timeout_ms);
        if (ne < 0) { if (errno == EINTR) continue; perror("epoll_wait"); break; }
        for (int n = 0; n < ne; n++) {
            struct conn *k = &conns[events[n].data.u32];
            uint32_t ev = events[n].events;
            if (k->fd < 0) continue;
            switch (k->state) {
            case K_CONNECTING:
                if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) connected(k);
                break;
            case K_HANDSHAKE:
                handshake(k);
                break;
            case K_OPEN:
                if (oneshot) k->armed = 0; /* a one-shot event disarmed the descriptor */
                if (ev & EPOLLOUT) {
                    if (conn_flush(k) < 0) break;
                }
                if (rate <= 0 && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))) read_ready(k, buf);
                else conn_arm_open(k, oneshot);
                break;
            default:
                break;
            }
        }
    }
    if (tid == 0) {
        rusage_cpu(&cpu_u1, &cpu_s1);
        fprintf(stderr, "WINDOW_END %.6f\n", now_real());
        fflush(stderr);
    }
    struct totals *out = calloc(1, sizeof *out);
    *out = (struct totals){lat, lat_n, invalid_jpeg, frames_no_ts, frames_no_len, http_errors, connect_errors, closed_early, bytes_total_window,
                           tls_errors, h2_window_updates, h2_settings_acks, h2_data_frames, h2_resets};
    free(buf);
    free(events);
    close(epfd);
    return out;
}

static void usage(void) {
    fprintf(stderr, "usage: loadclient --url http[s]://127.0.0.1:PORT/PATH [--clients N] [--warmup S] "
                    "[--duration S] [--spread S] [--rate BYTES_PER_S] [--user-agent UA] [--read-size BYTES] [--rcvbuf BYTES] "
                    "[--oneshot] [--copy] [--browser] [--threads N] [--h2] [--streams N] [--h2-window BYTES] [--ciphersuites LIST] [--sni NAME]\n");
    exit(2);
}

static void tls_setup(void) {
    ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (!ssl_ctx) { fprintf(stderr, "loadclient: SSL_CTX_new failed\n"); exit(2); }
    SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_NONE, NULL); /* self-signed test certificates */
    SSL_CTX_set_min_proto_version(ssl_ctx, TLS1_2_VERSION);
    if (ciphersuites && *ciphersuites && SSL_CTX_set_ciphersuites(ssl_ctx, ciphersuites) != 1) {
        fprintf(stderr, "loadclient: bad --ciphersuites %s\n", ciphersuites);
        exit(2);
    }
    SSL_CTX_set_session_cache_mode(ssl_ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_mode(ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* one recv of up to --read-size bytes per readiness, as the plain reader does */
    SSL_CTX_set_read_ahead(ssl_ctx, 1);
    size_t rb = read_size < 20 * 1024 ? 20 * 1024 : read_size;
    SSL_CTX_set_default_read_buffer_len(ssl_ctx, rb);
    static const unsigned char alpn_h1[] = "\x08http/1.1", alpn_h2[] = "\x02h2";
    if (use_h2) SSL_CTX_set_alpn_protos(ssl_ctx, alpn_h2, sizeof alpn_h2 - 1);
    else SSL_CTX_set_alpn_protos(ssl_ctx, alpn_h1, sizeof alpn_h1 - 1);

    if (use_h2) {
        nghttp2_session_callbacks_new(&h2_callbacks);
        nghttp2_session_callbacks_set_on_header_callback(h2_callbacks, h2_on_header);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(h2_callbacks, h2_on_data);
        nghttp2_session_callbacks_set_on_frame_recv_callback(h2_callbacks, h2_on_frame_recv);
        nghttp2_session_callbacks_set_on_frame_send_callback(h2_callbacks, h2_on_frame_send);
        nghttp2_session_callbacks_set_on_stream_close_callback(h2_callbacks, h2_on_stream_close);
    }
}

int main(int argc, char **argv) {
    const char *url = "http://127.0.0.1:8080/stream";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int flag = !strcmp(a, "--oneshot") || !strcmp(a, "--copy") || !strcmp(a, "--browser") || !strcmp(a, "--h2");
        if (!v && !flag) usage();
        if (!strcmp(a, "--url")) url = v;
        else if (!strcmp(a, "--clients")) nconns = atoi(v);
        else if (!strcmp(a, "--warmup")) warmup = atof(v);
        else if (!strcmp(a, "--duration")) duration = atof(v);
        else if (!strcmp(a, "--spread")) spread = atof(v);
        else if (!strcmp(a, "--rate")) rate = atof(v);
        else if (!strcmp(a, "--user-agent")) user_agent = v;
        else if (!strcmp(a, "--read-size")) read_size = (size_t)atol(v);
        else if (!strcmp(a, "--rcvbuf")) rcvbuf = atoi(v);
        else if (!strcmp(a, "--threads")) nthreads = atoi(v);
        else if (!strcmp(a, "--streams")) streams_per_conn = atoi(v);
        else if (!strcmp(a, "--ciphersuites")) ciphersuites = v;
        else if (!strcmp(a, "--sni")) sni = v;
        else if (!strcmp(a, "--h2-window")) h2_window = atoi(v);
        else if (!strcmp(a, "--oneshot")) { oneshot = 1; i--; }
        else if (!strcmp(a, "--copy")) { copy_parts = 1; i--; }
        else if (!strcmp(a, "--h2")) { use_h2 = 1; i--; }
        else if (!strcmp(a, "--browser")) { read_size = 32 * 1024; oneshot = 1; copy_parts = 1; i--; }
        else usage();
        i++;
    }
    if (nconns < 1 || streams_per_conn < 1 || streams_per_conn > 100 || read_size < 1 || read_size > (64u << 20) || rcvbuf < 0 ||
        nthreads < 1 || nthreads > 64 || h2_window < 65535 || parse_url(url) < 0)
        usage();
    if (use_h2 && !use_tls) { fprintf(stderr, "loadclient: --h2 needs an https:// URL (ALPN h2)\n"); return 2; }
    if (streams_per_conn > 1 && !use_h2) { fprintf(stderr, "loadclient: --streams needs --h2\n"); return 2; }
    nclients = nconns * streams_per_conn;
    if (use_tls) tls_setup();

    /* 800+ connections: raise the descriptor limit to the hard limit */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rlim_t want = (rlim_t)nconns + 64;
        if (rl.rlim_cur < want) {
            rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want * 2 ? want * 2 : rl.rlim_max;
            if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want) {
                fprintf(stderr, "loadclient: cannot raise RLIMIT_NOFILE to %lu\n", (unsigned long)want);
                return 2;
            }
        }
    }

    clients = calloc((size_t)nclients, sizeof *clients);
    conns = calloc((size_t)nconns, sizeof *conns);
    for (int i = 0; i < nconns; i++) {
        struct conn *k = &conns[i];
        k->fd = -1;
        k->index = i;
        k->state = K_IDLE;
        k->viewers = &clients[i * streams_per_conn];
        k->nviewers = streams_per_conn;
    }
    for (int i = 0; i < nclients; i++) { clients[i].index = i; clients[i].http = H_DONE; clients[i].conn = &conns[i / streams_per_conn]; }
    t0 = now_real();
    window_start = t0 + spread + warmup;
    window_end = window_start + duration;
    pthread_t threads[64];
    for (int i = 0; i < nthreads; i++) pthread_create(&threads[i], NULL, worker, (void *)(intptr_t)i);
    uint64_t tls_err = 0, h2_wu = 0, h2_sa = 0, h2_df = 0, h2_rst = 0;
    for (int i = 0; i < nthreads; i++) {
        struct totals *tt;
        pthread_join(threads[i], (void **)&tt);
        for (size_t k = 0; k < tt->lat_n; k++) lat_push(tt->lat[k]);
        free(tt->lat);
        invalid_jpeg += tt->invalid_jpeg; frames_no_ts += tt->frames_no_ts; frames_no_len += tt->frames_no_len;
        http_errors += tt->http_errors; connect_errors += tt->connect_errors; closed_early += tt->closed_early;
        bytes_total_window += tt->bytes_total_window;
        tls_err += tt->tls_errors; h2_wu += tt->h2_window_updates; h2_sa += tt->h2_settings_acks;
        h2_df += tt->h2_data_frames; h2_rst += tt->h2_resets;
        free(tt);
    }

    /* per-client (per-stream) statistics */
    double *fps = calloc((size_t)nclients, sizeof(double));
    double *ttff = calloc((size_t)nclients, sizeof(double));
    size_t nttff = 0;
    double max_gap = 0;
    int connected_ok = 0, zero_frames = 0;
    uint64_t frames_window = 0;
    for (int i = 0; i < nclients; i++) {
        struct client *c = &clients[i];
        /* a client with no frame since the window began stalled until its end */
        double since = c->last_frame_at > window_start ? c->last_frame_at : window_start;
        double tail_gap = window_end - since;
        if (tail_gap > c->max_gap_window) c->max_gap_window = tail_gap;
        if (c->max_gap_window > max_gap) max_gap = c->max_gap_window;
        fps[i] = c->frames_window / duration;
        frames_window += c->frames_window;
        if (c->frames_window == 0) zero_frames++;
        if (c->first_frame_at > 0) ttff[nttff++] = (c->first_frame_at - c->connect_started) * 1000.0;
        if (c->http == H_BODY) connected_ok++;
    }
    for (int i = 0; i < nconns; i++) if (conns[i].fd >= 0) close(conns[i].fd);
    qsort(fps, (size_t)nclients, sizeof(double), cmp_double);
    qsort(ttff, nttff, sizeof(double), cmp_double);
    qsort(lat, lat_n, sizeof(double), cmp_double);
    double cpu = (cpu_u1 - cpu_u0) + (cpu_s1 - cpu_s0);

    printf("{");
    printf("\"url\": \"%s\", \"clients\": %d, \"connections\": %d, \"streams_per_connection\": %d, "
           "\"protocol\": \"%s\", \"warmup_s\": %.1f, \"window_s\": %.1f, \"rate_limit_Bps\": %.0f, ",
           url, nclients, nconns, streams_per_conn, use_h2 ? "h2" : "http/1.1", warmup, duration, rate);
    if (use_tls)
        printf("\"tls_version\": \"%s\", \"tls_cipher\": \"%s\", \"alpn\": \"%s\", \"tls_handshakes\": %lu, \"tls_errors\": %lu, ",
               tls_version, tls_cipher, tls_alpn, (unsigned long)tls_handshakes, (unsigned long)tls_err);
    if (use_h2)
        printf("\"h2_window_updates_sent\": %lu, \"h2_settings_acks_sent\": %lu, \"h2_data_frames_window\": %lu, \"h2_stream_resets\": %lu, ",
               (unsigned long)h2_wu, (unsigned long)h2_sa, (unsigned long)h2_df, (unsigned long)h2_rst);
    printf("\"streaming_at_end\": %d, \"zero_frame_clients\": %d, \"connect_errors\": %lu, \"http_errors\": %lu, \"closed_early\": %lu, ",
           connected_ok, zero_frames, (unsigned long)connect_errors, (unsigned long)http_errors, (unsigned long)closed_early);
    printf("\"frames\": %lu, ", (unsigned long)frames_window);
    print_num("fps_min", fps[0], 0);
    print_num("fps_median", pct(fps, (size_t)nclients, 50), 0);
    print_num("fps_max", fps[nclients - 1], 0);
    print_num("fps_mean", (double)frames_window / nclients / duration, 0);
    print_num("MBps", bytes_total_window / duration / 1e6, 0);
    print_num("latency_ms_p50", pct(lat, lat_n, 50), 0);
    print_num("latency_ms_p99", pct(lat, lat_n, 99), 0);
    print_num("latency_ms_max", lat_n ? lat[lat_n - 1] : NAN, 0);
    printf("\"latency_samples\": %lu, \"frames_without_timestamp\": %lu, ", (unsigned long)lat_n, (unsigned long)frames_no_ts);
    print_num("ttff_ms_median", pct(ttff, nttff, 50), 0);
    print_num("ttff_ms_max", nttff ? ttff[nttff - 1] : NAN, 0);
    printf("\"clients_with_frames\": %lu, ", (unsigned long)nttff);
    print_num("max_gap_ms", max_gap * 1000.0, 0);
    printf("\"invalid_jpeg\": %lu, \"parts_without_length\": %lu, ", (unsigned long)invalid_jpeg, (unsigned long)frames_no_len);
    print_num("client_cpu_user_s", cpu_u1 - cpu_u0, 0);
    print_num("client_cpu_sys_s", cpu_s1 - cpu_s0, 0);
    print_num("client_cpu_pct", 100.0 * cpu / duration, 1);
    printf("}\n");
    fflush(stdout);
    return 0;
}
