#!/usr/bin/env python3
"""wallclient: one browser's wall of streams over Framecast's WebSocket (/ws), as the page does it.

Opens one WebSocket to /ws (the RFC 6455 handshake, no extensions), sends one subscription as a
text message (`{"streams": ["a", {"name": "b", "width": 480}]}`) and reads the binary messages
as fast as it can: `[JPEG][name][u8 name length][f64 capture time BE][u32 JPEG length BE]`.
It answers pings, checks each JPEG's SOI/EOI, and measures over a window after a warm-up:

  bytes per second on the wire (WebSocket headers included) and of JPEG, messages per second per
  stream name (min / median), the mean JPEG size per name, latency = receive time minus the
  capture time (p50, p99, max), the text replies (errors, refused renditions), and this process's
  own CPU over the window.

Prints one JSON object on stdout, and "WINDOW_START" / "WINDOW_END" lines on stderr at the
window's edges (as bin/loadclient does) so a runner can sample the server's CPU over the same
interval.

    wallclient.py --url ws://127.0.0.1:8080/ws --subscribe '{"streams": ["cam1"]}' --warmup 3 --duration 10

Standard library only.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import resource
import socket
import statistics
import struct
import sys
import time
from urllib.parse import urlparse

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """A client frame (clients must mask)."""
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 1 << 16:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + body


def handshake(sock: socket.socket, host: str, port: int, path: str) -> bytes:
    """Sends the upgrade request; returns any bytes read past the response head."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: framecast-bench-wallclient\r\n\r\n")
    sock.sendall(request.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError(f"connection closed during the handshake: {data[:200]!r}")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    if " 101 " not in lines[0] + " ":
        raise RuntimeError(f"handshake refused: {lines[0]}")
    accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
    if headers.get("sec-websocket-accept") != accept:
        raise RuntimeError("bad Sec-WebSocket-Accept")
    if headers.get("sec-websocket-extensions"):
        raise RuntimeError(f"unexpected extension: {headers['sec-websocket-extensions']}")
    return rest


def pct(values: list[float], p: float):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="ws://127.0.0.1:PORT/ws")
    ap.add_argument("--subscribe", required=True, help='the subscription, e.g. {"streams": ["cam1", {"name": "cam2", "width": 480}]}')
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--duration", type=float, default=10.0)
    args = ap.parse_args()
    url = urlparse(args.url)
    host, port, path = url.hostname or "127.0.0.1", url.port or 80, url.path or "/ws"

    sock = socket.create_connection((host, port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = bytearray(handshake(sock, host, port, path))
    sock.sendall(masked_frame(0x1, args.subscribe.encode()))
    t0 = time.time()
    window_start, window_end = t0 + args.warmup, t0 + args.warmup + args.duration
    sock.settimeout(0.1)

    chunk = bytearray(1 << 20)
    view = memoryview(chunk)
    in_window = False
    cpu0 = cpu1 = 0.0
    wire = jpeg_bytes = messages = invalid = 0
    per_name: dict[str, list[int]] = {}  # name -> [messages, jpeg bytes] in the window
    names_seen: set[str] = set()
    latencies: list[float] = []
    replies: list[str] = []
    fragments: list[bytes] = []
    fragment_opcode = 0
    closed = None

    def on_message(opcode: int, payload: bytes, now: float):
        nonlocal jpeg_bytes, messages, invalid, closed
        if opcode == 0x1:
            replies.append(payload.decode("utf-8", "replace")[:500])
            return
        if opcode != 0x2:
            return
        n = len(payload)
        if n < 13:
            invalid += 1
            return
        length = struct.unpack_from(">I", payload, n - 4)[0]
        captured = struct.unpack_from(">d", payload, n - 12)[0]
        name_len = payload[n - 13]
        name_start = n - 13 - name_len
        if name_start < 0 or length > name_start:
            invalid += 1
            return
        name = payload[name_start:n - 13].decode("utf-8", "replace")
        names_seen.add(name)
        if not in_window:
            return
        ok = length >= 4 and payload[0] == 0xFF and payload[1] == 0xD8 and payload[length - 2] == 0xFF and payload[length - 1] == 0xD9
        if not ok:
            invalid += 1
        messages += 1
        jpeg_bytes += length
        entry = per_name.setdefault(name, [0, 0])
        entry[0] += 1
        entry[1] += length
        if captured > 0:
            latencies.append((now - captured) * 1000)

    while True:
        now = time.time()
        if not in_window and now >= window_start:
            in_window = True
            cpu0 = cpu_seconds()
            print(f"WINDOW_START {now:.6f}", file=sys.stderr, flush=True)
        if in_window and now >= window_end:
            cpu1 = cpu_seconds()
            print(f"WINDOW_END {now:.6f}", file=sys.stderr, flush=True)
            break
        try:
            got = sock.recv_into(view)
        except socket.timeout:
            continue
        if got == 0:
            closed = "the server closed the connection"
            break
        now = time.time()
        if in_window:
            wire += got
        buf += view[:got]
        # Whole frames in the buffer.
        while len(buf) >= 2:
            b0, b1 = buf[0], buf[1]
            length = b1 & 0x7F
            offset = 2
            if length == 126:
                if len(buf) < 4:
                    break
                length = struct.unpack_from(">H", buf, 2)[0]
                offset = 4
            elif length == 127:
                if len(buf) < 10:
                    break
                length = struct.unpack_from(">Q", buf, 2)[0]
                offset = 10
            if b1 & 0x80:
                offset += 4  # a server must not mask; tolerated
            if len(buf) < offset + length:
                break
            payload = bytes(buf[offset:offset + length])
            del buf[:offset + length]
            opcode, fin = b0 & 0x0F, b0 & 0x80
            if opcode == 0x9:  # ping
                sock.sendall(masked_frame(0xA, payload))
            elif opcode == 0x8:  # close
                closed = f"close frame {payload[:2].hex()} {payload[2:].decode('utf-8', 'replace')}"
            elif opcode == 0x0:  # continuation
                fragments.append(payload)
                if fin:
                    on_message(fragment_opcode, b"".join(fragments), now)
                    fragments = []
            elif opcode in (0x1, 0x2):
                if fin:
                    on_message(opcode, payload, now)
                else:
                    fragment_opcode, fragments = opcode, [payload]
        if closed:
            break
    try:
        sock.sendall(masked_frame(0x8, struct.pack(">H", 1000)))
    except OSError:
        pass
    sock.close()

    duration = args.duration
    rates = sorted(m / duration for m, _ in per_name.values())
    result = {
        "url": args.url, "subscribe": json.loads(args.subscribe), "warmup_s": args.warmup, "window_s": duration,
        "closed": closed, "replies": replies, "names_seen": sorted(names_seen),
        "streams_received": len(per_name), "messages": messages,
        "wire_Bps": wire / duration, "jpeg_Bps": jpeg_bytes / duration,
        "MBps": wire / duration / 1e6,
        "fps_min": rates[0] if rates else 0.0, "fps_median": statistics.median(rates) if rates else 0.0,
        "mean_jpeg_bytes": jpeg_bytes / messages if messages else None,
        "per_name": {name: {"fps": m / duration, "mean_jpeg_bytes": b / m if m else None} for name, (m, b) in sorted(per_name.items())},
        "latency_ms_p50": pct(latencies, 50), "latency_ms_p99": pct(latencies, 99),
        "latency_ms_max": max(latencies) if latencies else None,
        "invalid_jpeg": invalid,
        "client_cpu_pct": 100 * (cpu1 - cpu0) / duration if cpu1 else None,
    }
    print(json.dumps(result))
    return 0 if not closed or messages else 1


if __name__ == "__main__":
    sys.exit(main())
