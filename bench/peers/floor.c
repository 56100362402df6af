/*
 * floor: the physical floor for serving one MJPEG stream to many viewers on this machine.
 *
 * Single thread, epoll, non-blocking sockets. Loads DIR/00000.jpg.. once, publishes one frame
 * every 1/FPS s (timerfd), building the chunked multipart part once with the same framing as
 * Framecast (Content-Type, Content-Length, X-Timestamp set at publication, then the boundary
 * line), and writes that prebuilt part to each client with one send(MSG_NOSIGNAL). A client whose
 * previous part is not fully sent yet skips the frame (its remainder goes out on EPOLLOUT).
 *
 *   floor --dir bench/frames-720 --port 8090 [--fps 30] [--sndbuf BYTES] [--notsent-lowat BYTES] [--sendfile]
 *
 * --sendfile writes each part once into a memory file (memfd) and sends it with sendfile(2):
 * the zero-copy variant of the floor.
 *
 * --sndbuf / --notsent-lowat bound what the kernel holds per client (experiments on slow readers;
 * the bench runs the floor without them).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

struct part { /* refcounted prebuilt chunk */
    int refs;
    int memfd;           /* --sendfile: the same bytes in a memory file, else -1 */
    size_t len;
    unsigned char data[];
};

struct conn {
    int fd;
    int streaming;       /* response head sent */
    char req[4096];
    size_t req_len;
    struct part *pending; /* part being written, NULL when idle */
    size_t off;
    int want_out;
    int dead;            /* closed at the end of the current epoll batch */
};

static struct part *current;
static int epfd;

static void part_release(struct part *p) {
    if (p && --p->refs == 0) {
        if (p->memfd >= 0) close(p->memfd);
        free(p);
    }
}

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    struct stat st;
    fstat(fileno(f), &st);
    unsigned char *b = malloc((size_t)st.st_size);
    *len = fread(b, 1, (size_t)st.st_size, f);
    fclose(f);
    return b;
}

static void conn_close(struct conn *c) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    part_release(c->pending);
    free(c);
}

static void set_out(struct conn *c, int on) {
    if (c->want_out == on) return;
    c->want_out = on;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes what is pending; returns -1 when the client is gone. */
static int flush(struct conn *c) {
    while (c->pending) {
        ssize_t w;
        if (c->pending->memfd >= 0) {
            off_t at = (off_t)c->off;
            w = sendfile(c->fd, c->pending->memfd, &at, c->pending->len - c->off);
        } else {
            w = send(c->fd, c->pending->data + c->off, c->pending->len - c->off, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) { set_out(c, 1); return 0; }
            if (errno == EINTR) continue;
            return -1;
        }
        c->off += (size_t)w;
        if (c->off == c->pending->len) { part_release(c->pending); c->pending = NULL; c->off = 0; }
    }
    set_out(c, 0);
    return 0;
}

static int offer(struct conn *c, struct part *p) {
    if (!c->streaming || c->pending || !p) return 0; /* busy: skip this frame */
    p->refs++;
    c->pending = p;
    c->off = 0;
    return flush(c);
}

static struct conn **conns;
static int nconns, capconns;

static int any_dead;

static void sweep_dead(void) {
    for (int i = 0; i < nconns;) {
        if (conns[i]->dead) { conn_close(conns[i]); conns[i] = conns[--nconns]; }
        else i++;
    }
    any_dead = 0;
}

int main(int argc, char **argv) {
    const char *dir = "frames-720";
    int port = 8090;
    double fps = 30;
    int sndbuf = 0, lowat = 0, use_sendfile = 0;
    for (int i = 1; i < argc; i += 2) {
        if (!strcmp(argv[i], "--sendfile")) { use_sendfile = 1; i--; continue; }
        if (i + 1 >= argc) break;
        if (!strcmp(argv[i], "--dir")) dir = argv[i + 1];
        else if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--fps")) fps = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--sndbuf")) sndbuf = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--notsent-lowat")) lowat = atoi(argv[i + 1]);
        else { fprintf(stderr, "usage: floor --dir DIR --port PORT [--fps 30] [--sndbuf BYTES] [--notsent-lowat BYTES] [--sendfile]\n"); return 2; }
    }
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }

    /* the frames, in memory */
    int nframes = 0, capf = 0;
    unsigned char **frames = NULL;
    size_t *flen = NULL;
    for (;;) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%05d.jpg", dir, nframes);
        size_t len;
        unsigned char *b = read_file(p, &len);
        if (!b) break;
        if (nframes == capf) {
            capf = capf ? capf * 2 : 512;
            frames = realloc(frames, capf * sizeof *frames);
            flen = realloc(flen, capf * sizeof *flen);
        }
        frames[nframes] = b;
        flen[nframes] = len;
        nframes++;
    }
    if (nframes == 0) { fprintf(stderr, "floor: no %s/00000.jpg\n", dir); return 2; }

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 4096) < 0) { perror("floor: bind/listen"); return 1; }

    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    long period_ns = (long)(1e9 / fps);
    struct itimerspec its = {.it_interval = {period_ns / 1000000000L, period_ns % 1000000000L},
                             .it_value = {0, 1000000}};
    timerfd_settime(tfd, 0, &its, NULL);
    static int tmarker;
    struct epoll_event tev = {.events = EPOLLIN, .data.ptr = &tmarker};
    epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &tev);

    const char *head = "HTTP/1.1 200 OK\r\n"
                       "Content-Type: multipart/x-mixed-replace; boundary=framecast\r\n"
                       "Cache-Control: no-store, no-cache, must-revalidate, max-age=0\r\n"
                       "Transfer-Encoding: chunked\r\n"
                       "\r\n"
                       "d\r\n--framecast\r\n\r\n"; /* the opening boundary as the first chunk */
    size_t head_len = strlen(head);
    int next = 0;
    struct epoll_event evs[1024];
    for (;;) {
        int ne = epoll_wait(epfd, evs, 1024, -1);
        if (ne < 0) { if (errno == EINTR) continue; perror("epoll_wait"); return 1; }
        for (int k = 0; k < ne; k++) {
            void *tag = evs[k].data.ptr;
            if (tag == NULL) { /* accept everything pending */
                for (;;) {
                    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0) break;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    if (sndbuf > 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
                    if (lowat > 0) setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat);
                    struct conn *c = calloc(1, sizeof *c);
                    c->fd = fd;
                    if (nconns == capconns) { capconns = capconns ? capconns * 2 : 1024; conns = realloc(conns, capconns * sizeof *conns); }
                    conns[nconns++] = c;
                    struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &cev);
                }
            } else if (tag == &tmarker) { /* publish the next frame */
                uint64_t expirations;
                if (read(tfd, &expirations, sizeof expirations) < 0) continue;
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                char hdr[256];
                int hl = snprintf(hdr, sizeof hdr, "Content-Type: image/jpeg\r\nContent-Length: %zu\r\nX-Timestamp: %ld.%06ld\r\n\r\n",
                                  flen[next], (long)ts.tv_sec, ts.tv_nsec / 1000);
                static const char tail[] = "\r\n--framecast\r\n";
                size_t body = (size_t)hl + flen[next] + sizeof tail - 1;
                char csz[32];
                int cl = snprintf(csz, sizeof csz, "%zx\r\n", body);
                struct part *p = malloc(sizeof *p + cl + body + 2);
                p->refs = 1;
                p->len = cl + body + 2;
                unsigned char *w = p->data;
                memcpy(w, csz, cl); w += cl;
                memcpy(w, hdr, hl); w += hl;
                memcpy(w, frames[next], flen[next]); w += flen[next];
                memcpy(w, tail, sizeof tail - 1); w += sizeof tail - 1;
                memcpy(w, "\r\n", 2);
                p->memfd = -1;
                if (use_sendfile) {
                    p->memfd = memfd_create("floor-part", MFD_CLOEXEC);
                    if (p->memfd < 0 || write(p->memfd, p->data, p->len) != (ssize_t)p->len) { perror("floor: memfd"); return 1; }
                }
                part_release(current);
                current = p;
                next = (next + 1) % nframes;
                for (int i = 0; i < nconns; i++) {
                    if (!conns[i]->dead && offer(conns[i], p) < 0) { conns[i]->dead = 1; any_dead = 1; }
                }
            } else {
                struct conn *c = tag;
                if (c->dead) continue;
                int gone = 0;
                if (evs[k].events & EPOLLIN) {
                    char b[4096];
                    ssize_t r = recv(c->fd, b, sizeof b, 0);
                    if (r == 0 || (r < 0 && errno != EAGAIN)) gone = 1;
                    else if (r > 0 && !c->streaming) {
                        size_t take = (size_t)r < sizeof c->req - 1 - c->req_len ? (size_t)r : sizeof c->req - 1 - c->req_len;
                        memcpy(c->req + c->req_len, b, take);
                        c->req_len += take;
                        c->req[c->req_len] = 0;
                        if (strstr(c->req, "\r\n\r\n")) {
                            if (send(c->fd, head, head_len, MSG_NOSIGNAL) != (ssize_t)head_len) gone = 1;
                            else { c->streaming = 1; if (offer(c, current) < 0) gone = 1; }
                        }
                    }
                }
                if (!gone && (evs[k].events & EPOLLOUT) && flush(c) < 0) gone = 1;
                if (!gone && (evs[k].events & (EPOLLERR | EPOLLHUP))) gone = 1;
                if (gone) { c->dead = 1; any_dead = 1; }
            }
        }
        if (any_dead) sweep_dead();
    }
}
