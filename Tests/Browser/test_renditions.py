"""Renditions on the wall: each tile asks for its stream at the size it is drawn at, the single view
at full size, and a resized window moves the tiles to the new size without a blank tile.

Twelve 1280x720 streams at 5 fps. The page sets, on each tile's <img class="frame">,
data-frame-width (the decoded frame's width) and data-rendition (the frame's stream name,
NAME@WxHqQ for a rendition): the test compares them with the tile's drawn width × devicePixelRatio,
snapped as the server snaps it (a multiple of 16).
"""

from __future__ import annotations

import json

from conftest import console_errors, get_json, test_pattern, wait_until

SOURCE_WIDTH, SOURCE_HEIGHT = 1280, 720
# Patterns cheap to draw at this size (two cores run twelve of them and the browser).
PATTERNS = ["smpte", "ball", "smpte75", "bar", "colors", "checkers-8",
            "smpte100", "checkers-4", "red", "blue", "checkers-2", "green"]
TWELVE = {f"cam{i + 1:02d}": test_pattern(pattern, SOURCE_WIDTH, SOURCE_HEIGHT, "5/1") for i, pattern in enumerate(PATTERNS)}

# 610 CSS pixels: two columns of tiles about 285 pixels wide (three from 622 on); tall enough
# for all twelve.
NARROW = (610, 1800)
# 1280: six columns of tiles about 200 pixels wide, all twelve on screen.
WIDE = (1280, 800)


def snap16(pixels: float) -> int:
    """What the server does to a requested width: the nearest multiple of 16, at least 16."""
    return max(16, int(pixels / 16 + 0.5) * 16)


def set_viewport(driver, width: int, height: int, scale: float = 1) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": False})


# Every tile: what its <img> shows and how large it is drawn.
FRAMES_JS = """
return [...document.querySelectorAll('.tile')].map((tile) => {
  const img = tile.querySelector('img.frame');
  const box = img.getBoundingClientRect();
  return { name: tile.dataset.stream, status: tile.dataset.status, src: img.getAttribute('src') || '',
           natural: img.naturalWidth, frameWidth: Number(img.dataset.frameWidth || 0),
           frameHeight: Number(img.dataset.frameHeight || 0), rendition: img.dataset.rendition || '',
           capturedAt: Number(img.dataset.capturedAt || 0),
           cssWidth: box.width, dpr: window.devicePixelRatio };
});
"""

# From now on, every 10 ms, note any tile that is blank (no src, no decoded picture, no frame shown)
# and which frames each tile shows; and log the subscriptions the page sends.
WATCH_JS = """
window.__blank = [];
window.__shown = {};
window.__sent = [];
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) { window.__sent.push(String(data)); return send.call(this, data); };
window.__resizedAt = 0;
new ResizeObserver(() => { window.__resizedAt = performance.now(); })
  .observe(document.querySelector('.tile img.frame'));
window.__watch = setInterval(() => {
  for (const tile of document.querySelectorAll('.tile')) {
    const img = tile.querySelector('img.frame');
    const name = tile.dataset.stream;
    if (!img.getAttribute('src') || !img.complete || img.naturalWidth === 0 || !img.dataset.frameWidth) {
      window.__blank.push({ name, src: img.getAttribute('src'), natural: img.naturalWidth, status: tile.dataset.status });
    }
    const shown = (window.__shown[name] = window.__shown[name] || []);
    if (shown[shown.length - 1] !== img.dataset.rendition) shown.push(img.dataset.rendition);
  }
}, 10);
"""


def frames(driver) -> list[dict]:
    return driver.execute_script(FRAMES_JS)


def expected_width(tile: dict) -> int:
    # A 16:9 picture in a 4:3 tile is as wide as the tile.
    return snap16(tile["cssWidth"] * tile["dpr"])


def at_tile_size(driver, since: float = 0):
    """Every tile shows a rendition of its drawn size (and says so), captured after `since`, or False."""
    shown = frames(driver)
    if len(shown) != len(TWELVE):
        return False
    for t in shown:
        width = expected_width(t)
        if not (t["status"] == "live" and t["capturedAt"] > since and t["frameWidth"] == width and t["natural"] == width
                and t["rendition"].startswith(f"{t['name']}@{width}x")):
            return False
    return shown


def moved(driver, before: list[dict]):
    """at_tile_size, each tile with another rendition than in `before`, or False."""
    shown = at_tile_size(driver)
    return shown and all(t["rendition"] != b["rendition"] for t, b in zip(shown, before)) and shown


def subscription(shown: list[dict]) -> list[dict]:
    """What the page must ask for to get these tiles' renditions."""
    return [{"name": t["name"], "width": t["frameWidth"]} for t in shown]


def renditions_served(server, tiles_shown):
    """/api/streams lists each tile's rendition with this page as its one client, and no other
    rendition with a client (none at full size: the page never asks for one)."""
    streams = {s["name"]: s for s in get_json(f"{server.url}/api/streams")["streams"]}
    for t in tiles_shown:
        watched = [r for r in streams[t["name"]]["renditions"] if r["clients"] > 0]
        if [(r["stream"], r["width"], r["clients"]) for r in watched] != [(t["rendition"], t["frameWidth"], 1)]:
            return False
    return streams


def test_wall_asks_tile_sized_renditions_and_the_single_view_full_size(browser_factory, framecast_factory):
    # A short idle timeout: the renditions a resize leaves behind stop (and are forgotten) soon.
    twelve_hd = framecast_factory(TWELVE, extra=["--idle-timeout", "2"])
    driver = browser_factory(*NARROW)
    driver.get(f"{twelve_hd.url}/")

    first = wait_until(lambda: at_tile_size(driver), 30, message="every tile showing a rendition of its own size")
    widths = {t["frameWidth"] for t in first}
    assert len(widths) == 1 and widths.pop() <= SOURCE_WIDTH // 3, first
    # The height from the source's aspect, even (as the server rounds it).
    assert all(t["frameHeight"] == int(t["frameWidth"] * SOURCE_HEIGHT / SOURCE_WIDTH / 2 + 0.5) * 2 for t in first), first
    wanted = driver.execute_script("return window.framecast.wanted()")
    assert wanted == subscription(first), wanted
    wait_until(lambda: renditions_served(twelve_hd, first), 5, message="each tile's rendition with one client")

    # The single view: the plain MJPEG stream at full size, no rendition; the wall asks for nothing.
    driver.execute_script("location.hash = '#/view/cam03'")
    wait_until(lambda: driver.execute_script("return document.getElementById('live').naturalWidth") == SOURCE_WIDTH,
               10, message="the single view at the source's full width")
    src = driver.execute_script("return document.getElementById('live').src")
    assert "/stream/cam03?" in src and "width" not in src, src
    assert driver.execute_script("return window.framecast.wanted()") == []

    # Back to the wall: the tiles' renditions again, new frames.
    left_at = max(t["capturedAt"] for t in frames(driver))
    driver.execute_script("location.hash = '#/'")
    wait_until(lambda: at_tile_size(driver, since=left_at), 15, message="the wall at tile size again")

    driver.execute_script(WATCH_JS)

    # A resize that changes no tile's snapped width sends nothing (no rendition churn).
    set_viewport(driver, NARROW[0] + 2, NARROW[1])
    wait_until(lambda: driver.execute_script(
        "return window.__resizedAt > 0 && performance.now() - window.__resizedAt > 750"), 5,
        message="a small resize, settled")
    assert all(expected_width(t) == t["frameWidth"] for t in frames(driver)), "the small resize changed a snapped width"
    sent = driver.execute_script("return window.__sent")
    assert sent == [], "\n".join(sent)

    # Wider: more, narrower columns. Each tile moves to its new size, never blank meanwhile.
    set_viewport(driver, *WIDE)
    wide = wait_until(lambda: moved(driver, first), 15, message="every tile at its new size")
    blank, shown, sent = driver.execute_script("return [window.__blank, window.__shown, window.__sent]")
    assert blank == [], f"tiles blank while moving to the new size: {blank[:10]}"
    # Each tile showed the frames of its old rendition, then of its new one.
    assert all(shown[b["name"]][0] == b["rendition"] and shown[t["name"]][-1] == t["rendition"]
               for b, t in zip(first, wide)), shown
    # One subscription for the whole resize, once it settled.
    assert [json.loads(m)["streams"] for m in sent] == [subscription(wide)], sent
    # The previous renditions lost their viewer (they stop after the idle timeout).
    wait_until(lambda: renditions_served(twelve_hd, wide), 10, message="only the new renditions watched")

    # Twice the device pixels per CSS pixel: twice the width, same CSS size.
    set_viewport(driver, *WIDE, scale=2)
    sharp = wait_until(lambda: moved(driver, wide), 15, message="every tile at twice the width at devicePixelRatio 2")
    assert all(t["dpr"] == 2 and t["frameWidth"] == snap16(t["cssWidth"] * 2) < SOURCE_WIDTH for t in sharp), sharp
    blank, sent = driver.execute_script("return [window.__blank, window.__sent]")
    assert blank == [], f"tiles blank while moving to the sharper size: {blank[:10]}"
    assert [json.loads(m)["streams"] for m in sent[1:]] == [subscription(sharp)], sent

    assert console_errors(driver) == []
