"""The classic Flask "video streaming" recipe, as a benchmark contender.

A background camera thread reads the same JPEG files in a loop at 30 fps and publishes the
newest frame; every client thread waits on its own threading.Event, set by the camera thread for
each new frame (Miguel Grinberg's CameraEvent/BaseCamera pattern). Served by Flask's threaded
development server (werkzeug, one thread per client, HTTP/1.1 so the body is chunked).

Parts carry the same framing as Framecast (Content-Type, Content-Length, X-Timestamp at
publication) so the load client can measure it.

    python3 flask_server.py --dir bench/frames-720 --port 8091 [--fps 30]
"""
import argparse
import glob
import logging
import os
import threading
import time

from flask import Flask, Response


class CameraEvent:
    """An Event-like object that wakes every waiting client thread when a new frame is ready."""

    def __init__(self):
        self.events = {}
        self.lock = threading.Lock()

    def wait(self):
        ident = threading.get_ident()
        with self.lock:
            if ident not in self.events:
                self.events[ident] = [threading.Event(), time.time()]
            event = self.events[ident][0]
        return event.wait(timeout=5)

    def set(self):
        now = time.time()
        remove = []
        with self.lock:
            for ident, event in self.events.items():
                if not event[0].is_set():
                    event[0].set()
                    event[1] = now
                elif now - event[1] > 5:
                    # the client has not taken a frame for 5 s: it is gone
                    remove.append(ident)
            for ident in remove:
                del self.events[ident]

    def clear(self):
        with self.lock:
            entry = self.events.get(threading.get_ident())
        if entry:
            entry[0].clear()


class Camera:
    def __init__(self, directory, fps):
        self.files = sorted(glob.glob(os.path.join(directory, "[0-9][0-9][0-9][0-9][0-9].jpg")))
        if not self.files:
            raise SystemExit(f"no frames in {directory}")
        self.fps = fps
        self.frame = None  # (part bytes)
        self.event = CameraEvent()
        threading.Thread(target=self._thread, daemon=True).start()

    def _thread(self):
        period = 1.0 / self.fps
        index = 0
        next_at = time.monotonic()
        while True:
            with open(self.files[index], "rb") as f:  # the "camera" reads a JPEG
                jpeg = f.read()
            index = (index + 1) % len(self.files)
            stamp = time.time()
            self.frame = (
                b"Content-Type: image/jpeg\r\nContent-Length: %d\r\nX-Timestamp: %.6f\r\n\r\n" % (len(jpeg), stamp)
                + jpeg
                + b"\r\n--framecast\r\n"
            )
            self.event.set()
            time.sleep(0)
            next_at += period
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_at = time.monotonic()

    def get_frame(self):
        self.event.wait()
        self.event.clear()
        return self.frame


def make_app(camera):
    app = Flask(__name__)

    def gen():
        yield b"--framecast\r\n"
        while True:
            yield camera.get_frame()

    @app.route("/stream")
    def stream():
        return Response(gen(), mimetype="multipart/x-mixed-replace; boundary=framecast")

    return app


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--fps", type=float, default=30)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    camera = Camera(args.dir, args.fps)
    app = make_app(camera)
    app.run(host="127.0.0.1", port=args.port, threaded=True)


if __name__ == "__main__":
    main()
