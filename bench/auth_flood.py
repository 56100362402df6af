#!/usr/bin/env python3
"""Floods a running Framecast with wrong HTTP Basic passwords and measures /healthz meanwhile.

Starts nothing: run the server first, for example
    htpasswd -nbB -C 12 admin secret > /tmp/users
    .build/release/framecast --port 18099 --htpasswd /tmp/users
    python3 bench/auth_flood.py --port 18099 --seconds 20

4 threads (--flooders) send GET /api/status with a wrong password as fast as they can, a new
connection each; a 5th thread GETs /healthz every 50 ms and records its latency. Prints p50/p90/max
of /healthz and the flood's status counts. With --spread N the flood comes from N loopback
addresses, as a distributed attack would, so it reaches bcrypt instead of the per-address 429.
Standard library only.
"""

import argparse
import base64
import collections
import http.client
import threading
import time


def request(host, port, path, headers, timeout, source=None):
    """One request on a new connection; returns (status or an error name, seconds)."""
    started = time.monotonic()
    connection = http.client.HTTPConnection(host, port, timeout=timeout, source_address=(source, 0) if source else None)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status, time.monotonic() - started
    except (OSError, http.client.HTTPException) as error:
        return type(error).__name__, time.monotonic() - started
    finally:
        connection.close()


def percentile(sorted_values, fraction):
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--flooders", type=int, default=4)
    parser.add_argument("--user", default="admin")
    parser.add_argument("--path", default="/api/status", help="route the flood asks for")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between /healthz probes")
    parser.add_argument("--spread", type=int, default=0,
                        help="send the flood from this many loopback addresses (127.0.1.1, 127.0.1.2, ...: Linux "
                             "routes all of 127/8 to lo) so the per-address throttle does not stop it")
    arguments = parser.parse_args()

    stop = threading.Event()
    lock = threading.Lock()
    statuses = collections.Counter()
    flood_times = []
    health_times = []
    health_statuses = collections.Counter()

    def flood(number):
        attempt = 0
        while not stop.is_set():
            attempt += 1
            credentials = f"{arguments.user}:wrong-{number}-{attempt}".encode()
            headers = {"Authorization": "Basic " + base64.b64encode(credentials).decode(), "Connection": "close"}
            source = None
            if arguments.spread:
                index = (number * 7919 + attempt) % arguments.spread
                source = f"127.0.{1 + index // 250}.{1 + index % 250}"
            status, seconds = request(arguments.host, arguments.port, arguments.path, headers, timeout=30, source=source)
            with lock:
                statuses[status] += 1
                flood_times.append(seconds)

    def probe():
        next_due = time.monotonic()
        while not stop.is_set():
            status, seconds = request(arguments.host, arguments.port, "/healthz", {"Connection": "close"}, timeout=30)
            with lock:
                health_statuses[status] += 1
                health_times.append(seconds)
            next_due += arguments.interval
            pause = next_due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            else:
                next_due = time.monotonic()

    threads = [threading.Thread(target=flood, args=(n,), daemon=True) for n in range(arguments.flooders)]
    threads.append(threading.Thread(target=probe, daemon=True))
    for thread in threads:
        thread.start()
    time.sleep(arguments.seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=35)

    health = sorted(health_times)
    milliseconds = lambda value: f"{value * 1000:.1f} ms"
    print(f"/healthz: {len(health)} probes, statuses {dict(health_statuses)}")
    print(f"/healthz latency: p50 {milliseconds(percentile(health, 0.5))}, p90 {milliseconds(percentile(health, 0.9))}, "
          f"max {milliseconds(health[-1] if health else float('nan'))}")
    flood = sorted(flood_times)
    total = sum(statuses.values())
    print(f"flood: {total} requests in {arguments.seconds:.0f} s ({total / arguments.seconds:.0f}/s), statuses {dict(statuses)}")
    print(f"flood latency: p50 {milliseconds(percentile(flood, 0.5))}, p90 {milliseconds(percentile(flood, 0.9))}")


if __name__ == "__main__":
    main()
