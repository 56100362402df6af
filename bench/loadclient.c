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

enum http_state { H_CONNECTING, H_STATUS_HEADERS, H_BODY, H_DONE };
enum chunk_state { C_SIZE, C_SIZE_EXT, C_SIZE_LF, C_DATA, C_DATA_CR, C_DATA_LF, C_TRAILER };
enum mp_state { M_LINE, M_HEADERS, M_BODY };

#define LINE_MAX_LEN 1024
#define HEAD_MAX_LEN 8192

struct client {
    int fd;
    int index;
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
    /* rate limiting */
    double tokens;
    /* --copy: the part's bytes, assembled */
    unsigned char *image;
    size_t image_cap;
};

static struct client *clients;
static int nclients = 1;
static double warmup = 3.0, duration = 10.0, spread = 1.0;
static double rate = 0.0; /* bytes/s per client, 0 = unlimited */
static const char *user_agent = "framecast-bench-loadclient/1.0";
static char host[256] = "127.0.0.1";
static int port = 8080;
static char path[1024] = "/stream";
static size_t read_size = 256 * 1024;
static int rcvbuf = 0, oneshot = 0, copy_parts = 0;

static int nthreads = 1;
static __thread int epfd; /* each thread's own epoll set */
static double t0, window_start, window_end;
static __thread int in_window;

/* latency samples (ms) of parts completed inside the window */
/* per thread (--threads), merged when the threads have ended */
static __thread double *lat;
static __thread size_t lat_n, lat_cap;
static __thread uint64_t invalid_jpeg, frames_no_ts, frames_no_len, http_errors, connect_errors, closed_early;
static __thread uint64_t bytes_total_window;
struct totals {
    double *lat;
    size_t lat_n;
    uint64_t invalid_jpeg, frames_no_ts, frames_no_len, http_errors, connect_errors, closed_early, bytes_total_window;
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

static void client_fail(struct client *c, int is_http_error) {
    if (c->fd >= 0) { close(c->fd); c->fd = -1; }
    if (!c->failed && !c->closed) {
        if (is_http_error) http_errors++;
    }
    c->failed = 1;
    c->http = H_DONE;
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

static void on_data(struct client *c, const unsigned char *buf, size_t n, double t) {
    if (in_window && t >= window_start && t <= window_end) {
        c->bytes_window += n;
        bytes_total_window += n;
    }
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
    if (strncmp(p, "http://", 7) == 0) p += 7;
    const char *slash = strchr(p, '/');
    const char *colon = strchr(p, ':');
    size_t hl;
    if (colon && (!slash || colon < slash)) {
        hl = (size_t)(colon - p);
        port = atoi(colon + 1);
    } else {
        hl = slash ? (size_t)(slash - p) : strlen(p);
        port = 80;
    }
    if (hl >= sizeof host) return -1;
    memcpy(host, p, hl);
    host[hl] = 0;
    snprintf(path, sizeof path, "%s", slash ? slash : "/");
    return 0;
}

static void start_connect(struct client *c) {
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "loadclient: only IPv4 literal hosts are supported (got %s)\n", host);
        exit(2);
    }
    c->connect_started = now_real();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) { perror("socket"); connect_errors++; c->failed = 1; c->http = H_DONE; return; }
    c->fd = fd;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    int r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    if (r < 0 && errno != EINPROGRESS) { connect_errors++; client_fail(c, 0); return; }
    struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)c->index};
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    c->http = H_CONNECTING;
}

static void send_request(struct client *c) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) { connect_errors++; client_fail(c, 0); return; }
    char req[2048];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: %s\r\nAccept: */*\r\n\r\n",
                     path, host, port, user_agent);
    if (send(c->fd, req, n, MSG_NOSIGNAL) != n) { connect_errors++; client_fail(c, 0); return; }
    c->http = H_STATUS_HEADERS;
    struct epoll_event ev = {.events = rate > 0 ? 0 : EPOLLIN | (oneshot ? EPOLLONESHOT : 0), .data.u32 = (uint32_t)c->index};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* A readable viewer: one recv (level-triggered), or recv until EAGAIN and re-arm (--oneshot). */
static void read_ready(struct client *c, unsigned char *buf) {
    for (;;) {
        ssize_t r = recv(c->fd, buf, read_size, 0);
        if (r > 0) {
            on_data(c, buf, (size_t)r, now_real());
            if (c->fd < 0) return;
            if (!oneshot) return;
            continue;
        }
        if (r == 0) { closed_early++; c->closed = 1; client_fail(c, 0); return; }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) { closed_early++; client_fail(c, 0); return; }
        if (oneshot) {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.u32 = (uint32_t)c->index};
            epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        }
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

    int next_connect = tid; /* this thread's viewers: tid, tid + nthreads, ... */
    int window_reported = 0;
    double last_refill = t0;
    const double tick = 0.005;

    for (;;) {
        double t = now_real();
        /* scheduled connects, spread evenly over `spread` seconds */
        while (next_connect < nclients && t >= t0 + spread * next_connect / nclients) {
            clients[next_connect].http = H_CONNECTING;
            start_connect(&clients[next_connect]);
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
            for (int i = tid; i < next_connect && i < nclients; i += nthreads) {
                struct client *c = &clients[i];
                if (c->fd < 0 || c->http < H_STATUS_HEADERS || c->http == H_DONE) continue;
                c->tokens += rate * dt;
                if (c->tokens > rate * 0.05) c->tokens = rate * 0.05; /* burst of 50 ms at most */
                while (c->tokens >= 1 && c->fd >= 0) {
                    size_t want = c->tokens < bufsize ? (size_t)c->tokens : bufsize;
                    ssize_t r = recv(c->fd, buf, want, 0);
                    if (r > 0) { c->tokens -= r; on_data(c, buf, (size_t)r, now_real()); }
                    else if (r == 0) { closed_early++; c->closed = 1; client_fail(c, 0); }
                    else if (errno == EAGAIN || errno == EWOULDBLOCK) break;
                    else { closed_early++; client_fail(c, 0); }
                }
            }
        }

        int timeout_ms = 100;
        if (next_connect < nclients) {
            double due = t0 + spread * next_connect / nclients - t;
            int ms = (int)(due * 1000);
            if (ms < timeout_ms) timeout_ms = ms < 0 ? 0 : ms;
        }
        if (rate > 0 && timeout_ms > (int)(tick * 1000)) timeout_ms = (int)(tick * 1000);
        double until_edge = (window_reported ? window_end : window_start) - t;
        if (until_edge * 1000 < timeout_ms) timeout_ms = until_edge > 0 ? (int)(until_edge * 1000) + 1 : 0;

        int ne = epoll_wait(epfd, events, 1024, timeout_ms);
        if (ne < 0) { if (errno == EINTR) continue; perror("epoll_wait"); break; }
        for (int k = 0; k < ne; k++) {
            struct client *c = &clients[events[k].data.u32];
            if (c->fd < 0) continue;
            if (c->http == H_CONNECTING) {
                if (events[k].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) send_request(c);
                continue;
            }
            if (rate > 0) continue;
            read_ready(c, buf);
        }
    }
    if (tid == 0) {
        rusage_cpu(&cpu_u1, &cpu_s1);
        fprintf(stderr, "WINDOW_END %.6f\n", now_real());
        fflush(stderr);
    }
    struct totals *out = calloc(1, sizeof *out);
    *out = (struct totals){lat, lat_n, invalid_jpeg, frames_no_ts, frames_no_len, http_errors, connect_errors, closed_early, bytes_total_window};
    free(buf);
    free(events);
    close(epfd);
    return out;
}

static void usage(void) {
    fprintf(stderr, "usage: loadclient --url http://127.0.0.1:PORT/PATH [--clients N] [--warmup S] "
                    "[--duration S] [--spread S] [--rate BYTES_PER_S] [--user-agent UA] [--read-size BYTES] [--rcvbuf BYTES] "
                    "[--oneshot] [--copy] [--browser] [--threads N]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *url = "http://127.0.0.1:8080/stream";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int flag = !strcmp(a, "--oneshot") || !strcmp(a, "--copy") || !strcmp(a, "--browser");
        if (!v && !flag) usage();
        if (!strcmp(a, "--url")) url = v;
        else if (!strcmp(a, "--clients")) nclients = atoi(v);
        else if (!strcmp(a, "--warmup")) warmup = atof(v);
        else if (!strcmp(a, "--duration")) duration = atof(v);
        else if (!strcmp(a, "--spread")) spread = atof(v);
        else if (!strcmp(a, "--rate")) rate = atof(v);
        else if (!strcmp(a, "--user-agent")) user_agent = v;
        else if (!strcmp(a, "--read-size")) read_size = (size_t)atol(v);
        else if (!strcmp(a, "--rcvbuf")) rcvbuf = atoi(v);
        else if (!strcmp(a, "--threads")) nthreads = atoi(v);
        else if (!strcmp(a, "--oneshot")) { oneshot = 1; i--; }
        else if (!strcmp(a, "--copy")) { copy_parts = 1; i--; }
        else if (!strcmp(a, "--browser")) { read_size = 32 * 1024; oneshot = 1; copy_parts = 1; i--; }
        else usage();
        i++;
    }
    if (nclients < 1 || read_size < 1 || read_size > (64u << 20) || rcvbuf < 0 || nthreads < 1 || nthreads > 64 || parse_url(url) < 0) usage();

    /* 800+ connections: raise the descriptor limit to the hard limit */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rlim_t want = (rlim_t)nclients + 64;
        if (rl.rlim_cur < want) {
            rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want * 2 ? want * 2 : rl.rlim_max;
            if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want) {
                fprintf(stderr, "loadclient: cannot raise RLIMIT_NOFILE to %lu\n", (unsigned long)want);
                return 2;
            }
        }
    }

    clients = calloc((size_t)nclients, sizeof *clients);
    for (int i = 0; i < nclients; i++) { clients[i].fd = -1; clients[i].index = i; clients[i].http = H_DONE; }
    t0 = now_real();
    window_start = t0 + spread + warmup;
    window_end = window_start + duration;
    pthread_t threads[64];
    for (int i = 0; i < nthreads; i++) pthread_create(&threads[i], NULL, worker, (void *)(intptr_t)i);
    for (int i = 0; i < nthreads; i++) {
        struct totals *tt;
        pthread_join(threads[i], (void **)&tt);
        for (size_t k = 0; k < tt->lat_n; k++) lat_push(tt->lat[k]);
        free(tt->lat);
        invalid_jpeg += tt->invalid_jpeg; frames_no_ts += tt->frames_no_ts; frames_no_len += tt->frames_no_len;
        http_errors += tt->http_errors; connect_errors += tt->connect_errors; closed_early += tt->closed_early;
        bytes_total_window += tt->bytes_total_window;
        free(tt);
    }

    /* per-client statistics */
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
        if (c->fd >= 0) close(c->fd);
    }
    qsort(fps, (size_t)nclients, sizeof(double), cmp_double);
    qsort(ttff, nttff, sizeof(double), cmp_double);
    qsort(lat, lat_n, sizeof(double), cmp_double);
    double cpu = (cpu_u1 - cpu_u0) + (cpu_s1 - cpu_s0);

    printf("{");
    printf("\"url\": \"%s\", \"clients\": %d, \"warmup_s\": %.1f, \"window_s\": %.1f, \"rate_limit_Bps\": %.0f, ",
           url, nclients, warmup, duration, rate);
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
