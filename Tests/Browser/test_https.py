"""HTTPS: why HTTP/2 matters for a page of <img> streams, and the wall over HTTPS.

A browser keeps at most 6 HTTP/1.1 connections per server (scheme, host and port), and a
multipart stream holds its connection for as long as it plays: a page with 12
<img src=".../stream/NAME"> shows 6 of them over HTTP/1.1 and the other 6 wait for a connection
forever. Over HTTPS Chromium negotiates HTTP/2 (ALPN) and all 12 are streams of one connection;
a Chromium that offers only HTTP/1.1 (--disable-http2) gets HTTP/1.1 from the same server, and 6.
The wall (the page's WebSocket, wss) works over HTTPS too.

The page is served from another origin (a small Python http.server), as a site embedding the
cameras would be. Its <img> tags carry crossorigin="anonymous" and Framecast runs with
--allow-origin for that origin, so the page can read the pictures' pixels (to see them change).
Chromium trusts the test certificate by its public key (--ignore-certificate-errors-spki-list).
"""

from __future__ import annotations

import functools
import html
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import (Framecast, all_live, console_errors, holds, network_events, test_pattern, tiles,
                      wait_until)

# Twelve small streams at 5 fps: 12 pipelines (twice, with the HTTP/1.1 server) on a 2-core machine.
PATTERNS = ["smpte", "ball", "circular", "smpte100", "gamut", "bar",
            "pinwheel", "spokes", "gradient", "colors", "smpte75", "checkers-8"]
TWELVE = {f"cam{i + 1:02d}": test_pattern(pattern, framerate="5/1") for i, pattern in enumerate(PATTERNS)}
HTTP1_CONNECTIONS_PER_SERVER = 6  # Chromium's limit per scheme, host and port


class PageServer:
    """Static pages on http://127.0.0.1:PORT (a thread of this process)."""

    def __init__(self, folder):
        self.folder = folder
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def image_page(self, name: str, server_url: str, streams) -> str:
        """Writes a page of one <img> per stream of server_url; returns its URL."""
        images = "\n".join(
            f'<img crossorigin="anonymous" alt="{name}" src="{html.escape(server_url)}/stream/{name}">' for name in streams)
        (self.folder / name).write_text(f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Twelve cameras</title><link rel="icon" href="data:,">
<style>
  body {{ margin: 0; display: grid; grid-template-columns: repeat(4, 160px); gap: 4px; }}
  img {{ width: 160px; height: 120px; background: #000; }}
</style></head>
<body>
{images}
</body></html>
""")
        return f"{self.origin}/{name}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


# Each <img>: decoded width and a fingerprint of its pixels (-1 if the canvas is tainted, that is
# the CORS headers did not arrive).
IMAGES_JS = """
const canvas = document.createElement('canvas');
canvas.width = 32; canvas.height = 24;
const g = canvas.getContext('2d', { willReadFrequently: true });
return [...document.querySelectorAll('img')].map((img) => {
  let print = 0;
  if (img.naturalWidth > 0) {
    try {
      g.clearRect(0, 0, 32, 24);
      g.drawImage(img, 0, 0, 32, 24);
      const d = g.getImageData(0, 0, 32, 24).data;
      for (let i = 0; i < d.length; i++) print = (print * 31 + d[i]) >>> 0;
    } catch (error) { print = -1; }
  }
  return { src: img.src, width: img.naturalWidth, height: img.naturalHeight, print };
});
"""


def images(driver) -> list[dict]:
    return driver.execute_script(IMAGES_JS)


def painted(driver) -> list[dict]:
    return [image for image in images(driver) if image["width"] > 0]


def stream_responses(driver) -> dict[str, dict]:
    """The /stream/ responses since the last call, by URL: their protocol and connection."""
    return {event["response"]["url"]: event["response"] for event in network_events(driver, "Network.responseReceived")
            if "/stream/" in event["response"]["url"]}


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    server = PageServer(tmp_path_factory.mktemp("pages"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def secure(tmp_path_factory, certificate, pages):
    """Framecast over HTTPS (HTTP/2 by ALPN) with twelve streams, readable by the page's origin."""
    server = Framecast(TWELVE, tmp_path_factory.mktemp("https") / "framecast.log", tls=certificate,
                       extra=["--allow-origin", pages.origin]).start()
    yield server
    server.stop()


def wait_all_changed(driver, before: list[dict], timeout: float = 10):
    """Every painted picture of `before` shows another picture (a newer frame) within timeout."""
    def all_changed():
        now = {image["src"]: image for image in images(driver)}
        return all(now[image["src"]]["print"] not in (0, -1, image["print"]) for image in before)

    wait_until(all_changed, timeout, message="every picture to change")


def test_twelve_images_over_http2_but_six_over_http1(browser_factory, certificate, secure, pages, framecast_factory):
    # Eager: over HTTP/1.1 the page's load event never comes (6 images never load), and with the
    # normal strategy every WebDriver command would wait for it.
    driver = browser_factory(1280, 800, arguments=certificate.chromium_arguments, network_log=True, page_load="eager")

    # HTTPS: HTTP/2, one connection, twelve streams on it, all twelve pictures live.
    driver.get(pages.image_page("http2.html", secure.url, TWELVE))
    first = wait_until(lambda: len(painted(driver)) == 12 and images(driver), 20, message="12 painted images over HTTP/2")
    assert all((image["width"], image["height"]) == (160, 120) for image in first), first
    assert all(image["print"] > 0 for image in first), f"pixels readable (CORS over HTTP/2): {first}"
    wait_all_changed(driver, first)
    assert secure.clients() == {name: 1 for name in TWELVE}

    responses = stream_responses(driver)
    assert sorted(responses) == sorted(f"{secure.url}/stream/{name}" for name in TWELVE), responses.keys()
    assert {r["protocol"] for r in responses.values()} == {"h2"}, [r["protocol"] for r in responses.values()]
    assert {r["status"] for r in responses.values()} == {200}
    assert all(r["mimeType"] == "multipart/x-mixed-replace" for r in responses.values()), responses
    assert len({r["connectionId"] for r in responses.values()}) == 1, "all twelve streams share one connection"
    assert console_errors(driver) == []

    # Plain HTTP: HTTP/1.1, six connections, six live pictures; the other six wait.
    plain = framecast_factory(TWELVE, extra=["--allow-origin", pages.origin])
    driver.get(pages.image_page("http1.html", plain.url, TWELVE))
    check_six_of_twelve(driver, plain, hold=5)
    # The HTTPS page's streams ended with it.
    wait_until(lambda: secure.clients() == {name: 0 for name in TWELVE}, 5, message="the HTTP/2 streams released")


def test_https_without_http2_is_http1_with_six(browser_factory, certificate, secure, pages):
    """ALPN's fallback: a browser that offers only HTTP/1.1 gets it from the same HTTPS server, and
    with it the limit of six connections."""
    driver = browser_factory(1280, 800, arguments=[*certificate.chromium_arguments, "--disable-http2"],
                             network_log=True, page_load="eager")
    driver.get(pages.image_page("http1-tls.html", secure.url, TWELVE))
    check_six_of_twelve(driver, secure, hold=2)


def check_six_of_twelve(driver, server: Framecast, hold: float):
    """The page of twelve <img> streams of server over HTTP/1.1: six paint, each on its own
    connection, and keep changing; the other six stay empty for `hold` seconds (and longer)."""

    def six_and_six():
        shown = images(driver)
        clients = server.clients()
        return (sum(image["width"] > 0 for image in shown) == 6 and sum(image["width"] == 0 for image in shown) == 6
                and sorted(clients.values()) == [0] * 6 + [1] * 6 and shown)

    wait_until(six_and_six, 20, message="6 of 12 images painted over HTTP/1.1, 6 streams with a client")
    # Some seconds on, still six: the others have no connection to come on.
    shown = holds(six_and_six, hold, message="6 of 12 images painted, 6 streams with a client")
    live = [image for image in shown if image["width"] > 0]
    assert all((image["width"], image["height"]) == (160, 120) and image["print"] > 0 for image in live), live
    wait_all_changed(driver, live)

    responses = stream_responses(driver)
    assert len(responses) == 6, f"6 stream responses, the other requests still queued: {list(responses)}"
    assert {r["protocol"] for r in responses.values()} == {"http/1.1"}, [r["protocol"] for r in responses.values()]
    assert {r["status"] for r in responses.values()} == {200}
    assert len({r["connectionId"] for r in responses.values()}) == 6, "one connection per stream"
    waiting = {image["src"] for image in shown if image["width"] == 0}
    assert not waiting & set(responses), "a waiting image has a response"
    assert console_errors(driver) == []


def test_wall_over_https(browser_factory, certificate, secure):
    """The page itself over HTTPS: its wall's WebSocket (wss, HTTP/1.1) and the single view's stream."""
    driver = browser_factory(1280, 800, arguments=certificate.chromium_arguments)
    driver.get(f"{secure.url}/")
    assert driver.execute_script("return location.protocol + ' ' + isSecureContext") == "https: true"
    first = wait_until(lambda: all_live(driver, 12), 20, message="12 live tiles over HTTPS")
    assert [t["name"] for t in first] == list(TWELVE)

    def all_changed():
        now = {t["name"]: t for t in tiles(driver)}
        return all(now[t["name"]]["capturedAt"] > t["capturedAt"] and now[t["name"]]["print"] != t["print"] for t in first)

    wait_until(all_changed, 10, message="every tile's picture to change")
    assert driver.execute_script("return window.framecast.socketState()") == "open"
    assert secure.clients() == {name: 1 for name in TWELVE}, "one WebSocket carries all twelve"

    # The single view: one multipart stream over HTTPS (HTTP/2) instead of the wall.
    driver.execute_script("location.hash = '#/view/cam05'")
    wait_until(lambda: driver.execute_script("return document.getElementById('live').naturalWidth") == 160, 10,
               message="the single view's picture over HTTPS")
    wait_until(lambda: secure.clients() == {name: int(name == "cam05") for name in TWELVE}, 5,
               message="only cam05 streaming while the single view is open")
    assert console_errors(driver) == []
