"""A GStreamer-only MJPEG server, as a benchmark contender.

    imagesequencesrc ! jpegparse ! clocksync ! multipartmux boundary=framecast ! multisocketsink

A small Python front (system python3 with PyGObject: python3-gi, gir1.2-gstreamer-1.0) accepts
HTTP connections, reads the request, answers with a response head (HTTP/1.0 style, no chunking,
the body ends when the connection does) and hands the socket to multisocketsink with its "add"
signal. From then on GStreamer alone writes to it: multisocketsink's own thread polls every client
socket and writes the same buffers to each.

multipartmux pushes each part as two buffers: the part's headers (a "keyframe") and the JPEG
(flagged DELTA_UNIT). So a new client must start at a keyframe (sync-method=next-keyframe) and a
client more than 6 buffers (3 frames) behind is resynced to the newest keyframe
(recover-policy=keyframe): a slow reader skips frames. With sync-method=latest or
recover-policy=latest a client can start or resume inside a JPEG and sees a corrupt stream.

multipartmux writes Content-Type and Content-Length but no X-Timestamp: latency is not measured.

    /usr/bin/python3 gst_server.py --location 'bench/frames-720/loop/%06d.jpg' --port 8092
"""
import argparse
import os
import socket
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GLib", "2.0")
from gi.repository import Gio, GLib, Gst  # noqa: E402

HEAD = (
    b"HTTP/1.0 200 OK\r\n"
    b"Content-Type: multipart/x-mixed-replace; boundary=framecast\r\n"
    b"Cache-Control: no-store, no-cache, must-revalidate, max-age=0\r\n"
    b"Connection: close\r\n"
    b"\r\n"
)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--location", required=True, help="imagesequencesrc location pattern")
    parser.add_argument("--port", type=int, default=8092)
    parser.add_argument("--fps", type=int, default=30)
    args = parser.parse_args()

    Gst.init(None)
    pipeline = Gst.parse_launch(
        f"imagesequencesrc location={args.location} framerate={args.fps}/1 ! jpegparse ! clocksync ! "
        "multipartmux boundary=framecast ! "
        "multisocketsink name=sink sync=false sync-method=next-keyframe unit-format=buffers units-soft-max=6 "
        "recover-policy=keyframe"
    )
    sink = pipeline.get_by_name("sink")
    loop = GLib.MainLoop()

    def on_message(_bus, message):
        if message.type == Gst.MessageType.ERROR:
            err, debug = message.parse_error()
            print(f"gst_server: error: {err.message} ({debug})", flush=True)
            loop.quit()
        elif message.type == Gst.MessageType.EOS:
            print("gst_server: end of stream", flush=True)
            loop.quit()

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(4096)

    def handshake(conn):
        try:
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                more = conn.recv(4096)
                if not more:
                    conn.close()
                    return
                data += more
            conn.sendall(HEAD)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.setblocking(False)
            gsock = Gio.Socket.new_from_fd(conn.detach())  # multisocketsink owns the socket now
            sink.emit("add", gsock)
        except OSError:
            conn.close()

    def acceptor():
        while True:
            conn, _ = listener.accept()
            handshake(conn)  # the request is small and already here on loopback

    threading.Thread(target=acceptor, daemon=True).start()
    pipeline.set_state(Gst.State.PLAYING)
    try:
        loop.run()
    finally:
        pipeline.set_state(Gst.State.NULL)


if __name__ == "__main__":
    main()
