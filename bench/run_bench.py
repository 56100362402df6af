#!/usr/bin/env python3
"""Framecast benchmark runner: Framecast against the floor, Flask and a GStreamer-only server.

Every contender serves the same 300 pre-rendered JPEG frames in a loop at 30 fps; the C load
client (bin/loadclient) opens N viewers on loopback and measures what they receive, while this
runner samples the server's CPU (/proc/PID/stat, user+sys, process tree and waited-for children)
over the load client's measurement window and its peak RSS (VmHWM, and sampled VmRSS).

    make -C bench                    # full matrix: 1, 50, 200, 400, 800 clients at 720p30, 200 at 1080p30
    BENCH_QUICK=1 make -C bench      # smoke test: 1, 50, 200 clients at 720p30, 5 s windows
    BENCH_ONLY=renditions make -C bench   # only the rendition cells (about 7 minutes)
    BENCH_ONLY=tls,h2 make -C bench       # only the TLS and HTTP/2 cells (about 6 minutes)

Last come the rendition cells (Framecast alone, each window on a
fresh server with its own streams): what a rendition costs against its live 1080p30 source, server
CPU from 1 to 200 viewers of one rendition, and the bytes a 12-camera wall receives over /ws at
full size and at tile width (bench/wallclient.py).

Then the TLS and HTTP/2 cells (parts tls and h2): Framecast serving HTTPS itself against Debian's
nginx terminating TLS in front of plain-HTTP Framecast, 50 and 200 HTTP/1.1-over-TLS viewers at
720p30 (CPU per GB of Framecast against nginx + Framecast together and nginx alone); and 200
HTTP/2 connections of 4 streams each against the same 800 streams as HTTP/1.1-over-TLS
connections. bin/loadclient speaks TLS (OpenSSL) and HTTP/2 (libnghttp2); a self-signed P-256
certificate is made for each run. BENCH_TLS_CLIENTS (default 50,200), BENCH_H2_CONNECTIONS
(200), BENCH_H2_STREAMS (4), BENCH_TLS_REPEATS (windows of each contender per cell, default 3),
BENCH_TLS_WINDOW (seconds, default the matrix's), BENCH_NGINX_PROXY_BUFFER (default 64k),
BENCH_H2_CONTENDERS (default framecast-h2,framecast-tls; nginx-h2 and nginx-tls can be added).

Environment: FRAMECAST (the binary; FRAMECAST_COMMIT names its commit when it was built outside
this checkout), FRAMECAST_BEFORE (the pre-change binary, contender
framecast-before; default: bench/build-before.sh's build of BEFORE_REF, default 42ce3ee, built if
missing), BENCH_QUICK=1, BENCH_CONTENDERS=framecast,floor,...,
BENCH_CLIENTS=1,50 (720p cells), BENCH_SLOW_SECONDS, BENCH_SKIP_SLOW=1, BENCH_AB_REPEATS (extra
before/after windows, default 4), BENCH_PORT (first port),
BENCH_ONLY=part,... (parts: matrix, before, readers, syscalls, slow, renditions, tls, h2; default all),
BENCH_RENDITION_REPEATS (windows of each rendition kind, default 3), BENCH_WALL_FPS (default 10),
BENCH_REPORT (where the Markdown goes; the full run writes bench/BENCHMARKS.md, a quick run
bench/results/BENCHMARKS-quick.md, a BENCH_ONLY run bench/results/BENCHMARKS-PARTS.md; a BENCH_ONLY
run with renditions, not quick, also replaces the Renditions section of bench/BENCHMARKS.md).

Only 127.0.0.1 is used. Every server is started in its own process group and killed at the end.
"""
from __future__ import annotations

import atexit
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
BIN = BENCH / "bin"
RESULTS = BENCH / "results"
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
FPS = 30
NFRAMES = 300
LOOP_FRAMES = 30 * 60 * 20  # 20 minutes of symlinks: imagesequencesrc in GStreamer 1.22 cannot loop
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

RESOLUTIONS = {"720p": (1280, 720), "1080p": (1920, 1080)}
# framecast-before: the binary built from BEFORE_REF (the commit before the frame-path redesign),
# started with exactly framecast's flags, so the two are compared within each cell of one run.
CONTENDERS = ["framecast", "framecast-before", "framecast-copy", "floor", "flask", "gstreamer"]
# The slow-reader run takes a minute per contender: the copy path's freshness is in the test suite.
SLOW_CONTENDERS = ["framecast", "framecast-before", "floor", "flask", "gstreamer"]
BEFORE_REF = os.environ.get("BEFORE_REF") or "42ce3ee"
# The issue's before/after targets (framecast against framecast-before)
BEFORE_CELLS = [("720p", n) for n in (200, 400, 800)]
# Extra windows of framecast and framecast-before in those cells (BENCH_AB_REPEATS; 0 in quick runs).
AB_REPEATS = int(os.environ.get("BENCH_AB_REPEATS", "0" if QUICK else "4"))
BEFORE_MAX_COST_RATIO = 1.05  # CPU per GB within 5% of the pre-change binary's
ALL_CLIENTS_FPS = 29.0  # "every client at 30 fps": the lowest client's fps over the window
SLOW_AGE_MAX_MS = 500.0

if QUICK:
    CELLS = [("720p", n) for n in (1, 50, 200)]
    WARMUP, WINDOW, SPREAD = 2.0, 5.0, 1.0
    SLOW_SECONDS = 15.0
else:
    CELLS = [("720p", n) for n in (1, 50, 200, 400, 800)] + [("1080p", 200)]
    WARMUP, WINDOW, SPREAD = 3.0, 10.0, 1.0
    SLOW_SECONDS = 60.0
if os.environ.get("BENCH_CLIENTS"):
    CELLS = [("720p", int(n)) for n in os.environ["BENCH_CLIENTS"].split(",")]
if os.environ.get("BENCH_CONTENDERS"):
    CONTENDERS = [c for c in os.environ["BENCH_CONTENDERS"].split(",") if c]
if os.environ.get("BENCH_SLOW_SECONDS"):
    SLOW_SECONDS = float(os.environ["BENCH_SLOW_SECONDS"])
SLOW_FAST_CLIENTS = 200
SLOW_RATE = 1_000_000  # bytes per second

# How the load client reads (bin/loadclient's options). "bench" is the cheapest reader possible: one
# 256 KB recv per readiness, so a 93 kB frame arrives in one call and the reader never lags. A
# browser reads 32 KB at a time, reads until the socket would block and re-arms it (Chromium's
# SocketPosix), and copies each part into an image buffer: more CPU per frame on the shared cores,
# and under saturation a reader that falls behind, which is what the server's tail depends on.
# "8k-reads" (8 KB per recv) cannot keep up with 800 clients on two shared cores: a lagging reader,
# measured only in the system-call cells, where it shows what partial writes cost each server.
READERS = {"bench": [], "browser": ["--browser"], "8k-reads": ["--read-size", "8192"]}
# The reader cells (issue 12's targets): each contender with the browser-like reader, several
# windows each (alternating order), compared by medians; the syscall cells count what each server
# calls per frame per client (perf stat on the server's threads).
READER_CELLS = [] if QUICK else [("720p", 400), ("720p", 800)]
READER_CONTENDERS = ["framecast", "floor", "floor-sendfile"]
READER_REPEATS = int(os.environ.get("BENCH_READER_REPEATS", "3"))
SYSCALL_CELLS = [] if QUICK else [("720p", 800)]
SYSCALL_WINDOW = 5.0
SYSCALL_EVENTS = ["raw_syscalls:sys_enter", "syscalls:sys_enter_sendfile64", "syscalls:sys_enter_sendto",
                  "syscalls:sys_enter_writev", "syscalls:sys_enter_write", "syscalls:sys_enter_epoll_wait",
                  "syscalls:sys_enter_epoll_ctl", "syscalls:sys_enter_futex", "context-switches"]
if os.environ.get("BENCH_READER_CLIENTS") is not None:
    READER_CELLS = [("720p", int(n)) for n in os.environ["BENCH_READER_CLIENTS"].split(",") if n]
    SYSCALL_CELLS = READER_CELLS[-1:]

# The rendition cells (the renditions issue's three targets), each window on a freshly started
# Framecast with its own streams:
# (1) cost: a live 1080p30 encode with one viewer, against the same with one more viewer of a
#     rendition (960x540: a quarter of the pixels; 480x270: a quarter of each side); the
#     rendition's cost is the difference, at most a quarter of the source's. Both inputs a
#     rendition has: the source's JPEGs (decoded at a reduced scale: a camera that sends MJPEG),
#     and the raw pictures of a pipeline that tees them to `appsink name=raw` before its encoder
#     (shrunk, nothing decoded: pipelines/test.pipeline and camera.pipeline).
# (2) fan-out: 1, 50 and 200 viewers of one 320-px rendition of 1080p30 frames; server CPU flat
#     within 10%, and /api/streams showing one rendition with every viewer on it.
# (3) the wall: one WebSocket subscribed to 12 1080p streams at full size, against the same
#     subscription at tile width; the bytes a browser receives, at least 8x fewer.
# 4:2:0 (format=I420), as cameras send MJPEG: without a format, videotestsrc and jpegenc agree on
# Y444 and the JPEGs are 4:4:4 (as the matrix's pre-rendered frames are), a third larger and slower
# to encode and to decode. The fan-out and wall cells play pre-rendered 4:2:0 frames (frames-1080-i420).
_PATTERN = ("videotestsrc is-live=true pattern=smpte horizontal-speed=4 "
            f"! video/x-raw,format=I420,width=1920,height=1080,framerate={FPS}/1")
RENDITION_SOURCES = {
    "jpeg": f"{_PATTERN} ! jpegenc ! appsink name=sink",
    # as pipelines/test.pipeline tees its pictures (each branch its one-picture leaky queue)
    "raw": (f"{_PATTERN} ! tee name=picture ! queue max-size-buffers=1 leaky=downstream ! jpegenc ! appsink name=sink "
            "picture. ! queue max-size-buffers=1 leaky=downstream ! appsink name=raw"),
}
RENDITION_FRAMES_FORMAT = "I420"
RENDITION_WIDTHS = [960, 480]
RENDITION_MAX_COST = 0.25
FANOUT_CLIENTS = [1, 50, 200]
FANOUT_WIDTH = 320
FANOUT_MAX_GROWTH = 1.10
WALL_STREAMS = 12
# 12 streams of 1080p at 30 fps would need 360 decodes a second: more than the two shared cores
# give the server, the load client and the machine. The bytes per second scale with the rate, their
# ratio does not.
WALL_FPS = int(os.environ.get("BENCH_WALL_FPS", "10"))
# The page asks each tile at its CSS width times devicePixelRatio, snapped to 16: four columns in a
# 1920-px window at DPR 1.
WALL_TILE_WIDTH = 480
WALL_MIN_SAVING = 8.0
RENDITION_REPEATS = int(os.environ.get("BENCH_RENDITION_REPEATS", "1" if QUICK else "3"))
RENDITION_WARMUP = 3.0  # a rendition starts on its first request: its encoder and first frames
RENDITION_WINDOW = 5.0 if QUICK else 6.0

# The parts of a run (BENCH_ONLY=renditions,slow,... runs only those; default: every part); tls and
# h2 are the TLS issue's cells (BENCH_ONLY=tls,h2 runs both, about 6 minutes).
PARTS = ["matrix", "before", "readers", "syscalls", "slow", "renditions", "tls", "h2"]
ONLY = [p for p in os.environ.get("BENCH_ONLY", "").replace(" ", "").split(",") if p]
if unknown_parts := [p for p in ONLY if p not in PARTS]:
    sys.exit(f"BENCH_ONLY: unknown part(s) {', '.join(unknown_parts)} (parts: {', '.join(PARTS)})")


def wants(part: str) -> bool:
    return not ONLY or part in ONLY


# A cell is "kept up" when every client got nearly every frame; a clear failure stops the
# contender's larger cells at that resolution.
KEPT_UP_MEDIAN, KEPT_UP_MIN = 0.95 * FPS, 0.85 * FPS
CLEAR_FAILURE_MEDIAN = 0.8 * FPS

HAND_WRITTEN = "<!-- hand-written analysis below: kept when the report is regenerated -->"
_children: list[subprocess.Popen] = []
_port = int(os.environ.get("BENCH_PORT", "18100"))


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes

def _raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, 65536), hard))


def spawn(cmd, raise_nofile=True, **kw) -> subprocess.Popen:
    # the load client raises its own limit; it is started from threads, where preexec_fn is unsafe
    proc = subprocess.Popen(cmd, start_new_session=True, preexec_fn=_raise_nofile if raise_nofile else None, **kw)
    _children.append(proc)
    return proc


def stop(proc: subprocess.Popen, grace=4.0):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of its group
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass
    if proc in _children:
        _children.remove(proc)


def stop_all():
    for proc in list(_children):
        stop(proc, grace=1.0)


atexit.register(stop_all)
for _sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, lambda *_: sys.exit(130))


def next_port() -> int:
    global _port
    while True:
        _port += 1
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", _port))
                return _port
            except OSError:
                continue


def wait_port(port: int, proc: subprocess.Popen, timeout=20.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


def tree_cpu_seconds(pid: int) -> float:
    """user+sys of the process tree, plus the waited-for children of its root."""
    total = 0
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is field 3 (state): utime=14, stime=15, cutime=16, cstime=17
        total += int(fields[11]) + int(fields[12])
        if p == pid:
            total += int(fields[13]) + int(fields[14])
    return total / TICKS


def pipeline_cpu_seconds(pid: int) -> float:
    """user+sys of the threads of `pid` that run the frame source: GStreamer names a source's
    streaming thread after the element (imagesequencesrc0:src → "imagesequencesr"). In the bench
    pipeline everything per frame (reading, parsing, pacing, and Framecast's appsink callback
    that lays the frame out) runs on that thread, whatever the client count."""
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                head, rest = f.read().rsplit(")", 1)
        except OSError:
            continue
        if head.split("(", 1)[1].startswith("imagesequence"):
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])
    return total / TICKS


def thread_cpu_seconds(pid: int) -> dict[int, tuple[str, float]]:
    """Each thread of `pid`: its name (/proc/PID/task/TID/comm) and user+sys."""
    out: dict[int, tuple[str, float]] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                head, rest = f.read().rsplit(")", 1)
        except OSError:
            continue
        fields = rest.split()
        out[int(tid)] = (head.split("(", 1)[1], (int(fields[11]) + int(fields[12])) / TICKS)
    return out


def tree_rss_mb(pid: int) -> float:
    total = 0
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
        except OSError:
            pass
    return total / 1e6


def vm_hwm_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            m = re.search(r"VmHWM:\s+(\d+) kB", f.read())
        return int(m.group(1)) / 1000 if m else None
    except OSError:
        return None


def machine_busy() -> tuple[int, int]:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


# ---------------------------------------------------------------- preparation

def ensure_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        log("matplotlib is missing: pip install matplotlib")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "matplotlib"], check=True)


def ensure_flask():
    try:
        import flask  # noqa: F401
    except ImportError:
        log("flask is missing: pip install flask")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "flask"], check=True)


def gi_python() -> str | None:
    """A Python that has PyGObject with GStreamer 1.0 (Debian's python3-gi)."""
    for py in (sys.executable, "/usr/bin/python3"):
        if py and shutil.which(py) or os.path.exists(py):
            r = subprocess.run([py, "-c", "import gi; gi.require_version('Gst', '1.0'); from gi.repository import Gst"],
                               capture_output=True)
            if r.returncode == 0:
                return py
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("PyGObject is missing: apt-get install python3-gi gir1.2-gstreamer-1.0")
        subprocess.run(["apt-get", "install", "-y", "-q", "python3-gi", "gir1.2-gstreamer-1.0"],
                       capture_output=True)
        if os.path.exists("/usr/bin/python3"):
            return "/usr/bin/python3"
    return None


def build_tools():
    subprocess.run(["make", "-s", "-C", str(BENCH), "tools"], check=True)


def render_frames(res: str, video_format: str | None = None) -> Path:
    """The frames of `res` (frames-720, frames-1080: jpegenc's default negotiation, which gives 4:4:4
    JPEGs), or with `video_format` (frames-1080-i420: 4:2:0, as cameras send)."""
    width, height = RESOLUTIONS[res]
    d = BENCH / (f"frames-{res[:-1]}" + (f"-{video_format.lower()}" if video_format else ""))
    caps = f"video/x-raw,{f'format={video_format},' if video_format else ''}width={width},height={height},framerate={FPS}/1"
    if not (d / f"{NFRAMES - 1:05d}.jpg").exists():
        d.mkdir(exist_ok=True)
        log(f"rendering {NFRAMES} frames of {width}x{height} into {d}")
        subprocess.run(
            ["gst-launch-1.0", "-q", "videotestsrc", f"num-buffers={NFRAMES}", "pattern=smpte", "horizontal-speed=4",
             "!", caps, "!", "timeoverlay",
             "!", "jpegenc", "quality=85", "!", "multifilesink", f"location={d}/%05d.jpg"],
            check=True, timeout=300)
    loop = d / "loop"
    if not (loop / f"{LOOP_FRAMES - 1:06d}.jpg").exists():
        loop.mkdir(exist_ok=True)
        for i in range(LOOP_FRAMES):
            link = loop / f"{i:06d}.jpg"
            if not link.is_symlink():
                link.symlink_to(f"../{i % NFRAMES:05d}.jpg")
    return d


def frame_stats(d: Path) -> dict:
    sizes = [p.stat().st_size for p in sorted(d.glob("[0-9]*.jpg"))]
    return {"frames": len(sizes), "mean_bytes": statistics.mean(sizes), "stream_MBps": statistics.mean(sizes) * FPS / 1e6}


# ---------------------------------------------------------------- contenders

def framecast_binary() -> Path | None:
    for cand in (os.environ.get("FRAMECAST"), REPO / ".build/release/framecast", "/tmp/fc-bench/.build/release/framecast"):
        if cand and Path(cand).is_file() and os.access(cand, os.X_OK):
            return Path(cand)
    return None


def framecast_before_binary(build: bool = False) -> Path | None:
    """FRAMECAST_BEFORE, else build-before.sh's binary for BEFORE_REF (built first when `build`)."""
    env = os.environ.get("FRAMECAST_BEFORE")
    if env:
        return Path(env) if Path(env).is_file() and os.access(env, os.X_OK) else None
    r = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short=7", "--verify", "--quiet", f"{BEFORE_REF}^{{commit}}"],
                       capture_output=True, text=True)
    short = r.stdout.strip()
    if short:
        cand = BENCH / "before" / short / ".build/release/framecast"
        if (cand.parent.parent.parent / ".framecast-before").is_file() and os.access(cand, os.X_OK):
            return cand
    if not build:
        return None
    log(f"framecast-before: building {BEFORE_REF} with build-before.sh (about 10 minutes on 2 cores)")
    r = subprocess.run([str(BENCH / "build-before.sh")], env={**os.environ, "BEFORE_REF": BEFORE_REF},
                       stdout=subprocess.PIPE, text=True)
    path = r.stdout.strip().splitlines()[-1] if r.returncode == 0 and r.stdout.strip() else ""
    if path and os.access(path, os.X_OK):
        os.environ["FRAMECAST_BEFORE"] = path
        return Path(path)
    return None


def binary_commit(fc: Path) -> str:
    """The commit a framecast binary was built from: build-before.sh's stamp, else the checkout's HEAD."""
    src = fc.parents[2] if len(fc.parents) > 2 else REPO
    stamp = src / ".framecast-before"
    if stamp.is_file():
        return stamp.read_text().split()[0][:7]
    commit = "unknown"
    r = subprocess.run(["git", "-C", str(src), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    commit = r.stdout.strip() or commit
    if r.returncode == 0:
        dirty = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        if dirty:
            commit += " (with uncommitted changes)"
    return commit


def server_command(name: str, frames: Path, port: int, gipy: str | None) -> list[str] | None:
    loop = f"{frames}/loop/%06d.jpg"
    if name in ("framecast", "framecast-copy", "framecast-before"):
        fc = framecast_before_binary() if name == "framecast-before" else framecast_binary()
        if not fc:
            return None
        pipeline = f"imagesequencesrc location={loop} framerate={FPS}/1 ! jpegparse ! clocksync ! appsink name=sink"
        copy = ["--no-sendfile"] if name == "framecast-copy" else []
        return [str(fc), "--pipeline", pipeline, "--port", str(port), "--always-on", "--max-clients", "4096", "--log-level", "warning"] + copy
    if name == "floor":
        return [str(BIN / "floor"), "--dir", str(frames), "--port", str(port), "--fps", str(FPS)]
    if name == "floor-sendfile":
        return [str(BIN / "floor"), "--dir", str(frames), "--port", str(port), "--fps", str(FPS), "--sendfile"]
    if name == "flask":
        return [sys.executable, str(BENCH / "peers/flask_server.py"), "--dir", str(frames), "--port", str(port), "--fps", str(FPS)]
    if name == "gstreamer":
        if not gipy:
            return None
        return [gipy, str(BENCH / "peers/gst_server.py"), "--location", loop, "--port", str(port), "--fps", str(FPS)]
    raise ValueError(name)


class Server:
    def __init__(self, name, frames, gipy, tag, command=None):
        """`command(port)`, when given, is the command line (the rendition cells' own flags)."""
        self.name = name
        self.port = next_port()
        cmd = command(self.port) if command else server_command(name, frames, self.port, gipy)
        if cmd is None:
            raise RuntimeError(f"{name}: not available")
        RESULTS.mkdir(exist_ok=True)
        self.logpath = RESULTS / f"server-{name}-{tag}.log"
        self.logfile = open(self.logpath, "w")
        self.proc = spawn(cmd, stdout=self.logfile, stderr=subprocess.STDOUT, cwd=str(BENCH))
        if not wait_port(self.port, self.proc):
            self.close()
            raise RuntimeError(f"{name}: did not start (see {self.logpath})")
        time.sleep(1.5)  # the pipeline / camera thread produces frames
        if self.proc.poll() is not None:
            self.close()
            raise RuntimeError(f"{name}: exited at start (see {self.logpath})")
        self.rss_max = 0.0
        self._sampling = True
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self):
        while self._sampling:
            self.rss_max = max(self.rss_max, tree_rss_mb(self.proc.pid))
            time.sleep(0.25)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/stream"

    def hwm(self):
        return vm_hwm_mb(self.proc.pid)

    def close(self):
        self._sampling = False
        stop(self.proc)
        self.logfile.close()


def run_load(url, clients, warmup, duration, rate=0.0, on_window=None, client_args=(), spread=SPREAD):
    """Runs bin/loadclient; on_window("start"|"end") is called at the window's edges."""
    cmd = [str(BIN / "loadclient"), "--url", url, "--clients", str(clients), "--warmup", str(warmup),
           "--duration", str(duration), "--spread", str(spread)]
    if rate:
        cmd += ["--rate", str(rate)]
    cmd += list(client_args)
    return run_client(cmd, spread + warmup + duration, on_window, "load client")


def run_wall(url, subscription, warmup, duration, on_window=None):
    """Runs wallclient.py (one WebSocket to /ws with `subscription`), like run_load."""
    cmd = [sys.executable, str(BENCH / "wallclient.py"), "--url", url, "--subscribe", json.dumps(subscription),
           "--warmup", str(warmup), "--duration", str(duration)]
    return run_client(cmd, warmup + duration, on_window, "wall client")


def run_client(cmd, seconds, on_window, what):
    """Runs a client that prints WINDOW_START / WINDOW_END on stderr and one JSON object on stdout."""
    proc = spawn(cmd, raise_nofile=False, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    errors = []

    def read_stderr():
        for line in proc.stderr:
            if line.startswith("WINDOW_START") and on_window:
                on_window("start")
            elif line.startswith("WINDOW_END") and on_window:
                on_window("end")
            else:
                errors.append(line)

    t = threading.Thread(target=read_stderr, daemon=True)
    t.start()
    watchdog = threading.Timer(seconds + 60, lambda: stop(proc, grace=0.5))
    watchdog.start()
    try:
        out = proc.stdout.read()
        proc.wait()
    finally:
        watchdog.cancel()
    t.join(5)
    if proc in _children:
        _children.remove(proc)
    if proc.returncode != 0 or not out.strip():
        raise RuntimeError(f"{what} failed ({proc.returncode}): {''.join(errors)[-500:]}")
    return json.loads(out)


def wait_quiet(limit=float(os.environ.get("BENCH_QUIET_WAIT", "180")), threshold=20.0) -> float:
    """Waits (up to `limit` s) until the machine is nearly idle: other work on the 2 cores (a build)
    would steal CPU from the server and the load client. Returns the last busy % seen."""
    deadline = time.time() + limit
    announced = False
    while True:
        b0, a0 = machine_busy()
        time.sleep(1.0)
        b1, a1 = machine_busy()
        busy = 100 * (b1 - b0) / max(1, a1 - a0)
        if busy < threshold or time.time() > deadline:
            return busy
        if not announced:
            log(f"    waiting for the machine to go quiet (busy {busy:.0f}%)")
            announced = True


def measure_cell(name, res, frames, clients, gipy, client_args=()):
    quiet = wait_quiet()
    server = Server(name, frames, gipy, f"{res}-{clients}")
    marks = {}

    def on_window(edge):
        marks[edge] = (time.time(), tree_cpu_seconds(server.proc.pid), machine_busy(), pipeline_cpu_seconds(server.proc.pid))

    try:
        load = run_load(server.url, clients, WARMUP, WINDOW, on_window=on_window, client_args=client_args)
        alive = server.proc.poll() is None
        hwm = server.hwm()
    finally:
        server.close()
    if "start" not in marks or "end" not in marks:
        raise RuntimeError("no measurement window")
    (t0, c0, (b0, a0), p0), (t1, c1, (b1, a1), p1) = marks["start"], marks["end"]
    wall = t1 - t0
    cpu = c1 - c0
    gb = load["MBps"] * load["window_s"] / 1000
    busy = 100 * (b1 - b0) / max(1, a1 - a0)
    return {
        "contender": name, "res": res, "clients": clients, "server_alive": alive,
        "server_cpu_s": cpu, "server_cpu_pct": 100 * cpu / wall, "wall_s": wall,
        "pipeline_cpu_pct": 100 * (p1 - p0) / wall if name.startswith("framecast") else None,
        "machine_busy_pct": busy, "busy_before_pct": quiet,
        # CPU (% of one core) used during the window by neither the server nor the load client
        "other_cpu_pct": busy * (os.cpu_count() or 1) - 100 * cpu / wall - load["client_cpu_pct"],
        "peak_rss_mb": max(hwm or 0, server.rss_max), "vm_hwm_mb": hwm, "rss_sampled_max_mb": server.rss_max,
        "gb": gb, "core_s_per_gb": cpu / gb if gb > 0 else None,
        # The load client's core-seconds per GB, and both together: on loopback part of the
        # receiver's TCP work is charged to whichever process runs it (the sender's softirq, or
        # the reader's backlog processing), so the sum is the fairer comparison between servers.
        "client_core_s_per_gb": load["client_cpu_pct"] / 100 * wall / gb if gb > 0 else None,
        "total_core_s_per_gb": (cpu + load["client_cpu_pct"] / 100 * wall) / gb if gb > 0 else None,
        "reader": " ".join(client_args) or "bench",
        "load": load,
    }


def perf_available() -> bool:
    try:
        r = subprocess.run(["perf", "stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "--", "true"],
                           capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0 and "raw_syscalls" in r.stderr and "not supported" not in r.stderr


def measure_syscalls(name, res, frames, clients, reader):
    """System calls of the server per frame per client over a short window (perf stat -p)."""
    wait_quiet()
    server = Server(name, frames, None, f"{res}-{clients}-syscalls")
    perf = {}

    def on_window(edge):
        if edge == "start":
            perf["proc"] = subprocess.Popen(["perf", "stat", "-x", ",", "-e", ",".join(SYSCALL_EVENTS), "-p", str(server.proc.pid)],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        elif "proc" in perf:
            perf["proc"].send_signal(signal.SIGINT)

    try:
        load = run_load(server.url, clients, WARMUP, SYSCALL_WINDOW, on_window=on_window, client_args=READERS[reader])
    finally:
        if "proc" in perf and perf["proc"].poll() is None:
            perf["proc"].send_signal(signal.SIGINT)
        err = perf["proc"].communicate(timeout=20)[1] if "proc" in perf else ""
        server.close()
    counts = {}
    for line in err.splitlines():
        f = line.split(",")
        if len(f) > 2 and f[0].strip().isdigit():
            counts[f[2].split(":")[-1].replace("sys_enter_", "")] = int(f[0])
    per = {k: v / load["frames"] for k, v in counts.items()} if load["frames"] else {}
    return {"contender": name, "res": res, "clients": clients, "reader": reader, "frames": load["frames"],
            "fps_min": load["fps_min"], "per_frame_per_client": per, "raw": counts}


def measure_window(name, res, frames, clients, gipy, client_args=()):
    """One more window of a cell (the repeats): the cell, or its failure as a status, logged."""
    try:
        cell = measure_cell(name, res, frames, clients, gipy, client_args=client_args)
    except Exception as e:  # noqa: BLE001
        cell = {"contender": name, "res": res, "clients": clients, "status": f"failed: {e}"}
        log(f"    {cell['status']}")
        return cell
    L = cell["load"]
    log(f"    fps {L['fps_min']:.1f}/{L['fps_median']:.1f}  cpu {cell['server_cpu_pct']:.0f}%  p99 {L['latency_ms_p99']}  "
        f"client cpu {L['client_cpu_pct']:.0f}%  other {cell['other_cpu_pct']:.0f}%")
    return cell


def kept_up(cell) -> bool:
    load = cell["load"]
    return (load["fps_median"] >= KEPT_UP_MEDIAN and load["fps_min"] >= KEPT_UP_MIN
            and load["zero_frame_clients"] == 0 and cell["server_alive"])


def clear_failure(cell) -> bool:
    load = cell["load"]
    return (load["fps_median"] < CLEAR_FAILURE_MEDIAN or load["zero_frame_clients"] > 0.05 * load["clients"]
            or not cell["server_alive"])


def slow_reader(name, frames, gipy):
    """200 fast clients and one client reading at 1 MB/s from the ~3 MB/s 720p stream."""
    wait_quiet()
    server = Server(name, frames, gipy, "slow")
    marks = {}

    def on_window(edge):
        marks[edge] = (time.time(), tree_cpu_seconds(server.proc.pid))

    results = {}

    def fast():
        try:
            results["fast"] = run_load(server.url, SLOW_FAST_CLIENTS, WARMUP, SLOW_SECONDS, on_window=on_window)
        except Exception as e:  # noqa: BLE001
            results["fast_error"] = str(e)

    def slow():
        try:
            results["slow"] = run_load(server.url, 1, WARMUP, SLOW_SECONDS, rate=SLOW_RATE)
        except Exception as e:  # noqa: BLE001
            results["slow_error"] = str(e)

    try:
        threads = [threading.Thread(target=fast), threading.Thread(target=slow)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(SPREAD + WARMUP + SLOW_SECONDS + 90)
        hwm = server.hwm()
    finally:
        server.close()
    out = {"contender": name, "seconds": SLOW_SECONDS, "rate_Bps": SLOW_RATE, "peak_rss_mb": max(hwm or 0, server.rss_max), **results}
    if "start" in marks and "end" in marks:
        out["server_cpu_pct"] = 100 * (marks["end"][1] - marks["start"][1]) / (marks["end"][0] - marks["start"][0])
    return out


# ---------------------------------------------------------------- renditions

def framecast_streams(streams: dict[str, str], always_on=True):
    """A command(port) for Framecast serving `streams` (name -> pipeline description)."""
    fc = framecast_binary()

    def command(port):
        cmd = [str(fc)]
        for name, description in streams.items():
            cmd += ["--stream", f"{name}={description}"]
        return cmd + ["--port", str(port), "--max-clients", "4096", "--log-level", "warning"] + (["--always-on"] if always_on else [])
    return command


def frames_source(frames: Path, fps: int) -> str:
    return f"imagesequencesrc location={frames}/loop/%06d.jpg framerate={fps}/1 ! jpegparse ! clocksync ! appsink name=sink"


def api_streams(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/streams", timeout=5) as r:
            return json.loads(r.read())
    except (OSError, ValueError):
        return None


def renditions_of(api: dict | None, stream: str) -> list[dict]:
    for s in (api or {}).get("streams", []):
        if s.get("name") == stream:
            return s.get("renditions") or []
    return []


# The server's threads by what they do (/proc/PID/task/*/comm, the last 15 bytes of a long name):
# GStreamer names a streaming thread after its source pad (videotestsrc0:src, imagesequencesrc0:src,
# and a tee's branches queue0:src, queue1:src; a rendition's appsrc "src" gives "src:src", where
# videoscale and jpegenc run). A rendition decodes a JPEG or shrinks a raw picture on a serial
# DispatchQueue, which runs on libdispatch's overcommit pool ("com.apple.root.default-qos.overcommit");
# Swift's tasks (the WebSocket writer among them) run on the cooperative pool ("com.apple.root.default-qos").
THREAD_GROUPS = [
    ("source pipeline", lambda n: n.startswith(("videotestsrc", "imagesequence", "queue"))),
    ("rendition input", lambda n: n.endswith("qos.overcommit")),
    ("rendition scale+encode", lambda n: n == "src:src"),
    ("event loops", lambda n: n.startswith("NIO-")),
    ("swift tasks", lambda n: n.endswith("default-qos")),
]


def thread_groups(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], total_s: float, wall: float) -> dict[str, float]:
    """% of one core per group over a window; "other" is the rest of the process's total, with the
    CPU of threads that ended during the window."""
    out = {g: 0.0 for g, _ in THREAD_GROUPS}
    for tid, (name, t1) in after.items():
        for group, match in THREAD_GROUPS:
            if match(name):
                out[group] += 100 * (t1 - before.get(tid, (name, 0.0))[1]) / wall
                break
    out["other"] = 100 * total_s / wall - sum(out.values())
    return out


class Marks:
    """The server's CPU (process total and per thread) and the machine's at a client's window edges,
    and /api/streams in the middle of the window (at its end the clients are already leaving)."""

    def __init__(self, server: Server):
        self.server, self.at = server, {}

    def __call__(self, edge):
        pid = self.server.proc.pid
        self.at[edge] = (time.time(), tree_cpu_seconds(pid), thread_cpu_seconds(pid), machine_busy())
        if edge == "start":
            timer = threading.Timer(RENDITION_WINDOW / 2, lambda: self.at.__setitem__("api", api_streams(self.server.port)))
            timer.daemon = True
            timer.start()

    def window(self) -> dict:
        if "start" not in self.at or "end" not in self.at:
            raise RuntimeError("no measurement window")
        (t0, c0, th0, (b0, a0)), (t1, c1, th1, (b1, a1)) = self.at["start"], self.at["end"]
        wall = t1 - t0
        return {"wall_s": wall, "server_cpu_s": c1 - c0, "server_cpu_pct": 100 * (c1 - c0) / wall,
                "threads_pct": thread_groups(th0, th1, c1 - c0, wall),
                "machine_busy_pct": 100 * (b1 - b0) / max(1, a1 - a0), "api": self.at.get("api")}


def idle_window() -> dict:
    """The server with the source defined but not running (no viewer, not always-on)."""
    wait_quiet()
    server = Server("framecast", None, None, "rendition-idle", command=framecast_streams({"cam": RENDITION_SOURCES["jpeg"]}, always_on=False))
    marks = Marks(server)
    try:
        time.sleep(1.0)
        marks("start")
        time.sleep(RENDITION_WINDOW)
        marks("end")
    finally:
        server.close()
    w = marks.window()
    w.pop("api", None)
    return {"variant": "idle", **w}


def rendition_cost_window(source: str, width: int | None, repeat: int) -> dict:
    """One viewer of the live 1080p30 source (RENDITION_SOURCES[source]), and with `width` one more
    viewer of that rendition."""
    variant = str(width) if width else "source"
    wait_quiet()
    server = Server("framecast", None, None, f"rendition-cost-{source}-{variant}-{repeat}",
                    command=framecast_streams({"cam": RENDITION_SOURCES[source]}))
    marks = Marks(server)
    results: dict = {}

    def viewer(key, path, on_window):
        try:
            # one viewer each: no connects to spread
            results[key] = run_load(f"http://127.0.0.1:{server.port}{path}", 1, RENDITION_WARMUP, RENDITION_WINDOW,
                                    on_window=on_window, spread=0)
        except Exception as e:  # noqa: BLE001
            results["error"] = f"{key}: {e}"

    threads = [threading.Thread(target=viewer, args=("source", "/stream/cam", marks))]
    if width:
        threads.append(threading.Thread(target=viewer, args=("rendition", f"/stream/cam?width={width}", None)))
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(RENDITION_WARMUP + RENDITION_WINDOW + 90)
        alive = server.proc.poll() is None
    finally:
        server.close()
    if "error" in results:
        raise RuntimeError(results["error"])
    w = marks.window()
    api = w.pop("api")
    status = next((s for s in (api or {}).get("streams", []) if s.get("name") == "cam"), {})
    return {"input": source, "variant": variant, "width": width, "repeat": repeat, "server_alive": alive, **w,
            "source_fps": status.get("fps"), "renditions": renditions_of(api, "cam"),
            "source_load": results.get("source"), "rendition_load": results.get("rendition")}


def fanout_window(clients: int, repeat: int, frames: Path) -> dict:
    """`clients` viewers of one FANOUT_WIDTH rendition of 1080p30 frames."""
    wait_quiet()
    server = Server("framecast", None, None, f"rendition-fanout-{clients}-{repeat}",
                    command=framecast_streams({"cam": frames_source(frames, FPS)}))
    marks = Marks(server)
    try:
        load = run_load(f"http://127.0.0.1:{server.port}/stream/cam?width={FANOUT_WIDTH}", clients, RENDITION_WARMUP,
                        RENDITION_WINDOW, on_window=marks)
        alive = server.proc.poll() is None
    finally:
        server.close()
    w = marks.window()
    api = w.pop("api")
    return {"clients": clients, "repeat": repeat, "server_alive": alive, **w, "renditions": renditions_of(api, "cam"), "load": load}


def wall_window(mode: str, repeat: int, frames: Path) -> dict:
    """One WebSocket subscribed to WALL_STREAMS 1080p streams, at full size or at tile width."""
    names = [f"cam{i:02d}" for i in range(1, WALL_STREAMS + 1)]
    source = frames_source(frames, WALL_FPS)
    wanted = names if mode == "full" else [{"name": n, "width": WALL_TILE_WIDTH} for n in names]
    wait_quiet()
    server = Server("framecast", None, None, f"rendition-wall-{mode}-{repeat}", command=framecast_streams({n: source for n in names}))
    marks = Marks(server)
    try:
        load = run_wall(f"ws://127.0.0.1:{server.port}/ws", {"streams": wanted}, RENDITION_WARMUP, RENDITION_WINDOW, on_window=marks)
        alive = server.proc.poll() is None
    finally:
        server.close()
    w = marks.window()
    api = w.pop("api")
    return {"mode": mode, "repeat": repeat, "server_alive": alive, **w,
            "renditions": {n: renditions_of(api, n) for n in names}, "load": load}


def log_window(w: dict, what: str):
    g = w.get("threads_pct", {})
    log(f"    {what}: cpu {w['server_cpu_pct']:.1f}%  ("
        + ", ".join(f"{k} {v:.1f}" for k, v in g.items()) + f")  machine {w['machine_busy_pct']:.0f}%")


def measure_renditions(frames1080: Path, commit: str) -> dict:
    """The three rendition cells; each window on a fresh server, orders alternating between repeats."""
    out = {"run_id": None, "date": None, "commit": commit, "repeats": RENDITION_REPEATS, "warmup": RENDITION_WARMUP,
           "window": RENDITION_WINDOW, "sources": RENDITION_SOURCES, "wall_fps": WALL_FPS, "wall_tile_width": WALL_TILE_WIDTH,
           "fanout_width": FANOUT_WIDTH, "cost": [], "fanout": [], "wall": [], "errors": []}

    def attempt(what, fn, *args):
        log(f"[renditions] {what} ...")
        try:
            w = fn(*args)
        except Exception as e:  # noqa: BLE001
            out["errors"].append(f"{what}: {e}")
            log(f"    failed: {e}")
            return None
        log_window(w, what)
        return w

    out["idle"] = attempt("idle server", idle_window)
    variants = [(source, width) for source in RENDITION_SOURCES for width in [None] + RENDITION_WIDTHS]
    for r in range(RENDITION_REPEATS):
        order = variants[r % len(variants):] + variants[:r % len(variants)]
        for source, width in (order if r % 2 == 0 else list(reversed(order))):
            w = attempt(f"cost, {source} input: source viewer{f' + {width}-px rendition viewer' if width else ''} (repeat {r + 1})",
                        rendition_cost_window, source, width, r)
            if w:
                out["cost"].append(w)
    for r in range(RENDITION_REPEATS):
        for n in (FANOUT_CLIENTS if r % 2 == 0 else list(reversed(FANOUT_CLIENTS))):
            w = attempt(f"fan-out, {n} viewers of one {FANOUT_WIDTH}-px rendition (repeat {r + 1})", fanout_window, n, r, frames1080)
            if w:
                out["fanout"].append(w)
    for r in range(RENDITION_REPEATS):
        for mode in (["full", "tiles"] if r % 2 == 0 else ["tiles", "full"]):
            w = attempt(f"wall, {WALL_STREAMS} streams {'at full size' if mode == 'full' else f'at {WALL_TILE_WIDTH} px'} (repeat {r + 1})",
                        wall_window, mode, r, frames1080)
            if w:
                L = w["load"]
                log(f"      {L['MBps']:.2f} MB/s, {L['streams_received']} streams at {L['fps_min']:.1f}/{L['fps_median']:.1f} fps, "
                    f"names {', '.join(L['names_seen'][:2])}...")
                out["wall"].append(w)
    return out


# ---------------------------------------------------------------- TLS and HTTP/2

# The TLS issue's cells. (1) TLS: Framecast serving HTTPS itself (`--tls-cert`/`--tls-key`) against
# Debian's nginx terminating TLS in front of plain-HTTP Framecast (proxy_pass, `proxy_buffering off`,
# HTTP/1.1 upstream keepalive), 50 and 200 HTTP/1.1-over-TLS viewers of the 720p30 frames; CPU per
# GB of Framecast alone against nginx + its upstream Framecast, and against nginx alone. (2) HTTP/2:
# 200 connections with 4 streams each (ALPN h2) to Framecast, against the same 800 streams as 800
# HTTP/1.1-over-TLS connections. Every window on freshly started servers, contenders alternating.
TLS_CLIENTS = [int(n) for n in os.environ.get("BENCH_TLS_CLIENTS", "50,200").split(",") if n]
TLS_CONTENDERS = ["framecast-tls", "nginx-tls"]
H2_CONNECTIONS = int(os.environ.get("BENCH_H2_CONNECTIONS", "200"))
H2_STREAMS = int(os.environ.get("BENCH_H2_STREAMS", "4"))
# nginx-h2 (nginx terminating TLS with HTTP/2 in front of plain Framecast) can be added to check
# the HTTP/2 client against another server: BENCH_H2_CONTENDERS=framecast-h2,framecast-tls,nginx-h2
H2_CONTENDERS = [c for c in os.environ.get("BENCH_H2_CONTENDERS", "framecast-h2,framecast-tls").split(",") if c]
TLS_REPEATS = int(os.environ.get("BENCH_TLS_REPEATS", "1" if QUICK else "3"))
TLS_WINDOW = float(os.environ.get("BENCH_TLS_WINDOW", str(WINDOW)))
# The load client offers one TLS 1.3 suite, so every server negotiates the same cipher.
TLS_CIPHERSUITE = "TLS_AES_128_GCM_SHA256"
# nginx's read buffer from the upstream (with proxy_buffering off each read is sent on at once, so
# its size is the TLS write size): nginx's default is one page (4 KB), which costs it a TLS record
# and a write per 4 KB; 64 KB is what a tuned proxy for large responses would use.
NGINX_PROXY_BUFFER = os.environ.get("BENCH_NGINX_PROXY_BUFFER", "64k")
TLS_MAX_RATIO = 1.0  # Framecast's CPU per GB at most nginx + Framecast's (stretch: at most nginx alone's)


def tls_files() -> tuple[Path, Path]:
    """A self-signed P-256 certificate for localhost (made once per run)."""
    d = RESULTS / "tls"
    d.mkdir(parents=True, exist_ok=True)
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-keyout", str(key), "-out", str(cert), "-nodes", "-subj", "/CN=localhost", "-days", "2"],
                   check=True, capture_output=True)
    return cert, key


def framecast_has_tls(fc: Path | None) -> bool:
    if not fc:
        return False
    r = subprocess.run([str(fc), "serve", "--help"], capture_output=True, text=True)
    return "--tls-cert" in (r.stdout + r.stderr)


def nginx_version() -> str | None:
    exe = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if not exe:
        return None
    r = subprocess.run([exe, "-v"], capture_output=True, text=True)
    m = re.search(r"nginx/(\S+)", r.stderr + r.stdout)
    return m.group(1) if m else None


def nginx_command(port: int, upstream_port: int, cert: Path, key: Path, tag: str, h2: bool) -> list[str]:
    """nginx in the foreground terminating TLS on `port` in front of http://127.0.0.1:upstream_port."""
    exe = shutil.which("nginx") or "/usr/sbin/nginx"
    prefix = RESULTS / f"nginx-{tag}"
    prefix.mkdir(parents=True, exist_ok=True)
    version = tuple(int(x) for x in re.findall(r"\d+", nginx_version() or "0")[:3])
    # `http2 on;` arrived in nginx 1.25.1; before it, the listen parameter
    listen = f"listen 127.0.0.1:{port} ssl{' http2' if h2 and version < (1, 25, 1) else ''};"
    http2 = "http2 on;" if h2 and version >= (1, 25, 1) else ""
    conf = f"""daemon off;
master_process on;
worker_processes auto;
worker_rlimit_nofile 65536;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream framecast {{
        server 127.0.0.1:{upstream_port};
        keepalive 64;
    }}
    server {{
        {listen}
        {http2}
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{
            proxy_pass http://framecast;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_buffering off;
            proxy_buffer_size {NGINX_PROXY_BUFFER};
            proxy_buffers 4 {NGINX_PROXY_BUFFER};
            proxy_busy_buffers_size {NGINX_PROXY_BUFFER};
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
        }}
    }}
}}
"""
    (prefix / "nginx.conf").write_text(conf)
    return [exe, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(prefix / "nginx.conf")]


def tls_setup(contender: str, frames: Path, cert: Path, key: Path, tag: str) -> tuple[dict[str, Server], str]:
    """Starts a contender's processes: {role: Server} (roles: framecast, nginx) and the URL."""
    servers: dict[str, Server] = {}
    try:
        if contender in ("framecast-tls", "framecast-h2"):
            def command(port):
                return server_command("framecast", frames, port, None) + ["--tls-cert", str(cert), "--tls-key", str(key)]
            servers["framecast"] = Server(contender, frames, None, tag, command=command)
            return servers, f"https://127.0.0.1:{servers['framecast'].port}/stream"
        if contender in ("nginx-tls", "nginx-h2"):
            servers["framecast"] = Server("framecast", frames, None, f"{tag}-upstream")
            upstream = servers["framecast"].port
            servers["nginx"] = Server(contender, frames, None, tag,
                                      command=lambda port: nginx_command(port, upstream, cert, key, tag, contender == "nginx-h2"))
            return servers, f"https://127.0.0.1:{servers['nginx'].port}/stream"
    except Exception:
        for s in servers.values():
            s.close()
        raise
    raise ValueError(contender)


def tls_window(cell: str, contender: str, connections: int, streams: int, frames: Path, cert: Path, key: Path, repeat: int) -> dict:
    """One window of `connections` HTTPS viewers (HTTP/2: each connection `streams` streams) on
    freshly started servers; CPU per role (framecast, nginx) and together."""
    quiet = wait_quiet()
    tag = f"{cell}-{connections}x{streams}-{repeat}"
    servers, url = tls_setup(contender, frames, cert, key, tag)
    marks: dict = {}

    def on_window(edge):
        marks[edge] = (time.time(), {role: tree_cpu_seconds(s.proc.pid) for role, s in servers.items()}, machine_busy())

    args = ["--ciphersuites", TLS_CIPHERSUITE] + (["--h2", "--streams", str(streams)] if contender.endswith("-h2") else [])
    try:
        load = run_load(url, connections, WARMUP, TLS_WINDOW, on_window=on_window, client_args=args)
        alive = all(s.proc.poll() is None for s in servers.values())
        rss = {role: max(s.hwm() or 0, s.rss_max) for role, s in servers.items()}
    finally:
        for s in servers.values():
            s.close()
    if "start" not in marks or "end" not in marks:
        raise RuntimeError("no measurement window")
    (t0, c0, (b0, a0)), (t1, c1, (b1, a1)) = marks["start"], marks["end"]
    wall = t1 - t0
    cpu = {role: c1[role] - c0[role] for role in c0}
    total = sum(cpu.values())
    gb = load["MBps"] * load["window_s"] / 1000
    busy = 100 * (b1 - b0) / max(1, a1 - a0)
    client_s = load["client_cpu_pct"] / 100 * wall
    return {
        "cell": cell, "contender": contender, "connections": connections, "streams": streams, "viewers": load["clients"],
        "repeat": repeat, "server_alive": alive, "wall_s": wall, "gb": gb, "busy_before_pct": quiet,
        "cpu_s": cpu, "cpu_pct": {role: 100 * v / wall for role, v in cpu.items()}, "server_cpu_pct": 100 * total / wall,
        "core_s_per_gb": total / gb if gb > 0 else None,
        "core_s_per_gb_by": {role: v / gb if gb > 0 else None for role, v in cpu.items()},
        "client_core_s_per_gb": client_s / gb if gb > 0 else None,
        "machine_busy_pct": busy, "other_cpu_pct": busy * (os.cpu_count() or 1) - 100 * total / wall - load["client_cpu_pct"],
        "peak_rss_mb": rss, "load": load,
        "all_clients_30fps": load["fps_min"] >= ALL_CLIENTS_FPS and load["zero_frame_clients"] == 0 and alive,
    }


def measure_tls(frames720: Path, commit: str, contenders_tls: list[str], contenders_h2: list[str], parts: list[str]) -> dict:
    """The TLS cell (50 and 200 viewers, framecast-tls against nginx-tls) and the HTTP/2 cell
    (framecast-h2 against framecast-tls with the same streams), each window on fresh servers, the
    order alternating from window to window."""
    cert, key = tls_files()
    out = {"commit": commit, "repeats": TLS_REPEATS, "warmup": WARMUP, "window": TLS_WINDOW, "spread": SPREAD,
           "clients": TLS_CLIENTS, "h2_connections": H2_CONNECTIONS, "h2_streams": H2_STREAMS, "ciphersuite": TLS_CIPHERSUITE,
           "nginx_version": nginx_version(), "nginx_proxy_buffer": NGINX_PROXY_BUFFER,
           "openssl": subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip(),
           "contenders_tls": contenders_tls, "contenders_h2": contenders_h2, "windows": [], "errors": []}

    def attempt(cell, name, connections, streams, repeat):
        what = (f"[{cell}] {name}: {connections} connections" + (f" x {streams} streams" if streams > 1 else "")
                + f" (window {repeat + 1})")
        log(what + " ...")
        try:
            w = tls_window(cell, name, connections, streams, frames720, cert, key, repeat)
        except Exception as e:  # noqa: BLE001
            out["errors"].append(f"{what}: {e}")
            log(f"    failed: {e}")
            return
        L = w["load"]
        log(f"    fps {L['fps_min']:.1f}/{L['fps_median']:.1f}  {L['MBps']:.1f} MB/s  cpu "
            + ", ".join(f"{r} {v:.0f}%" for r, v in w["cpu_pct"].items())
            + f"  core-s/GB {fmt(w['core_s_per_gb'], 3)}  client cpu {L['client_cpu_pct']:.0f}%  other {w['other_cpu_pct']:.0f}%"
            + f"  {L.get('tls_version')} {L.get('tls_cipher')} alpn {L.get('alpn')}")
        out["windows"].append(w)

    n = 0
    for repeat in range(TLS_REPEATS):
        if "tls" in parts:
            for clients in TLS_CLIENTS:
                order = contenders_tls if n % 2 == 0 else list(reversed(contenders_tls))
                n += 1
                for name in order:
                    attempt("tls", name, clients, 1, repeat)
        if "h2" in parts:
            order = contenders_h2 if n % 2 == 0 else list(reversed(contenders_h2))
            n += 1
            for name in order:
                h2 = name.endswith("-h2")
                attempt("h2", name, H2_CONNECTIONS if h2 else H2_CONNECTIONS * H2_STREAMS, H2_STREAMS if h2 else 1, repeat)
    return out


# ---------------------------------------------------------------- report

def fmt(v, digits=1, unit=""):
    if v is None:
        return "n/a"
    if isinstance(v, float) and v != v:
        return "n/a"
    return f"{v:.{digits}f}{unit}"


def machine_info():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            model = m.group(1).strip() if m else model
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 1e6:.1f} GB"
    except OSError:
        pass
    gst = subprocess.run(["gst-launch-1.0", "--gst-version"], capture_output=True, text=True).stdout.strip()
    distro = ""
    try:
        with open("/etc/os-release") as f:
            m = re.search(r'PRETTY_NAME="(.*)"', f.read())
            distro = m.group(1) if m else ""
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": platform.release(), "memory": mem, "os": distro,
            "gstreamer": gst, "python": platform.python_version()}


def plot(cells, path: Path, contenders=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.6))
    styles = {"framecast": ("tab:red", "o"), "framecast-before": ("tab:pink", "P"), "framecast-copy": ("tab:orange", "v"), "floor": ("tab:green", "s"), "flask": ("tab:blue", "^"), "gstreamer": ("tab:purple", "D")}
    for name in contenders or CONTENDERS:
        pts = sorted((c for c in cells if c["contender"] == name and c["res"] == "720p" and "load" in c), key=lambda c: c["clients"])
        if not pts:
            continue
        color, marker = styles.get(name, ("gray", "x"))
        xs = [c["clients"] for c in pts]
        ax1.plot(xs, [c["server_cpu_pct"] for c in pts], color=color, marker=marker, label=name)
        ax2.plot([c["clients"] for c in pts if c["core_s_per_gb"]], [c["core_s_per_gb"] for c in pts if c["core_s_per_gb"]],
                 color=color, marker=marker, label=name)
        bad = [c for c in pts if not c["kept_up"]]
        if bad:
            ax1.scatter([c["clients"] for c in bad], [c["server_cpu_pct"] for c in bad], s=160, facecolors="none",
                        edgecolors="black", zorder=5)
    ax1.set_xlabel("clients (720p30)")
    ax1.set_ylabel("server CPU, % of one core (user+sys)")
    ax1.set_title("Server CPU against clients (circled: did not keep up)")
    ax1.axhline(100 * (os.cpu_count() or 1), color="gray", linestyle=":", linewidth=1)
    ax1.grid(alpha=0.3)
    ax1.legend()
    ax2.set_xlabel("clients (720p30)")
    ax2.set_ylabel("server core-seconds per GB delivered")
    ax2.set_yscale("log")
    ax2.set_title("Cost per GB delivered")
    ax2.grid(alpha=0.3, which="both")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def targets_section(run) -> list[str]:
    """The issue's targets, checked against this run's cells (ratios within a cell only)."""
    cells = {(c["contender"], c["res"], c["clients"]): c for c in run["cells"] if "load" in c}
    out = ["## Targets, in this run", ""]

    def cost(name, res, n):
        c = cells.get((name, res, n))
        return c["core_s_per_gb"] if c and c.get("core_s_per_gb") and c["kept_up"] else None

    out.append("Framecast's server core-seconds per GB divided by each contender's, in the same cell (n/a: that "
               "contender did not keep up or did not run). Targets at 400 and 800 clients: ≤ 1.0 × floor, "
               "≤ 0.5 × GStreamer-only, ≤ 0.1 × Flask.")
    out.append("")
    out.append("| res | clients | × floor | × GStreamer-only | × Flask | copy path × floor |")
    out.append("|---|---:|---:|---:|---:|---:|")
    for res, n in sorted({(c["res"], c["clients"]) for c in run["cells"]}, key=lambda k: (RESOLUTIONS[k[0]][0], k[1])):
        fc = cost("framecast", res, n)
        copy = cost("framecast-copy", res, n)
        floor_c = cells.get(("floor", res, n), {}).get("core_s_per_gb")

        def ratio(other):
            return f"{fc / other:.2f}" if fc and other else "n/a"
        out.append(f"| {res} | {n} | {ratio(floor_c)} | {ratio(cost('gstreamer', res, n))} | {ratio(cost('flask', res, n))} | "
                   f"{f'{copy / floor_c:.2f}' if copy and floor_c else 'n/a'} |")
    out.append("")
    big = cells.get(("framecast", "720p", 800))
    if big:
        L = big["load"]
        out.append(f"- 800 clients at 720p30: min {L['fps_min']:.1f} fps (target ≥ 29), latency p99 "
                   f"{L['latency_ms_p99']:.1f} ms (target < 50).")
    one, many = cells.get(("framecast", "720p", 1)), big
    if one and many and one.get("pipeline_cpu_pct") is not None and many.get("pipeline_cpu_pct") is not None:
        out.append(f"- Pipeline thread (source, parse, pacing, frame layout: one encode-equivalent per frame): "
                   f"{one['pipeline_cpu_pct']:.1f}% of a core at 1 client, {many['pipeline_cpu_pct']:.1f}% at 800.")
    if one and many:
        growth_kb = (many["peak_rss_mb"] - one["peak_rss_mb"]) * 1000 / 799
        out.append(f"- Resident memory: {one['peak_rss_mb']:.0f} MB at 1 client, {many['peak_rss_mb']:.0f} MB at 800: "
                   f"{growth_kb:.0f} KB per additional client (target ≤ 64). Frame memory files are shared pages, "
                   "one set per frame, not per client, and not part of RSS.")
    for s in run.get("slow", []):
        if s.get("contender") == "framecast" and s.get("slow") and s.get("fast"):
            S, F = s["slow"], s["fast"]
            out.append(f"- Slow reader (1 MB/s for {run.get('slow_seconds', SLOW_SECONDS):.0f} s): frame age max "
                       f"{S['latency_ms_max']:.0f} ms (target < 500) while {SLOW_FAST_CLIENTS} fast clients got min "
                       f"{F['fps_min']:.1f} fps.")
    out.append("")
    return out


def before_section(run) -> list[str]:
    """The issue's before/after targets: framecast against framecast-before (the binary built from
    BEFORE_REF), both in the same cells of this one run."""
    if "framecast-before" not in (run.get("contenders") or []):
        return []
    cells = {(c["contender"], c["res"], c["clients"]): c for c in run["cells"] if "load" in c}
    ran = {(c["res"], c["clients"]) for c in run["cells"]}
    # Every window of each binary in each cell: the matrix's and the repeats'.
    samples: dict[tuple[str, str, int], list[dict]] = {}
    for c in run["cells"] + run.get("ab", []):
        samples.setdefault((c["contender"], c["res"], c["clients"]), []).append(c)
    fc_ran = "framecast" in run["contenders"]
    counts = ", ".join(str(n) for _, n in BEFORE_CELLS)
    out = ["## Against the pre-change binary, in this run", ""]
    out.append(f"**framecast** (commit `{run.get('framecast_commit')}`) against **framecast-before** (commit "
               f"`{run.get('before_commit') or run.get('before_ref')}`, `BEFORE_REF={run.get('before_ref')}`), started with the "
               "same flags, one after the other in each cell. Targets: server core-seconds per GB within 5% of "
               f"framecast-before's (framecast / framecast-before ≤ {BEFORE_MAX_COST_RATIO:.2f}) at {counts} clients "
               f"at 720p30; every client at {FPS} fps (the lowest client's fps over the window ≥ {ALL_CLIENTS_FPS:.0f}, "
               f"no client without frames, in every window); slow-reader frame age max < {SLOW_AGE_MAX_MS:.0f} ms. "
               "Each binary is measured in each cell once in the matrix and again in repeats that alternate which "
               "goes first; the ratio is of the medians, and the windows' values are listed.")
    out.append("")

    def all_clients(c) -> bool:
        L = c["load"]
        return L["fps_min"] >= ALL_CLIENTS_FPS and L["zero_frame_clients"] == 0 and c["server_alive"]

    def yes_no(v):
        return "n/a" if v is None else ("yes" if v else "**no**")

    def verdict(v):
        return "not measured" if v is None else ("**pass**" if v else "**FAIL**")

    out.append("| res | clients | core-s/GB framecast (median; windows) | core-s/GB before (median; windows) | "
               "framecast / before | ≤ 1.05 | fps min framecast / before | every client 30 fps: framecast / before |")
    out.append("|---|---:|---:|---:|---:|---|---|---|")
    cost_ok: list[bool | None] = []
    ratios: list[str] = []
    fps_ok: list[bool | None] = []
    for res, n in BEFORE_CELLS:
        if (res, n) not in ran:
            out.append(f"| {res} | {n} | not in this run | | | | | |")
            cost_ok.append(None)
            fps_ok.append(None)
            continue
        a, b = cells.get(("framecast", res, n)), cells.get(("framecast-before", res, n))

        def costs(name):
            return [c["core_s_per_gb"] for c in samples.get((name, res, n), []) if "load" in c and c.get("core_s_per_gb")]
        sa, sb = costs("framecast"), costs("framecast-before")
        ca = statistics.median(sa) if sa else None
        cb = statistics.median(sb) if sb else None
        ratio = ca / cb if ca and cb else None
        windows_a = ", ".join(fmt(v, 3) for v in sa)
        windows_b = ", ".join(fmt(v, 3) for v in sb)
        ratios.append(f"{n}: {fmt(ratio, 2)}")
        ok = None if ratio is None else ratio <= BEFORE_MAX_COST_RATIO
        if a is None and fc_ran:
            ok = False  # framecast itself failed or was skipped in a cell that ran
        cost_ok.append(ok)
        every_a = [all_clients(c) for c in samples.get(("framecast", res, n), []) if "load" in c]
        fps_ok.append(all(every_a) if a and every_a else (False if fc_ran else None))

        def fps(c, name):
            return fmt(c["load"]["fps_min"]) if c else "failed" if name in run["contenders"] else "not run"

        def every(c, name):
            return yes_no(all_clients(c)) if c else "**no** (failed)" if name in run["contenders"] else "not run"
        out.append(f"| {res} | {n} | {fmt(ca, 3)} ({windows_a}) | {fmt(cb, 3)} ({windows_b}) | {fmt(ratio, 2)} | {yes_no(ok)} | "
                   f"{fps(a, 'framecast')} / {fps(b, 'framecast-before')} | "
                   f"{every(a, 'framecast')} / {every(b, 'framecast-before')} |")
    out.append("")

    slow = {s["contender"]: s for s in run.get("slow", [])}

    def slow_ms(name, key):
        s = slow.get(name)
        return s["slow"][key] if s and s.get("slow") and s.get("fast") else None
    age_a, age_b = slow_ms("framecast", "latency_ms_max"), slow_ms("framecast-before", "latency_ms_max")
    age_ok = None if age_a is None else age_a < SLOW_AGE_MAX_MS
    if "framecast" in slow and not slow["framecast"].get("slow"):
        age_ok = False  # the slow-reader run of framecast failed
    if "framecast" in slow or "framecast-before" in slow:
        out.append(f"| slow reader ({SLOW_RATE / 1e6:.0f} MB/s, {run.get('slow_seconds', SLOW_SECONDS):.0f} s, "
                   f"{SLOW_FAST_CLIENTS} fast clients) | framecast | framecast-before |")
        out.append("|---|---:|---:|")
        out.append(f"| frame age max ms (target < {SLOW_AGE_MAX_MS:.0f}) | {fmt(age_a, 0)} | {fmt(age_b, 0)} |")
        out.append(f"| frame age p50 ms | {fmt(slow_ms('framecast', 'latency_ms_p50'), 0)} | "
                   f"{fmt(slow_ms('framecast-before', 'latency_ms_p50'), 0)} |")
        out.append("")

    def combine(vals):
        if any(v is False for v in vals):
            return False
        return None if any(v is None for v in vals) else True

    def missing(vals):
        gone = [str(n) for (_, n), v in zip(BEFORE_CELLS, vals) if v is None]
        return f" ({', '.join(gone)} clients not measured)" if gone and len(gone) < len(vals) else ""
    c_all, f_all = combine(cost_ok), combine(fps_ok)
    out.append(f"- CPU per GB within 5% of framecast-before at {counts} clients: {verdict(c_all)}{missing(cost_ok)}"
               + (f" (framecast / framecast-before {', '.join(ratios)})" if ratios else "") + ".")
    out.append(f"- Every client at {FPS} fps (framecast) at {counts} clients: {verdict(f_all)}{missing(fps_ok)}.")
    out.append(f"- Slow-reader frame age max < {SLOW_AGE_MAX_MS:.0f} ms (framecast): {verdict(age_ok)}"
               + (f" ({age_a:.0f} ms; framecast-before {fmt(age_b, 0)} ms)" if age_a is not None else "") + ".")
    overall = combine([c_all, f_all, age_ok])
    out.append("- All three: " + ("**pass**" if overall else "**FAIL**" if overall is False
                                  else "incomplete (not every target was measured in this run)") + ".")
    out.append("")
    return out


def readers_section(run) -> list[str]:
    """Issue 12: the browser-like reader at 400 and 800 clients against the floors, and the system
    calls each server makes per frame per client."""
    readers = [c for c in run.get("readers", []) if "load" in c]
    syscalls = run.get("syscalls", [])
    if not readers and not syscalls:
        return []
    out = ["## Browser-like readers, in this run", ""]
    out.append("The matrix above uses the cheapest reader possible (one 256 KB `recv` per wake-up: a frame arrives in one "
               "call and the reader never lags). Here bin/loadclient reads as a browser does (`--browser`): 32 KB per "
               "`recv`, until the socket would block, then re-arms it with `EPOLLONESHOT` (Chromium's SocketPosix), and "
               "copies each part into the viewer's own image buffer. It costs the client about twice the CPU, taken from "
               "the server on the two shared cores. Each contender ran "
               f"{run.get('reader_repeats', READER_REPEATS)} windows per cell "
               "(alternating order); the table gives medians, and the ratios are of medians. *floor-sendfile* is the floor "
               "sending each part from a memory file with `sendfile(2)`, as Framecast does. *total* = server plus load "
               "client core-seconds per GB: on loopback the receiver's TCP processing is charged to whichever process runs "
               "it (the sender's softirq or the reader's backlog), so the server's share alone moves with the reader's timing.")
    out.append("")
    out.append("| clients | contender | windows | fps min (lowest window) | latency p99 ms | server core-s/GB | client core-s/GB | total core-s/GB | server × floor | total × floor | p99 × floor |")
    out.append("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    groups: dict[tuple[int, str], list[dict]] = {}
    for c in readers:
        groups.setdefault((c["clients"], c["contender"]), []).append(c)

    def med(cs, f):
        vals = [v for v in (f(c) for c in cs) if v is not None]
        return statistics.median(vals) if vals else None

    verdicts = []
    for n in sorted({k[0] for k in groups}):
        floor = groups.get((n, "floor"), [])
        f_srv, f_tot = med(floor, lambda c: c["core_s_per_gb"]), med(floor, lambda c: c["total_core_s_per_gb"])
        f_p99 = med(floor, lambda c: c["load"]["latency_ms_p99"])
        for name in READER_CONTENDERS:
            cs = groups.get((n, name))
            if not cs:
                continue
            srv, tot = med(cs, lambda c: c["core_s_per_gb"]), med(cs, lambda c: c["total_core_s_per_gb"])
            p99 = med(cs, lambda c: c["load"]["latency_ms_p99"])
            fps_min = min(c["load"]["fps_min"] for c in cs)

            def r(a, b):
                return f"{a / b:.2f}" if a and b else "n/a"
            out.append(f"| {n} | {name} | {len(cs)} | {fmt(fps_min)} | {fmt(p99)} | {fmt(srv, 3)} | "
                       f"{fmt(med(cs, lambda c: c['client_core_s_per_gb']), 3)} | {fmt(tot, 3)} | {r(srv, f_srv)} | {r(tot, f_tot)} | {r(p99, f_p99)} |")
            if name == "framecast" and floor:
                p99_max = 2.0 if n >= 800 else 1.5
                parts = [f"p99 {p99:.1f} ms = {p99 / f_p99:.2f} × the floor's {f_p99:.1f} (target ≤ {p99_max})",
                         f"server CPU per GB {srv / f_srv:.2f} × the floor's (target ≤ 1.0), with the client's {tot / f_tot:.2f} ×"]
                if n >= 800:
                    parts.insert(0, f"lowest client {fps_min:.1f} fps over {len(cs)} windows (target ≥ 29.5)")
                verdicts.append(f"- {n} clients: " + "; ".join(parts) + ".")
    out.append("")
    out.extend(verdicts)
    if verdicts:
        out.append("")
    if syscalls:
        out.append(f"System calls per frame per client, counted by `perf stat -p` on the server over a {SYSCALL_WINDOW:.0f} s "
                   "window (all of the server's threads; calls divided by the frames the clients completed):")
        out.append("")
        keys = ["sys_enter", "sendfile64", "sendto", "writev", "write", "epoll_wait", "epoll_ctl", "futex", "context-switches"]
        out.append("| clients | reader | contender | lowest fps | all calls | " + " | ".join(k for k in keys[1:]) + " |")
        out.append("|---:|---|---|---:|---:|" + "---:|" * (len(keys) - 1))
        for sc in syscalls:
            if "per_frame_per_client" not in sc:
                out.append(f"| {sc['clients']} | {sc['reader']} | {sc['contender']} | error: {sc.get('error')} |" + " |" * len(keys))
                continue
            per = sc["per_frame_per_client"]
            out.append(f"| {sc['clients']} | {sc['reader']} | {sc['contender']} | {fmt(sc['fps_min'])} | "
                       + " | ".join(f"{per[k]:.2f}" if k in per else "n/a" for k in keys) + " |")
        out.append("")
    return out


def renditions_section(run, separate=False) -> list[str]:
    """The renditions issue's three targets: per-rendition cost, one encode per rendition, the wall.
    `separate`: the section goes into another run's report (BENCH_ONLY=renditions)."""
    R = run.get("renditions")
    if not R:
        return []

    def med(vals):
        return statistics.median(vals) if vals else None

    def values(ws, f):
        return [v for v in (f(w) for w in ws) if v is not None]

    def listed(vals, digits=1):
        return ", ".join(fmt(v, digits) for v in vals)

    def verdict(ok):
        return "not measured" if ok is None else ("**pass**" if ok else "**FAIL**")

    groups = [g for g, _ in THREAD_GROUPS] + ["other"]
    st = R.get("frames")
    mean = f", mean {st['mean_bytes'] / 1000:.0f} kB" if st else ""
    frames_note = ("300 pre-rendered 1080p 4:2:0 JPEGs (`frames-1080-i420`: videotestsrc smpte + timeoverlay, "
                   f"jpegenc quality 85{mean})")
    out = ["## Renditions", ""]
    same = R.get("run_id") == run.get("run_id") and not separate
    out.append(f"In this run ({R.get('date')}, Framecast commit `{R.get('commit')}`)." if same else
               f"Run `{R.get('run_id')}` (`BENCH_ONLY=renditions`, separate from the tables above), {R.get('date')}, "
               f"Framecast commit `{R.get('commit')}`.")
    out[-1] += (f" Every window on a freshly started Framecast (`--always-on`), a {R['warmup']:.0f} s warm-up (a rendition "
                f"starts on its first request), a {R['window']:.0f} s window; {R['repeats']} windows of each kind, the order "
                "alternating from repeat to repeat; medians, with the windows' values in brackets. *CPU* = the server's "
                "user+sys over the window (% of one core); its threads, by name: *source* (the stream's pipeline threads), "
                "*input* (the rendition's Dispatch queue: libjpeg's scaled decode of each JPEG, or the shrink of a raw picture), *scale+encode* (the rendition's "
                "appsrc thread: videoscale, jpegenc), *loops* (NIO's event loops: HTTP and WebSocket delivery), *tasks* (Swift's "
                "cooperative pool: request handling, the WebSocket writer), *other* (the rest, threads that ended included).")
    out.append("")
    verdicts = []

    # (1) per-rendition cost, for each input
    cost = R.get("cost", [])
    idle = R.get("idle")
    idle_pct = idle["server_cpu_pct"] if idle else 0.0
    by: dict[tuple[str, str], list[dict]] = {}
    for w in cost:
        by.setdefault((w.get("input", "jpeg"), w["variant"]), []).append(w)
    inputs = [i for i in R.get("sources", {"jpeg": R.get("source")}) if any(k[0] == i for k in by)]
    input_names = {"jpeg": "JPEG input", "raw": "raw input"}
    if cost:
        out.append("### Per-rendition cost")
        out.append("")
        out.append("A live 1080p30 encode (videotestsrc smpte, moving, 4:2:0, jpegenc's default quality 85), as two sources: "
                   "*JPEG input*, `" + R["sources"]["jpeg"] + "`: a rendition decodes its JPEGs at a reduced scale (as for a "
                   "camera that sends MJPEG); *raw input*, `" + R["sources"].get("raw", "") + "`: the pipeline tees its raw "
                   "pictures to `appsink name=raw`, as pipelines/test.pipeline does, and a rendition shrinks those (nothing "
                   "decoded). Each window has one viewer of the source; the rendition windows one more viewer of "
                   f"`/stream/cam?width=W`. Idle server (source defined, not running): {fmt(idle_pct if idle else None)}% of a "
                   "core, subtracted from the source's cost. *Input* = the rendition's decode (JPEG) or shrink (raw) on its "
                   "Dispatch queue; *encodeMilliseconds* from /api/streams (decode or shrink, scale and encode of one frame).")
        out.append("")
        out.append("| input | viewers | server CPU % | source % | input % | scale+encode % | loops % | tasks % | other % | rendition fps | encodeMilliseconds |")
        out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for source in inputs:
            for variant, label in [("source", "source only")] + [(str(w), f"source + {w}-px rendition") for w in RENDITION_WIDTHS]:
                ws = by.get((source, variant), [])
                if not ws:
                    continue
                cpu = values(ws, lambda w: w["server_cpu_pct"])
                th = {g: med(values(ws, lambda w, g=g: w["threads_pct"].get(g))) for g in groups}
                rfps = values(ws, lambda w: w["renditions"][0].get("fps") if w.get("renditions") else None)
                ems = values(ws, lambda w: w["renditions"][0].get("encodeMilliseconds") if w.get("renditions") else None)
                size = ""
                if ws[0].get("renditions"):
                    r0 = ws[0]["renditions"][0]
                    size = f" ({r0.get('width')}x{r0.get('height')}, input {r0.get('input', '?')})"
                out.append(f"| {input_names[source]} | {label}{size} | {fmt(med(cpu))} ({listed(cpu)}) | {fmt(th['source pipeline'])} | "
                           f"{fmt(th['rendition input'])} | {fmt(th['rendition scale+encode'])} | {fmt(th['event loops'])} | "
                           f"{fmt(th['swift tasks'])} | {fmt(th['other'])} | {fmt(med(rfps)) if rfps else 'n/a'} | "
                           f"{fmt(med(ems), 2) if ems else 'n/a'} |")
        out.append("")
        out.append("Rendition cost = server CPU with the rendition's viewer minus without, paired by repeat (the two windows "
                   "of a repeat ran one after the other); source cost = that input's source-only windows' median minus the idle "
                   "server. *By its threads* = the rendition's input and scale+encode threads alone (no delivery), a check on "
                   f"the difference. Target: at most {RENDITION_MAX_COST:.2f} of the source's cost.")
        out.append("")
        out.append("| input | rendition | share of the pixels | source cost % | rendition cost % (b − a per repeat) | × source | by its threads % | × source | ≤ 0.25 |")
        out.append("|---|---|---:|---:|---:|---:|---:|---:|---|")
        for source in inputs:
            src = by.get((source, "source"), [])
            a_by_repeat = {w["repeat"]: w["server_cpu_pct"] for w in src}
            source_cost = med([w["server_cpu_pct"] for w in src]) - idle_pct if src else None
            for width in RENDITION_WIDTHS:
                ws = by.get((source, str(width)), [])
                diffs = [w["server_cpu_pct"] - a_by_repeat[w["repeat"]] for w in ws if w["repeat"] in a_by_repeat]
                own = values(ws, lambda w: w["threads_pct"]["rendition input"] + w["threads_pct"]["rendition scale+encode"])
                if not diffs or not source_cost:
                    verdicts.append(f"- Per-rendition cost, {input_names[source]}, width {width}: not measured.")
                    continue
                d = med(diffs)
                ratio = d / source_cost
                rfps = med(values(ws, lambda w: w["renditions"][0].get("fps") if w.get("renditions") else None))
                ok = ratio <= RENDITION_MAX_COST and rfps is not None and rfps >= KEPT_UP_MEDIAN
                r0 = (ws[0].get("renditions") or [{}])[0]
                share = (r0.get("width") or 0) * (r0.get("height") or 0) / (1920 * 1080)
                out.append(f"| {input_names[source]} | {r0.get('width')}x{r0.get('height')} | {share:.3f} | {fmt(source_cost)} | "
                           f"{fmt(d)} ({listed(diffs)}) | {ratio:.2f} | {fmt(med(own))} | {med(own) / source_cost:.2f} | "
                           f"{'yes' if ok else '**no**'} |")
                verdicts.append(f"- Per-rendition cost, {input_names[source]}, {r0.get('width')}x{r0.get('height')}: {ratio:.2f} × "
                                f"the 1080p30 source's (by its threads {med(own) / source_cost:.2f} ×; target ≤ {RENDITION_MAX_COST:.2f}): "
                                f"{verdict(ok)}"
                                + ("" if rfps and rfps >= KEPT_UP_MEDIAN else
                                   f"; **the rendition ran at {fmt(rfps)} fps**, below its source's {FPS}: its cost is understated")
                                + ".")
        out.append("")

    # (2) one encode per rendition
    fan = R.get("fanout", [])
    if fan:
        out.append("### One encode per rendition")
        out.append("")
        out.append(f"Source: {frames_note} at {FPS} fps (`imagesequencesrc ! jpegparse ! clocksync`, as a camera "
                   f"that sends MJPEG); N viewers (bin/loadclient) of `/stream/cam?width={R['fanout_width']}`. Target: server CPU "
                   f"at 50 and 200 viewers within {100 * (FANOUT_MAX_GROWTH - 1):.0f}% of 1 viewer's; /api/streams lists one "
                   "rendition with N clients.")
        out.append("")
        out.append("| viewers | server CPU % | × 1 viewer | source % | input % | scale+encode % | loops % | tasks % | other % | renditions listed / clients | rendition fps | viewer fps min / med | MB/s |")
        out.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---:|")
        byn = {}
        for w in fan:
            byn.setdefault(w["clients"], []).append(w)
        base = med([w["server_cpu_pct"] for w in byn.get(1, [])]) if byn.get(1) else None
        base_own = (med([w["threads_pct"]["rendition input"] + w["threads_pct"]["rendition scale+encode"] for w in byn[1]])
                    if byn.get(1) else None)
        growth, one_encoder = [], []
        for n in sorted(byn):
            ws = byn[n]
            cpu = values(ws, lambda w: w["server_cpu_pct"])
            th = {g: med(values(ws, lambda w, g=g: w["threads_pct"].get(g))) for g in groups}
            listed_r = [f"{len(w['renditions'])} / {','.join(str(r.get('clients')) for r in w['renditions'])}" for w in ws]
            one = all(len(w["renditions"]) == 1 and w["renditions"][0].get("clients") == n for w in ws)
            one_encoder.append(one)
            rfps = values(ws, lambda w: w["renditions"][0].get("fps") if w["renditions"] else None)
            x = med(cpu) / base if base else None
            if n != 1 and x is not None:
                growth.append((n, x, (th["rendition input"] + th["rendition scale+encode"]) / base_own if base_own else None))
            out.append(f"| {n} | {fmt(med(cpu))} ({listed(cpu)}) | {fmt(x, 2)} | {fmt(th['source pipeline'])} | {fmt(th['rendition input'])} | "
                       f"{fmt(th['rendition scale+encode'])} | {fmt(th['event loops'])} | {fmt(th['swift tasks'])} | {fmt(th['other'])} | "
                       f"{'; '.join(sorted(set(listed_r)))} | "
                       f"{fmt(med(rfps)) if rfps else 'n/a'} | {fmt(min(w['load']['fps_min'] for w in ws))} / "
                       f"{fmt(med([w['load']['fps_median'] for w in ws]))} | {fmt(med([w['load']['MBps'] for w in ws]), 2)} |")
        out.append("")
        kept = all(med([w["load"]["fps_median"] for w in ws]) >= KEPT_UP_MEDIAN for ws in byn.values())
        ok = (all(x <= FANOUT_MAX_GROWTH for _, x, _ in growth) and kept) if growth else None
        verdicts.append(f"- One encode per rendition, server CPU from 1 to {max(byn)} viewers: "
                        + ", ".join(f"{n} viewers {x:.2f} ×" for n, x, _ in growth)
                        + f" (target ≤ {FANOUT_MAX_GROWTH:.2f}): {verdict(ok)}; the rendition's own threads "
                        + ", ".join(f"{fmt(o, 2)} ×" for _, _, o in growth)
                        + f"; one rendition listed with every viewer on it in every window: {'yes' if all(one_encoder) else '**no**'}"
                        + ("" if kept else f"; **the viewers did not get {FPS} fps** (median below {KEPT_UP_MEDIAN:.1f} at some N), "
                           "so the CPU does not compare") + ".")

    # (3) the wall
    wall = R.get("wall", [])
    if wall:
        out.append("### The wall")
        out.append("")
        out.append(f"{WALL_STREAMS} streams, each {frames_note} at {R['wall_fps']} fps (12 live 1080p "
                   "encodes, or 12 renditions decoding at 30 fps, would not fit in the two shared cores; bytes per second scale "
                   "with the rate, their ratio does not). One WebSocket to `/ws` (bench/wallclient.py: the RFC 6455 handshake, "
                   "reads as fast as it can) subscribed as the page does: *full size* = `{\"streams\": [\"cam01\", ...]}`; "
                   f"*tiles* = `{{\"streams\": [{{\"name\": \"cam01\", \"width\": {R['wall_tile_width']}}}, ...]}}`, the tile width "
                   f"of a 1920-px-wide window with four columns at devicePixelRatio 1 ({R['wall_tile_width']} px after snapping to 16). "
                   "*Bytes/s* = bytes received on the socket (WebSocket framing included); *frame set* = one JPEG of each stream "
                   "(the sum of the per-stream mean sizes). Target: at least 8x fewer bytes per second with tiles.")
        out.append("")
        out.append("| subscription | bytes/s received, MB/s | frame set, kB | streams / names | fps per stream min / med | server CPU % | source % | input % | scale+encode % | loops % | tasks % | other % | client CPU % | latency p50 / p99 ms |")
        out.append("|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        bym = {}
        for w in wall:
            bym.setdefault(w["mode"], []).append(w)
        rates = {}
        for mode, label in [("full", "full size"), ("tiles", f"tiles ({R['wall_tile_width']} px)")]:
            ws = bym.get(mode, [])
            if not ws:
                continue
            mb = values(ws, lambda w: w["load"]["MBps"])
            rates[mode] = med(mb)
            sets = values(ws, lambda w: sum(v["mean_jpeg_bytes"] or 0 for v in w["load"]["per_name"].values()) / 1000)
            th = {g: med(values(ws, lambda w, g=g: w["threads_pct"].get(g))) for g in groups}
            cpu = values(ws, lambda w: w["server_cpu_pct"])
            names = sorted({n for w in ws for n in w["load"]["names_seen"]})
            example = names[0] if names else "none"
            out.append(f"| {label} | {fmt(med(mb), 2)} ({listed(mb, 2)}) | {fmt(med(sets), 0)} | "
                       f"{min(w['load']['streams_received'] for w in ws)} / `{example}`… | "
                       f"{fmt(min(w['load']['fps_min'] for w in ws))} / {fmt(med([w['load']['fps_median'] for w in ws]))} | "
                       f"{fmt(med(cpu))} ({listed(cpu)}) | {fmt(th['source pipeline'])} | {fmt(th['rendition input'])} | "
                       f"{fmt(th['rendition scale+encode'])} | {fmt(th['event loops'])} | {fmt(th['swift tasks'])} | {fmt(th['other'])} | "
                       f"{fmt(med(values(ws, lambda w: w['load'].get('client_cpu_pct'))))} | "
                       f"{fmt(med(values(ws, lambda w: w['load'].get('latency_ms_p50'))))} / "
                       f"{fmt(med(values(ws, lambda w: w['load'].get('latency_ms_p99'))))} |")
        out.append("")
        if "full" in rates and "tiles" in rates and rates["tiles"]:
            saving = rates["full"] / rates["tiles"]
            tiles_named = all(all("@" in n for n in w["load"]["names_seen"]) and w["load"]["streams_received"] == WALL_STREAMS
                              for w in bym["tiles"])
            slow = [m for m in ("full", "tiles") if med([w["load"]["fps_median"] for w in bym[m]]) < 0.95 * R["wall_fps"]]
            ok = saving >= WALL_MIN_SAVING and tiles_named and not slow
            verdicts.append(f"- The wall, {WALL_STREAMS} 1080p streams: {saving:.1f}x fewer bytes per second with tiles "
                            f"({fmt(rates['full'], 2)} against {fmt(rates['tiles'], 2)} MB/s at {R['wall_fps']} fps; target ≥ "
                            f"{WALL_MIN_SAVING:.0f}x): {verdict(ok)}; every tile a rendition in every window: "
                            f"{'yes' if tiles_named else '**no**'}"
                            + (f"; **not every stream at {R['wall_fps']} fps** ({', '.join(slow)}: the bytes do not compare)" if slow else "")
                            + ".")
        else:
            verdicts.append("- The wall: not measured.")
    if R.get("errors"):
        out.append("Windows that failed: " + "; ".join(R["errors"]) + ".")
        out.append("")
    out.extend(verdicts)
    out.append("")
    return out


def tls_section(run, separate=False) -> list[str]:
    """The TLS issue's cells: Framecast over HTTPS against nginx terminating TLS in front of it, and
    HTTP/2 (several streams per connection) against the same streams over HTTP/1.1 with TLS.
    `separate`: the section goes into another run's report (BENCH_ONLY=tls,h2)."""
    T = run.get("tls")
    if not T:
        return []
    ws = [w for w in T.get("windows", []) if "load" in w]

    def med(vals):
        vals = [v for v in vals if v is not None]
        return statistics.median(vals) if vals else None

    def listed(vals, digits=3):
        return ", ".join(fmt(v, digits) for v in vals)

    def verdict(ok):
        return "not measured" if ok is None else ("**pass**" if ok else "**FAIL**")

    def group(cell, name, connections):
        return [w for w in ws if w["cell"] == cell and w["contender"] == name and w["connections"] == connections]

    out = ["## TLS and HTTP/2", ""]
    same = T.get("run_id") == run.get("run_id") and not separate
    out.append(f"In this run ({T.get('date')}, Framecast commit `{T.get('commit')}`)." if same else
               f"Run `{T.get('run_id')}` (`BENCH_ONLY={','.join(T.get('parts', []))}`, separate from the tables above), "
               f"{T.get('date')}, Framecast commit `{T.get('commit')}`.")
    ciphers = sorted({f"{w['load'].get('tls_version')} {w['load'].get('tls_cipher')}" for w in ws})
    alpns = sorted({w["load"].get("alpn") or "none" for w in ws})
    st = run["frames"].get("720p")
    out[-1] += (f" The 720p frames ({st['frames']} JPEGs, mean {st['mean_bytes'] / 1000:.0f} kB, {st['stream_MBps']:.2f} MB/s per "
                f"viewer) played at {FPS} fps as in the matrix; bin/loadclient over TLS (OpenSSL, certificate not verified: a "
                f"self-signed P-256 certificate for localhost made by `openssl req -x509` at the start of the run), offering "
                f"only `{T['ciphersuite']}` so that every server negotiates the same cipher (negotiated: "
                f"{', '.join(f'`{c}`' for c in ciphers) or 'n/a'}; ALPN {', '.join(f'`{a}`' for a in alpns)}). Each window on "
                f"freshly started servers, connects spread over {T.get('spread', SPREAD):.0f} s, a {T['warmup']:.0f} s warm-up, a "
                f"{T['window']:.0f} s window; {T['repeats']} windows of each contender per cell, the order alternating from cell "
                "to cell and window to window; medians, with the windows' values in brackets, and the ratios are of medians. "
                "*core-s/GB* = user+sys core-seconds of the server's processes (/proc/PID/stat, every process of each tree) "
                "per GB the viewers received (decrypted bytes).")
    out.append("")
    out.append("Contenders:")
    out.append("")
    out.append("- **framecast-tls**: Framecast with `--tls-cert cert.pem --tls-key key.pem` (HTTPS on `--port`; ALPN "
               "`http/1.1` for these viewers), otherwise the matrix's flags.")
    out.append(f"- **nginx-tls**: Debian's nginx {T.get('nginx_version') or '?'} ({T.get('openssl') or 'OpenSSL'}) terminating TLS "
               "(`ssl_protocols TLSv1.2 TLSv1.3`, `worker_processes auto`: 2 workers) in front of plain-HTTP Framecast "
               "(the matrix's command): `proxy_pass` to an `upstream` with `keepalive 64`, `proxy_http_version 1.1`, "
               f"`proxy_set_header Connection \"\"`, `proxy_buffering off`, `proxy_buffer_size {T.get('nginx_proxy_buffer')}` "
               "(with buffering off each read from the upstream is written to the viewer at once; nginx's default of one "
               "4 KB page makes a TLS record and a write of every 4 KB). Its CPU is nginx's processes plus the upstream "
               "Framecast's (*together*), and nginx's alone.")
    out.append(f"- **framecast-h2**: framecast-tls with {T['h2_connections']} connections negotiating `h2` by ALPN, each "
               f"holding {T['h2_streams']} concurrent `GET /stream` streams (libnghttp2 in the client: SETTINGS with a "
               "16 MiB initial window, the connection window raised to 16 MiB, WINDOW_UPDATE as data is consumed, SETTINGS "
               "acknowledged); each stream is a viewer.")
    out.append("")
    verdicts = []

    # (1) the TLS cell
    tls_clients = sorted({w["connections"] for w in ws if w["cell"] == "tls"})
    if tls_clients:
        out.append("### Framecast over HTTPS against nginx terminating TLS")
        out.append("")
        out.append("*fps* = per viewer over the window: the lowest viewer in any window / the median of the windows' medians; "
                   "*every viewer 30 fps* = in every window the lowest viewer got ≥ 29 fps and none got nothing; *CPU %* = the "
                   "server's processes (% of one core); *client* = the load client's core-s/GB; *other CPU* = the machine's "
                   "busy time minus the servers' and the load client's (% of one core: kernel work charged to neither, and "
                   "anything else running on the shared machine).")
        out.append("")
        out.append("| clients | contender | windows | every viewer 30 fps | fps min / med | MB/s | latency p99 ms | CPU % | "
                   "core-s/GB together (windows) | nginx alone | its framecast | client | other CPU % | RSS MB |")
        out.append("|---:|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        ratios = []
        for n in tls_clients:
            meds = {}
            for name in T.get("contenders_tls", TLS_CONTENDERS):
                g = group("tls", name, n)
                if not g:
                    out.append(f"| {n} | {name} | 0 | did not run | | | | | | | | | | |")
                    continue
                every = all(w["all_clients_30fps"] for w in g)
                tot = med([w["core_s_per_gb"] for w in g])
                ngx = med([w["core_s_per_gb_by"].get("nginx") for w in g])
                fc = med([w["core_s_per_gb_by"].get("framecast") for w in g])
                meds[name] = (tot, ngx, every)
                rss = med([sum(w["peak_rss_mb"].values()) for w in g])
                out.append(f"| {n} | {name} | {len(g)} | {'yes' if every else '**no**'} | "
                           f"{fmt(min(w['load']['fps_min'] for w in g))} / {fmt(med([w['load']['fps_median'] for w in g]))} | "
                           f"{fmt(med([w['load']['MBps'] for w in g]))} | {fmt(med([w['load']['latency_ms_p99'] for w in g]))} | "
                           f"{fmt(med([w['server_cpu_pct'] for w in g]))} | {fmt(tot, 3)} ({listed([w['core_s_per_gb'] for w in g])}) | "
                           f"{fmt(ngx, 3) if ngx is not None else 'n/a'} | {fmt(fc, 3) if name != 'framecast-tls' else 'n/a'} | "
                           f"{fmt(med([w['client_core_s_per_gb'] for w in g]), 3)} | {fmt(med([w['other_cpu_pct'] for w in g]), 0)} | "
                           f"{fmt(rss, 0)} |")
            fc_t = meds.get("framecast-tls", (None, None, None))
            ng = meds.get("nginx-tls", (None, None, None))
            ratios.append((n, fc_t, ng))
        out.append("")
        out.append(f"Targets: Framecast's CPU per GB at most nginx + Framecast's together (≤ {TLS_MAX_RATIO:.1f}); stretch: at "
                   "most nginx's alone; every viewer at 30 fps.")
        out.append("")
        out.append("| clients | framecast-tls core-s/GB | nginx + framecast | nginx alone | framecast-tls / (nginx + framecast) | ≤ 1.0 | "
                   "framecast-tls / nginx alone | ≤ 1.0 (stretch) |")
        out.append("|---:|---:|---:|---:|---:|---|---:|---|")
        target_ok, stretch_ok, fps_ok, detail_t, detail_s = [], [], [], [], []
        for n, (fc_tot, _, fc_every), (ng_tot, ng_alone, _) in ratios:
            r1 = fc_tot / ng_tot if fc_tot and ng_tot else None
            r2 = fc_tot / ng_alone if fc_tot and ng_alone else None
            out.append(f"| {n} | {fmt(fc_tot, 3)} | {fmt(ng_tot, 3)} | {fmt(ng_alone, 3)} | {fmt(r1, 2)} | "
                       f"{'n/a' if r1 is None else ('yes' if r1 <= TLS_MAX_RATIO else '**no**')} | {fmt(r2, 2)} | "
                       f"{'n/a' if r2 is None else ('yes' if r2 <= TLS_MAX_RATIO else '**no**')} |")
            target_ok.append(None if r1 is None else r1 <= TLS_MAX_RATIO)
            stretch_ok.append(None if r2 is None else r2 <= TLS_MAX_RATIO)
            fps_ok.append(fc_every)
            detail_t.append(f"{n}: {fmt(r1, 2)}")
            detail_s.append(f"{n}: {fmt(r2, 2)}")
        out.append("")

        def all_of(vals):
            return None if any(v is None for v in vals) or not vals else all(vals)
        verdicts.append(f"- TLS: Framecast's CPU per GB at most nginx + Framecast's ({', '.join(detail_t)} clients: "
                        f"framecast-tls / together): {verdict(all_of(target_ok))}.")
        verdicts.append(f"- TLS, stretch: at most nginx's alone ({', '.join(detail_s)}): {verdict(all_of(stretch_ok))}.")
        verdicts.append(f"- TLS: every Framecast viewer at 30 fps in every window at {', '.join(str(n) for n in tls_clients)} "
                        f"clients: {verdict(all_of(fps_ok))}.")

    # (2) the HTTP/2 cell
    h2ws = [w for w in ws if w["cell"] == "h2"]
    if h2ws:
        out.append(f"### HTTP/2: {T['h2_connections']} connections × {T['h2_streams']} streams against "
                   f"{T['h2_connections'] * T['h2_streams']} HTTP/1.1 connections")
        out.append("")
        out.append("*fps* per stream (each HTTP/2 stream or HTTP/1.1 connection is a viewer); *h2 frames sent* = the client's "
                   "WINDOW_UPDATE / SETTINGS-acknowledgement frames, all connections from connect to the window's end "
                   "(median of the windows).")
        out.append("")
        out.append("| contender | protocol | connections × streams | windows | every stream 30 fps | fps min / med | MB/s | "
                   "latency p99 ms | CPU % | core-s/GB (windows) | client core-s/GB | other CPU % | h2 frames sent | RSS MB |")
        out.append("|---|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|---|---:|")
        meds = {}
        for name in T.get("contenders_h2", H2_CONTENDERS):
            g = [w for w in h2ws if w["contender"] == name]
            if not g:
                out.append(f"| {name} | | | 0 | did not run | | | | | | | | | |")
                continue
            every = all(w["all_clients_30fps"] for w in g)
            tot = med([w["core_s_per_gb"] for w in g])
            meds[name] = (tot, every)
            L0 = g[0]["load"]
            frames_sent = (f"{fmt(med([w['load'].get('h2_window_updates_sent') for w in g]), 0)} / "
                           f"{fmt(med([w['load'].get('h2_settings_acks_sent') for w in g]), 0)}") if L0.get("protocol") == "h2" else "n/a"
            out.append(f"| {name} | {L0.get('alpn') or L0.get('protocol')} | {g[0]['connections']} × {g[0]['streams']} | {len(g)} | "
                       f"{'yes' if every else '**no**'} | {fmt(min(w['load']['fps_min'] for w in g))} / "
                       f"{fmt(med([w['load']['fps_median'] for w in g]))} | {fmt(med([w['load']['MBps'] for w in g]))} | "
                       f"{fmt(med([w['load']['latency_ms_p99'] for w in g]))} | {fmt(med([w['server_cpu_pct'] for w in g]))} | "
                       f"{fmt(tot, 3)} ({listed([w['core_s_per_gb'] for w in g])}) | "
                       f"{fmt(med([w['client_core_s_per_gb'] for w in g]), 3)} | {fmt(med([w['other_cpu_pct'] for w in g]), 0)} | {frames_sent} | "
                       f"{fmt(med([sum(w['peak_rss_mb'].values()) for w in g]), 0)} |")
        out.append("")
        h2, h1 = meds.get("framecast-h2", (None, None)), meds.get("framecast-tls", (None, None))
        ratio = h2[0] / h1[0] if h2[0] and h1[0] else None
        verdicts.append(f"- HTTP/2: {T['h2_connections'] * T['h2_streams']} streams on {T['h2_connections']} connections cost "
                        f"{fmt(h2[0], 3)} core-s/GB against {fmt(h1[0], 3)} as HTTP/1.1-over-TLS connections "
                        f"(HTTP/2 / HTTP/1.1: {fmt(ratio, 2)}); every stream at 30 fps in every window: HTTP/2 "
                        f"{verdict(h2[1])}, HTTP/1.1 {verdict(h1[1])}.")
    for e in T.get("errors", []):
        verdicts.append(f"- Failed window: {e}")
    for n in T.get("notes", []):
        verdicts.append(f"- {n}")
    out.extend(verdicts)
    out.append("")
    return out


def slow_section(run) -> list[str]:
    lines = []
    add = lines.append
    slow = run.get("slow", [])
    if slow:
        add(f"## Slow reader")
        add("")
        add(f"One client reads at {SLOW_RATE / 1e6:.0f} MB/s (rate-limited `recv`, its kernel receive buffer still fills) "
            f"from the 720p stream (~{run['frames']['720p']['stream_MBps']:.1f} MB/s) while {SLOW_FAST_CLIENTS} fast clients "
            f"run, for {run.get('slow_seconds', SLOW_SECONDS):.0f} s after a {run['warmup']:.0f} s warm-up. *Frame age* = receive time minus X-Timestamp of "
            "each part the slow client completes.")
        add("")
        add("| contender | slow: fps | slow: frame age p50 / max ms | slow: MB/s | fast: fps min / med | fast: latency p99 ms | fast: gap ms | fast kept rate | server CPU % | RSS MB |")
        add("|---|---:|---|---:|---|---:|---:|---|---:|---:|")
        for s in slow:
            S, F = s.get("slow"), s.get("fast")
            if not S or not F:
                add(f"| {s['contender']} | error: {s.get('error') or s.get('slow_error') or s.get('fast_error')} | | | | | | | | |")
                continue
            ok = F["fps_median"] >= KEPT_UP_MEDIAN and F["fps_min"] >= KEPT_UP_MIN and F["zero_frame_clients"] == 0
            add(f"| {s['contender']} | {fmt(S['fps_mean'])} | {fmt(S['latency_ms_p50'], 0)} / {fmt(S['latency_ms_max'], 0)} | "
                f"{fmt(S['MBps'], 2)} | {fmt(F['fps_min'])} / {fmt(F['fps_median'])} | {fmt(F['latency_ms_p99'])} | "
                f"{fmt(F['max_gap_ms'], 0)} | {'yes' if ok else '**no**'} | {fmt(s.get('server_cpu_pct'))} | {fmt(s['peak_rss_mb'], 0)} |")
        add("")
    return lines


def reproduce_section(run) -> list[str]:
    """The notes, how to reproduce, and where the raw results are."""
    lines = []
    add = lines.append
    if run.get("notes"):
        add("## Notes")
        add("")
        for n in run["notes"]:
            add(f"- {n}")
        add("")
    add("## Reproduce")
    add("")
    add("```sh")
    add("make release                 # builds .build/release/framecast")
    add("make -C bench                # full matrix (about 25 minutes; builds framecast-before first if needed),")
    add("                             #   writes bench/BENCHMARKS.md and bench/benchmarks-cpu.png")
    add("BEFORE_REF=<commit> make -C bench   # framecast-before from another commit (default 42ce3ee)")
    add("BENCH_QUICK=1 make -C bench  # smoke test (about 4 minutes), writes bench/results/BENCHMARKS-quick.md")
    add("BENCH_ONLY=renditions make -C bench   # the rendition cells alone (about 7 minutes): writes")
    add("                             #   bench/results/BENCHMARKS-renditions.md and replaces the Renditions")
    add("                             #   section of bench/BENCHMARKS.md (parts: matrix, before, readers,")
    add("                             #   syscalls, slow, renditions, tls, h2)")
    add("BENCH_ONLY=tls,h2 make -C bench   # the TLS and HTTP/2 cells alone (about 6 minutes): Framecast over")
    add("                             #   HTTPS against nginx terminating TLS, HTTP/2 against HTTP/1.1-over-TLS;")
    add("                             #   replaces the TLS and HTTP/2 section of bench/BENCHMARKS.md")
    add("```")
    add("")
    add(f"Raw results of this run: `bench/results/{run['run_id']}.json` (git-ignored).")
    return lines


def splice_section(path: Path, heading: str, section: list[str]):
    """Replaces the `heading` section of the report at `path` (up to the next `## ` heading or the
    hand-written part) with `section`; a report without one gets it before its slow-reader, notes
    or reproduce section, as a full run places it."""
    if not section:
        return
    lines = path.read_text().split("\n") if path.exists() else []
    new = section[:-1] if section and section[-1] == "" else section
    if heading in lines:
        start = lines.index(heading)
        end = next((i for i in range(start + 1, len(lines))
                    if lines[i].startswith("## ") or lines[i] == HAND_WRITTEN), len(lines))
        while end > start and lines[end - 1] == "":
            end -= 1
        lines[start:end] = new
    else:
        at = next((lines.index(h) for h in ("## Slow reader", "## Notes", "## Reproduce", HAND_WRITTEN) if h in lines), len(lines))
        lines[at:at] = new + [""]
    path.write_text("\n".join(lines))


def write_report(run, path: Path, png: Path):
    cells = run["cells"]
    lines = []
    add = lines.append
    m = run["machine"]
    before_note = (f", framecast-before commit `{run['before_commit']}` (`BEFORE_REF={run.get('before_ref')}`)"
                   if run.get("before_commit") else "")
    add("# Framecast benchmarks")
    add("")
    kind = ('BENCH_QUICK=1, reduced matrix' if run['quick'] else 'full matrix') if not run.get("only") else \
        f"BENCH_ONLY={','.join(run['only'])}" + (", BENCH_QUICK=1" if run["quick"] else "")
    add(f"Run `{run['run_id']}` ({kind}), "
        f"{run['date']}, Framecast commit `{run['framecast_commit']}`{before_note}. Every number below comes from this one run"
        + (": for each cell the contenders ran one after another (order rotated from cell to cell), each on a freshly "
           "started server." if cells else "."))
    add("")
    add(f"- Machine: {m['nproc']} cores, {m['cpu']}, {m['memory']} RAM, {m['os']}, kernel {m['kernel']}; {m['gstreamer'].splitlines()[0] if m['gstreamer'] else ''}.")
    if cells or any(run.get(k) for k in ("ab", "readers", "syscalls", "slow", "tls")):
        add(f"- Load: bin/loadclient (C, epoll, one thread) on the same machine over 127.0.0.1, connects spread over {run.get('spread', SPREAD):.0f} s, "
            f"{run['warmup']:.0f} s warm-up, {run['window']:.0f} s measurement window. The load client shares the {m['nproc']} cores "
            "with the server: its own CPU and the rest of the machine's busy time are in the table, so a saturated machine is "
            "visible. On loopback the kernel's receive path (softirq) mostly runs in the sending process and is charged to the "
            "server's sys time: the floor's cost is mostly that kernel copy.")
    for res, st in run["frames"].items():
        add(f"- Frames ({res}): {st['frames']} JPEGs (videotestsrc smpte + timeoverlay, jpegenc quality=85), mean "
            f"{st['mean_bytes'] / 1000:.0f} kB, {st['stream_MBps']:.2f} MB/s per client at {FPS} fps, played in a loop at {FPS} fps by every contender.")
    add("")
    if not cells:
        # A run of some parts only (BENCH_ONLY): their sections, no matrix.
        lines.extend(before_section(run) if run.get("ab") else [])
        lines.extend(readers_section(run))
        lines.extend(renditions_section(run))
        lines.extend(tls_section(run))
        lines.extend(slow_section(run))
        lines.extend(reproduce_section(run))
        path.write_text("\n".join(lines) + "\n")
        return
    add("Contenders:")
    add("")
    add("- **framecast**: `framecast --pipeline 'imagesequencesrc location=frames-720/loop/%06d.jpg framerate=30/1 ! jpegparse ! "
        "clocksync ! appsink name=sink' --always-on --log-level warning`. GStreamer 1.22's imagesequencesrc has no `loop` "
        "property (it arrived later) and multifilesrc gives untimestamped buffers, so `frames-*/loop/` holds 20 minutes of "
        "symlinks to the 300 frames. Each frame goes to every HTTP client from a memory file with `sendfile(2)`.")
    add("- **framecast-before**: the pre-change binary, built by `bench/build-before.sh` from `BEFORE_REF` (default "
        "`42ce3ee`, the commit before the frame-path redesign) into `bench/before/<commit>/`, or `FRAMECAST_BEFORE`; "
        "started with exactly framecast's flags.")
    add("- **framecast-copy**: the same with `--no-sendfile`: each frame is written to every client from memory "
        "(the kernel copies it into each socket, as the floor's `send()` does).")
    add("- **floor** (`peers/floor.c`): one thread, epoll, non-blocking sockets; each part (chunk header, part headers with "
        "X-Timestamp, JPEG, boundary) is built once per frame and sent to each client with one `send()`; a client still "
        "writing its previous part skips the frame. Same bytes on the wire as Framecast.")
    add("- **flask** (`peers/flask_server.py`): the classic Flask recipe: camera thread at 30 fps, per-client "
        "`threading.Event` wake-ups, werkzeug's threaded server (a thread per client), chunked HTTP/1.1.")
    add("- **gstreamer** (`peers/gst_server.py`): `imagesequencesrc ! jpegparse ! clocksync ! multipartmux boundary=framecast ! "
        "multisocketsink` (sync-method=next-keyframe, units-soft-max=6 buffers, recover-policy=keyframe: multipartmux "
        "pushes a part as a header buffer and a DELTA_UNIT JPEG buffer, so only keyframe syncing keeps parts whole); a Python acceptor answers the HTTP request and "
        "hands each socket to multisocketsink with its `add` signal. multipartmux writes no X-Timestamp: latency is n/a.")
    add("")
    add("Columns: *fps* = frames per second received per client over the window (min / median); *latency* = receive time "
        "of a part's last byte minus its X-Timestamp (ms, p50 / p99 / max over all parts of all clients); *TTFF* = time to "
        "first frame from connect (median / max, ms); *gap* = longest interval between two frames of any client (ms); "
        "*CPU* = server user+sys over the window in % of one core (from /proc/PID/stat); *core-s/GB* = server core-seconds "
        "per GB delivered, *x floor* its ratio to the floor's in the same cell; *RSS* = peak resident memory (max of VmHWM "
        "and RSS sampled every 250 ms; includes start-up); *client CPU* = the load client's own user+sys (% of one core); *other CPU* = the "
        "machine's busy time during the window minus server and load client (% of one core; kernel softirq work not "
        "charged to either process, and anything else running). Before each cell the runner waits for the machine to go "
        "quiet (under 20% busy). *kept up* = median fps ≥ 28.5, min fps ≥ 25.5 and every client got frames.")
    add("")
    add("| res | clients | contender | kept up | fps min / med | MB/s | latency p50 / p99 / max ms | TTFF med / max ms | gap ms | CPU % | core-s/GB | x floor | RSS MB | pipeline CPU % | client CPU % | other CPU % | bad JPEG |")
    add("|---|---:|---|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in cells:
        if "load" not in c:
            add(f"| {c['res']} | {c['clients']} | {c['contender']} | {c['status']} | | | | | | | | | | | | | |")
            continue
        L = c["load"]
        ratio = c.get("x_floor")
        add(f"| {c['res']} | {c['clients']} | {c['contender']} | {'yes' if c['kept_up'] else '**no**'} | "
            f"{fmt(L['fps_min'])} / {fmt(L['fps_median'])} | {fmt(L['MBps'])} | "
            f"{fmt(L['latency_ms_p50'])} / {fmt(L['latency_ms_p99'])} / {fmt(L['latency_ms_max'])} | "
            f"{fmt(L['ttff_ms_median'], 0)} / {fmt(L['ttff_ms_max'], 0)} | {fmt(L['max_gap_ms'], 0)} | "
            f"{fmt(c['server_cpu_pct'])} | {fmt(c['core_s_per_gb'], 3)} | {fmt(ratio, 2)} | {fmt(c['peak_rss_mb'], 0)} | "
            f"{fmt(c.get('pipeline_cpu_pct'))} | "
            f"{fmt(L['client_cpu_pct'])} | {fmt(c.get('other_cpu_pct'), 0)} | {L['invalid_jpeg']} |")
    add("")
    add(f"![server CPU against clients]({png.name})")
    add("")
    lines.extend(targets_section(run))
    lines.extend(before_section(run))
    lines.extend(readers_section(run))
    lines.extend(renditions_section(run))
    lines.extend(tls_section(run))
    lines.extend(slow_section(run))
    lines.extend(reproduce_section(run))
    # A hand-written section (analysis of this run) survives regeneration: everything after the marker.
    kept = ""
    if path.exists():
        previous = path.read_text()
        if HAND_WRITTEN in previous:
            kept = "\n" + HAND_WRITTEN + previous.split(HAND_WRITTEN, 1)[1]
    path.write_text("\n".join(lines) + "\n" + kept)


# ---------------------------------------------------------------- main

def main():
    _raise_nofile()
    ensure_matplotlib()
    # The contenders run in the matrix, the before/after repeats and the slow-reader runs; the
    # reader and system-call cells run framecast and the floors; the rendition cells framecast only.
    contender_parts = wants("matrix") or wants("before") or wants("slow")
    if "flask" in CONTENDERS and contender_parts:
        ensure_flask()
    build_tools()
    gipy = gi_python() if "gstreamer" in CONTENDERS and contender_parts else None
    notes = []
    # framecast-before, Flask and GStreamer-only run in those parts only
    contenders = [c for c in CONTENDERS if contender_parts or c not in ("framecast-before", "flask", "gstreamer")]
    if "framecast" in contenders and not framecast_binary():
        sys.exit("framecast binary not found: build it (make release) or set FRAMECAST=/path/to/framecast")
    if "framecast-before" in contenders and not framecast_before_binary(build=True):
        sys.exit(f"framecast-before binary not found: bench/build-before.sh (BEFORE_REF={BEFORE_REF}) failed, "
                 "FRAMECAST_BEFORE is not an executable, or leave framecast-before out of BENCH_CONTENDERS")
    if "gstreamer" in contenders and not gipy:
        notes.append("gstreamer contender skipped: no Python with PyGObject (apt-get install python3-gi gir1.2-gstreamer-1.0)")
        contenders.remove("gstreamer")
    fc = framecast_binary()
    # FRAMECAST_COMMIT names the commit of a binary built outside this checkout
    commit = os.environ.get("FRAMECAST_COMMIT") or (binary_commit(fc) if fc else "unknown")
    before = framecast_before_binary() if "framecast-before" in contenders else None
    before_commit = binary_commit(before) if before else None

    cells = CELLS if wants("matrix") else []
    resolutions = sorted({res for res, _ in cells}, key=lambda r: RESOLUTIONS[r][0])
    if "720p" not in resolutions and (wants("readers") or wants("syscalls") or wants("slow") or wants("tls") or wants("h2")):
        resolutions.insert(0, "720p")
    frames = {res: render_frames(res) for res in resolutions}
    run_id = (dt.datetime.now().strftime("run-%Y%m%d-%H%M%S") + ("-quick" if QUICK else "")
              + (f"-{'-'.join(ONLY)}" if ONLY else ""))
    run = {"run_id": run_id, "quick": QUICK, "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
           "machine": machine_info(), "framecast": str(fc), "framecast_commit": commit,
           "framecast_before": str(before) if before else None, "before_ref": BEFORE_REF, "before_commit": before_commit,
           "warmup": WARMUP, "window": WINDOW, "spread": SPREAD, "slow_seconds": SLOW_SECONDS, "contenders": contenders,
           "frames": {r: frame_stats(frames[r]) for r in resolutions},
           "cells": [], "slow": [], "notes": notes, "only": ONLY}
    RESULTS.mkdir(exist_ok=True)
    out_json = RESULTS / f"{run_id}.json"

    failed: dict[tuple[str, str], int] = {}  # (contender, res) -> clients at the clear failure
    for i, (res, clients) in enumerate(cells):
        order = contenders[i % len(contenders):] + contenders[:i % len(contenders)]
        cell_results = {}
        for name in order:
            if (name, res) in failed:
                cell = {"contender": name, "res": res, "clients": clients,
                        "status": f"did not keep up (skipped after {failed[(name, res)]} clients)"}
                log(f"[{res} x{clients}] {name}: skipped")
            else:
                log(f"[{res} x{clients}] {name} ...")
                try:
                    cell = measure_cell(name, res, frames[res], clients, gipy)
                    cell["kept_up"] = kept_up(cell)
                    if clear_failure(cell):
                        failed[(name, res)] = clients
                    L = cell["load"]
                    log(f"    fps {L['fps_min']:.1f}/{L['fps_median']:.1f}  {L['MBps']:.1f} MB/s  cpu {cell['server_cpu_pct']:.0f}%  "
                        f"p99 {L['latency_ms_p99']}  client cpu {L['client_cpu_pct']:.0f}%  other {cell['other_cpu_pct']:.0f}%")
                except Exception as e:  # noqa: BLE001
                    cell = {"contender": name, "res": res, "clients": clients, "status": f"failed: {e}"}
                    failed[(name, res)] = clients
                    log(f"    {cell['status']}")
            cell_results[name] = cell
        floor = cell_results.get("floor")
        for name in contenders:
            c = cell_results[name]
            if floor and "load" in floor and "load" in c and c.get("core_s_per_gb") and floor.get("core_s_per_gb"):
                c["x_floor"] = c["core_s_per_gb"] / floor["core_s_per_gb"]
            run["cells"].append(c)
        out_json.write_text(json.dumps(run, indent=1))

    # The before/after comparison is within a few percent, below one window's noise on a shared
    # two-core machine: its cells are measured again, alternating which binary goes first, and
    # compared by their medians.
    if "framecast" in contenders and "framecast-before" in contenders and wants("before"):
        run["ab"] = []
        ran = {(c["res"], c["clients"]) for c in run["cells"]}
        for repeat in range(AB_REPEATS):
            for res, clients in BEFORE_CELLS:
                if (res, clients) not in ran:
                    continue
                pair = ["framecast-before", "framecast"] if repeat % 2 == 0 else ["framecast", "framecast-before"]
                for name in pair:
                    if (name, res) in failed:
                        continue
                    log(f"[{res} x{clients}] {name} (repeat {repeat + 1}) ...")
                    run["ab"].append(measure_window(name, res, frames[res], clients, gipy))
                    out_json.write_text(json.dumps(run, indent=1))

    # Issue 12: the browser-like reader against the floors, several windows each, and the system
    # calls per frame per client with each reader.
    reader_contenders = [c for c in READER_CONTENDERS if c in contenders or c == "floor-sendfile"]
    run["readers"] = []
    run["reader_repeats"] = READER_REPEATS
    for repeat in range(READER_REPEATS if READER_CELLS and wants("readers") else 0):
        for res, clients in READER_CELLS:
            order = reader_contenders if repeat % 2 == 0 else list(reversed(reader_contenders))
            for name in order:
                log(f"[{res} x{clients}, browser reader] {name} (window {repeat + 1}) ...")
                run["readers"].append(measure_window(name, res, frames[res], clients, gipy, client_args=READERS["browser"]))
                out_json.write_text(json.dumps(run, indent=1))
    run["syscalls"] = []
    syscall_cells = SYSCALL_CELLS if wants("syscalls") else []
    if syscall_cells and not perf_available():
        notes.append("system calls per frame not measured: `perf stat` with syscall tracepoints is not available here "
                     "(linux-perf, and perf_event_paranoid ≤ 1 or root)")
    elif syscall_cells:
        for res, clients in syscall_cells:
            # 8 KB reads: a reader that cannot keep up at 800 clients, where partial writes appear
            for reader in READERS:
                for name in ["framecast", "floor", "floor-sendfile"]:
                    if name not in contenders and name != "floor-sendfile":
                        continue
                    log(f"[{res} x{clients}, {reader} reader] {name}: system calls ...")
                    try:
                        sc = measure_syscalls(name, res, frames[res], clients, reader)
                        log("    " + " ".join(f"{k}={v:.2f}" for k, v in sc["per_frame_per_client"].items()))
                    except Exception as e:  # noqa: BLE001
                        sc = {"contender": name, "res": res, "clients": clients, "reader": reader, "error": str(e)}
                        log(f"    failed: {e}")
                    run["syscalls"].append(sc)
                    out_json.write_text(json.dumps(run, indent=1))

    if os.environ.get("BENCH_SKIP_SLOW", "") in ("", "0") and wants("slow"):
        for name in [c for c in contenders if c in SLOW_CONTENDERS]:
            log(f"[slow reader, {SLOW_SECONDS:.0f} s] {name} ...")
            try:
                s = slow_reader(name, frames["720p"], gipy)
            except Exception as e:  # noqa: BLE001
                s = {"contender": name, "error": str(e)}
            if s.get("slow"):
                log(f"    slow fps {s['slow']['fps_mean']:.1f} age max {s['slow']['latency_ms_max']}  "
                    f"fast fps {s.get('fast', {}).get('fps_min')}/{s.get('fast', {}).get('fps_median')}")
            run["slow"].append(s)
            out_json.write_text(json.dumps(run, indent=1))

    # The rendition cells: framecast alone, after everything else (they start their own servers).
    if wants("renditions") and "framecast" in contenders:
        frames_420 = render_frames("1080p", RENDITION_FRAMES_FORMAT)
        run["renditions"] = measure_renditions(frames_420, commit)
        run["renditions"]["frames"] = frame_stats(frames_420)
        run["renditions"].update(run_id=run_id, date=run["date"])
        out_json.write_text(json.dumps(run, indent=1))

    # The TLS issue's cells: Framecast over HTTPS against nginx terminating TLS, and HTTP/2.
    tls_parts = [p for p in ("tls", "h2") if wants(p)]
    if tls_parts and "framecast" in contenders:
        tls_notes = []
        if not framecast_has_tls(fc):
            tls_notes.append(f"Framecast ({fc}) has no `--tls-cert` (built before HTTPS): its TLS and HTTP/2 contenders did not run.")
        if not nginx_version():
            tls_notes.append("nginx is not installed (scripts/install-deps.sh installs it): nginx-tls did not run.")
        if not shutil.which("openssl"):
            sys.exit("openssl is not installed (scripts/install-deps.sh installs it): it makes the TLS cells' certificate")
        usable = [c for c in set(TLS_CONTENDERS + H2_CONTENDERS)
                  if (not c.startswith("framecast") or framecast_has_tls(fc)) and (not c.startswith("nginx") or nginx_version())]
        run["tls"] = measure_tls(frames["720p"], commit, [c for c in TLS_CONTENDERS if c in usable],
                                 [c for c in H2_CONTENDERS if c in usable], tls_parts)
        run["tls"].update(run_id=run_id, date=run["date"], parts=tls_parts, notes=tls_notes)
        out_json.write_text(json.dumps(run, indent=1))
        if ONLY and not QUICK and "BENCH_REPORT" not in os.environ and run["tls"]["windows"]:
            # A run of the TLS cells alone replaces the TLS and HTTP/2 section of the committed report.
            splice_section(BENCH / "BENCHMARKS.md", "## TLS and HTTP/2", tls_section(run, separate=True))
            log(f"updated the TLS and HTTP/2 section of {BENCH / 'BENCHMARKS.md'}")

    if ONLY and not QUICK and "renditions" in ONLY and run.get("renditions") and "BENCH_REPORT" not in os.environ:
        # A run of the rendition cells alone also replaces the Renditions section of the committed
        # report (it names its own run, apart from the matrix's).
        splice_section(BENCH / "BENCHMARKS.md", "## Renditions", renditions_section(run, separate=True))
        log(f"updated the Renditions section of {BENCH / 'BENCHMARKS.md'}")
    if QUICK or ONLY or os.environ.get("BENCH_CLIENTS") or os.environ.get("BENCH_CONTENDERS"):
        name = "BENCHMARKS-quick.md" if QUICK else f"BENCHMARKS-{'-'.join(ONLY)}.md" if ONLY else "BENCHMARKS-quick.md"
        report = Path(os.environ.get("BENCH_REPORT", RESULTS / name))
        png = report.with_name(report.stem + "-cpu.png")
    else:
        report = Path(os.environ.get("BENCH_REPORT", BENCH / "BENCHMARKS.md"))
        png = report.with_name("benchmarks-cpu.png")
    if run["cells"]:
        plot(run["cells"], png)
    write_report(run, report, png)
    out_json.write_text(json.dumps(run, indent=1))
    log(f"wrote {report}{f', {png}' if run['cells'] else ''} and {out_json}")


def regenerate(json_path: str, report: str | None):
    """`run_bench.py --report results/RUN.json [OUT.md]`: rewrites a report from a run's raw results."""
    run = json.loads(Path(json_path).read_text())
    only = run.get("only") or []
    if only and not report and not run["quick"] and run.get("renditions"):
        # as the run itself did: its Renditions section into the committed report
        splice_section(BENCH / "BENCHMARKS.md", "## Renditions", renditions_section(run, separate=True))
        log(f"updated the Renditions section of {BENCH / 'BENCHMARKS.md'}")
    if only and not report and not run["quick"] and run.get("tls"):
        splice_section(BENCH / "BENCHMARKS.md", "## TLS and HTTP/2", tls_section(run, separate=True))
        log(f"updated the TLS and HTTP/2 section of {BENCH / 'BENCHMARKS.md'}")
    default = (RESULTS / "BENCHMARKS-quick.md" if run["quick"] else RESULTS / f"BENCHMARKS-{'-'.join(only)}.md" if only
               else BENCH / "BENCHMARKS.md")
    out = Path(report) if report else default
    png = out.with_name(out.stem + "-cpu.png") if run["quick"] or only else out.with_name("benchmarks-cpu.png")
    if run["cells"]:
        plot(run["cells"], png, run.get("contenders"))
    write_report(run, out, png)
    log(f"wrote {out}" + (f" and {png}" if run["cells"] else ""))


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--report":
        regenerate(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    else:
        main()
