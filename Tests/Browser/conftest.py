"""Browser tests: Debian's headless Chromium (through chromium-driver and Selenium) against a real
Framecast on loopback.

Each test starts the built binary itself (FRAMECAST_BIN, default .build/debug/framecast in the
repository) with the streams it needs, on a free port, serving the repository's Web/ folder
(FRAMECAST_WEB_ROOT overrides), and stops it at the end. Every wait is a bounded poll with a
deadline. For HTTPS, the session's `certificate` (openssl, self-signed for localhost and
127.0.0.1) goes to Framecast(tls=) and, as its chromium_arguments, to browser_factory.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def _repo_path(value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else REPO / path


FRAMECAST_BIN = _repo_path(os.environ.get("FRAMECAST_BIN", ".build/debug/framecast"))
WEB_ROOT = _repo_path(os.environ.get("FRAMECAST_WEB_ROOT", "Web"))


def test_pattern(pattern: str = "smpte", width: int = 160, height: int = 120, framerate: str = "10/1") -> str:
    """A live videotestsrc description with a clock on it: every frame differs from the last."""
    return (
        f"videotestsrc is-live=true pattern={pattern} ! "
        f"video/x-raw,width={width},height={height},framerate={framerate} ! "
        "timeoverlay font-desc=\"Sans 10\" ! jpegenc quality=80 ! appsink name=sink"
    )


test_pattern.__test__ = False  # a helper, not a test, despite its name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, interval: float = 0.1, message: str = "condition"):
    """Polls predicate() until it returns something truthy; fails after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = predicate()
            if last:
                return last
        except Exception as error:  # noqa: BLE001 - keep polling through transient failures
            last = error
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message} (last: {last!r})")
        time.sleep(interval)


def holds(predicate, duration: float, interval: float = 0.1, message: str = "condition"):
    """Polls predicate() for duration seconds; fails at once when it is not truthy. Returns its last value."""
    deadline = time.monotonic() + duration
    while True:
        last = predicate()
        if not last:
            raise AssertionError(f"{message} stopped holding (last: {last!r})")
        if time.monotonic() >= deadline:
            return last
        time.sleep(interval)


def get_json(url: str, timeout: float = 2.0, context: ssl.SSLContext | None = None):
    with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
        return json.load(response)


@dataclass(frozen=True)
class Certificate:
    """A self-signed P-256 certificate for localhost and 127.0.0.1 (PEM files) and what trusts it."""

    cert: Path
    key: Path

    @property
    def context(self) -> ssl.SSLContext:
        """Python's side: an SSL context that trusts this certificate alone."""
        return ssl.create_default_context(cafile=str(self.cert))

    @property
    def spki_hash(self) -> str:
        """Chromium's side: base64 SHA-256 of the public key, for --ignore-certificate-errors-spki-list."""
        der = ssl.PEM_cert_to_DER_cert(self.cert.read_text())
        public_key = subprocess.run(
            ["openssl", "x509", "-inform", "DER", "-noout", "-pubkey"], input=der, capture_output=True, check=True).stdout
        spki = subprocess.run(
            ["openssl", "pkey", "-pubin", "-outform", "DER"], input=public_key, capture_output=True, check=True).stdout
        return base64.b64encode(hashlib.sha256(spki).digest()).decode()

    @property
    def chromium_arguments(self) -> list[str]:
        """Chromium flags that accept this certificate (and no other bad one) for the test's servers."""
        return [f"--ignore-certificate-errors-spki-list={self.spki_hash}"]


def make_certificate(folder: Path, days: int = 2) -> Certificate:
    if not shutil.which("openssl"):
        pytest.fail("openssl is needed to make the test certificate: run scripts/install-deps.sh")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-days", str(days)],
        check=True, capture_output=True)
    return Certificate(cert, key)


@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> Certificate:
    """One test certificate for the whole run (Framecast's --tls-cert/--tls-key)."""
    return make_certificate(tmp_path_factory.mktemp("tls"))


class Framecast:
    """One framecast process; start() can be called again after stop() (same port).

    With a Certificate (tls=) it serves HTTPS (HTTP/2 by ALPN, HTTP/1.1 otherwise) and its url is
    https://localhost:PORT, the name the certificate is for; extra= are more command-line arguments.
    """

    def __init__(self, streams: dict[str, str], log_path: Path, port: int | None = None, extra: list[str] | None = None,
                 tls: Certificate | None = None):
        self.streams = streams
        self.port = port or free_port()
        self.extra = extra or []
        self.tls = tls
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}" if self.tls else f"http://127.0.0.1:{self.port}"

    def get_json(self, path: str, timeout: float = 2.0):
        """GET url + path as JSON (over HTTPS trusting the test certificate)."""
        return get_json(f"{self.url}{path}", timeout=timeout, context=self.tls.context if self.tls else None)

    def clients(self) -> dict[str, int]:
        """Each stream's client count, by name."""
        return {s["name"]: s["clients"] for s in self.get_json("/api/streams")["streams"]}

    def start(self, timeout: float = 30.0) -> "Framecast":
        if not FRAMECAST_BIN.exists():
            pytest.fail(f"{FRAMECAST_BIN} does not exist: build it (swift build) or set FRAMECAST_BIN")
        args = [str(FRAMECAST_BIN), "--host", "127.0.0.1", "--port", str(self.port), "--web-root", str(WEB_ROOT)]
        for name, description in self.streams.items():
            args += ["--stream", f"{name}={description}"]
        if self.tls:
            args += ["--tls-cert", str(self.tls.cert), "--tls-key", str(self.tls.key)]
        args += self.extra
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()

        def ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"framecast exited with {self.process.returncode}:\n{self.log()}")
            # /healthz answers without credentials, so servers with --auth are seen ready too.
            return self.get_json("/healthz", timeout=1.0)

        deadline = time.monotonic() + timeout
        while True:
            try:
                ready()
                return self
            except RuntimeError:
                raise
            except Exception:  # noqa: BLE001 - not listening yet
                if time.monotonic() >= deadline:
                    self.stop()
                    raise AssertionError(f"framecast did not answer within {timeout} s:\n{self.log()}")
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


@pytest.fixture
def framecast_factory(tmp_path):
    """make(streams, port=None, extra=None) starts a Framecast; all are stopped after the test."""
    started: list[Framecast] = []

    def make(streams: dict[str, str], **kwargs) -> Framecast:
        server = Framecast(streams, tmp_path / f"framecast-{len(started)}.log", **kwargs)
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.stop()


def _chromium_binary() -> str | None:
    for candidate in (os.environ.get("CHROMIUM_BIN"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return None


def _chromedriver() -> str | None:
    for candidate in (os.environ.get("CHROMEDRIVER_BIN"), "chromedriver", "/usr/lib/chromium/chromedriver"):
        if candidate and (shutil.which(candidate) or Path(candidate).exists()):
            return shutil.which(candidate) or candidate
    return None


@pytest.fixture
def browser_factory():
    """make(width, height, mobile=False, arguments=(), network_log=False, page_load="normal") opens a
    headless Chromium; all are closed after the test. arguments are more Chromium flags (e.g. a
    Certificate's chromium_arguments); network_log keeps the DevTools network events for
    network_events(); page_load="eager" lets commands run once the document is parsed, for pages
    whose load event never comes (an <img> that waits for a connection forever)."""
    drivers = []

    def make(width: int = 1280, height: int = 800, mobile: bool = False, arguments=(), network_log: bool = False,
             page_load: str = "normal"):
        binary, driver_path = _chromium_binary(), _chromedriver()
        if not binary or not driver_path:
            pytest.fail("chromium and chromium-driver are needed: run scripts/install-deps.sh")
        options = webdriver.ChromeOptions()
        options.binary_location = binary
        options.page_load_strategy = page_load
        for argument in (
            "--headless=new",
            "--no-sandbox",  # root in containers
            "--disable-dev-shm-usage",
            "--disable-gpu",
            f"--window-size={width},{height}",
            "--force-device-scale-factor=1",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-renderer-backgrounding",
            "--disable-background-timer-throttling",
            "--disable-backgrounding-occluded-windows",
            *arguments,
        ):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", **({"performance": "ALL"} if network_log else {})})
        if network_log:
            options.add_experimental_option("perfLoggingPrefs", {"enableNetwork": True, "enablePage": False})
        driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
        driver.set_script_timeout(30)
        # The window size includes the browser's own chrome: set the page's viewport exactly.
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        try:
            driver.quit()
        except Exception:  # noqa: BLE001
            pass


def console_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]


def network_events(driver, method: str) -> list[dict]:
    """The params of the DevTools network events (e.g. Network.responseReceived) logged since the
    last call, of a browser made with network_log=True."""
    events = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == method:
            events.append(message["params"])
    return events


# ---- page probes (JavaScript run in the page) ---------------------------------------------

# Every tile: name, status, decoded width, capturedAt of the frame shown, whether on screen,
# and a fingerprint of its pixels (to see the picture change).
TILES_JS = """
const canvas = document.createElement('canvas');
canvas.width = 32; canvas.height = 24;
const g = canvas.getContext('2d', { willReadFrequently: true });
return [...document.querySelectorAll('.tile')].map((tile) => {
  const img = tile.querySelector('img.frame');
  const r = tile.getBoundingClientRect();
  let print = 0, lit = 0;
  if (img.naturalWidth > 0) {
    g.clearRect(0, 0, 32, 24);
    g.drawImage(img, 0, 0, 32, 24);
    const d = g.getImageData(0, 0, 32, 24).data;
    for (let i = 0; i < d.length; i++) { print = (print * 31 + d[i]) >>> 0; if (i % 4 !== 3 && d[i] > 16) lit++; }
  }
  return { name: tile.dataset.stream, status: tile.dataset.status, width: img.naturalWidth,
           capturedAt: Number(img.dataset.capturedAt || 0), print, lit,
           inView: r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth };
});
"""

# The pixels of one <img> (by CSS selector), for seeing a picture change.
IMAGE_PRINT_JS = """
const img = document.querySelector(arguments[0]);
if (!img || !img.naturalWidth) return null;
const canvas = document.createElement('canvas');
canvas.width = 32; canvas.height = 24;
const g = canvas.getContext('2d', { willReadFrequently: true });
g.drawImage(img, 0, 0, 32, 24);
const d = g.getImageData(0, 0, 32, 24).data;
let print = 0;
for (let i = 0; i < d.length; i++) print = (print * 31 + d[i]) >>> 0;
return print;
"""


def tiles(driver) -> list[dict]:
    return driver.execute_script(TILES_JS)


def all_live(driver, count):
    """The wall's tiles when there are count of them, all live with a decoded, lit picture; else False."""
    shown = tiles(driver)
    if len(shown) != count:
        return False
    return all(t["status"] == "live" and t["width"] > 0 and t["capturedAt"] > 0 and t["lit"] > 0 for t in shown) and shown


def image_print(driver, selector: str):
    return driver.execute_script(IMAGE_PRINT_JS, selector)
