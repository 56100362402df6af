"""The wall: twelve live streams at once over one WebSocket, a screenshot, off-screen tiles idle."""

from __future__ import annotations

import pytest

from conftest import ARTIFACTS, Framecast, all_live, console_errors, get_json, test_pattern, tiles, wait_until

# Twelve different pictures (no noise patterns: they would bloat the screenshot).
PATTERNS = ["smpte", "ball", "circular", "smpte100", "gamut", "bar",
            "pinwheel", "spokes", "gradient", "colors", "smpte75", "checkers-8"]
TWELVE = {f"cam{i + 1:02d}": test_pattern(pattern) for i, pattern in enumerate(PATTERNS)}


@pytest.fixture(scope="module")
def twelve(tmp_path_factory):
    server = Framecast(TWELVE, tmp_path_factory.mktemp("wall") / "framecast.log").start()
    yield server
    server.stop()


def test_twelve_streams_live_at_once(browser_factory, twelve):
    driver = browser_factory(1280, 800)
    driver.get(f"{twelve.url}/")
    first = wait_until(lambda: all_live(driver, 12), 20, message="12 live tiles with a decoded picture")
    assert [t["name"] for t in first] == list(TWELVE), "tiles are in the server's order"
    assert all(t["inView"] for t in first), f"all 12 tiles fit a 1280x800 window: {first}"

    # Every picture changes over time (new frames, new pixels: each has a running clock).
    def all_changed():
        now = {t["name"]: t for t in tiles(driver)}
        return all(now[t["name"]]["capturedAt"] > t["capturedAt"] and now[t["name"]]["print"] != t["print"] for t in first)

    wait_until(all_changed, 10, message="every tile's picture to change")

    # One WebSocket carries them all: each stream counts exactly one client (this page).
    streams = get_json(f"{twelve.url}/api/streams")["streams"]
    assert [s["clients"] for s in streams] == [1] * 12, streams

    # The page's own text on every tile: name, resolution, fps, clients, badge.
    texts = driver.execute_script(
        "return [...document.querySelectorAll('.tile')].map(t => t.innerText)")
    wait_until(lambda: all("160×120" in text and "fps" in text for text in driver.execute_script(
        "return [...document.querySelectorAll('.tile')].map(t => t.innerText)")), 5,
        message="resolution and fps on every tile")
    assert all("cam" in text and "LIVE" in text.upper() for text in texts), texts

    assert console_errors(driver) == []

    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "wall.png"))
    assert (ARTIFACTS / "wall.png").stat().st_size > 10_000


def test_off_screen_tiles_receive_no_frames(browser_factory, twelve):
    """A phone-sized window shows the first tiles; the others get no frames until scrolled to."""
    # A phone: 390 CSS pixels wide (two columns of tiles), 600 high.
    driver = browser_factory(390, 600, mobile=True)
    driver.get(f"{twelve.url}/")

    def first_live():
        shown = tiles(driver)
        return len(shown) == 12 and shown[0]["status"] == "live" and shown[0]["capturedAt"] > 0 and shown

    shown = wait_until(first_live, 20, message="the first tile live")
    hidden = [t["name"] for t in shown if not t["inView"]]
    assert "cam12" in hidden, shown

    # Only the streams on screen (plus the observer's margin) have a client.
    def only_visible_streams_have_clients():
        streams = {s["name"]: s["clients"] for s in get_json(f"{twelve.url}/api/streams")["streams"]}
        return streams["cam01"] == 1 and streams["cam12"] == 0 and streams

    wait_until(only_visible_streams_have_clients, 5, message="cam12 without clients")
    assert tiles(driver)[11]["capturedAt"] == 0, "an off-screen tile received a frame"

    # Scrolled to, the last tile comes alive; the first, now off screen, is released.
    driver.execute_script("document.querySelector('.tile[data-stream=\"cam12\"]').scrollIntoView()")
    wait_until(lambda: tiles(driver)[11]["status"] == "live" and tiles(driver)[11]["capturedAt"] > 0, 10,
               message="cam12 live once scrolled to")
    wait_until(lambda: {s["name"]: s["clients"] for s in get_json(f"{twelve.url}/api/streams")["streams"]}["cam01"] == 0,
               5, message="cam01 released once scrolled away")

    # The single view replaces the wall: its tiles stop, and one MJPEG stream starts.
    driver.execute_script("location.hash = '#/view/cam05'")
    def single_only():
        streams = {s["name"]: s["clients"] for s in get_json(f"{twelve.url}/api/streams")["streams"]}
        return streams["cam05"] == 1 and sum(streams.values()) == 1 and streams
    wait_until(single_only, 5, message="only cam05 streaming while the single view is open")
    wait_until(lambda: driver.execute_script("return document.getElementById('live').naturalWidth > 0"), 10,
               message="the single view's picture")

    # Closing it releases the MJPEG connection (src = '').
    driver.execute_script("location.hash = '#/'")
    assert driver.execute_script("return document.getElementById('live').getAttribute('src')") == ""
    def cam05_released():
        # Each entry is a name, or {name, width} for a rendition.
        wanted = [w if isinstance(w, str) else w["name"] for w in driver.execute_script("return window.framecast.wanted()")]
        clients = {s["name"]: s["clients"] for s in get_json(f"{twelve.url}/api/streams")["streams"]}
        return clients["cam05"] == (1 if "cam05" in wanted else 0)
    wait_until(cam05_released, 5, message="cam05's MJPEG stream released")


def test_hidden_tab_receives_no_frames(browser_factory, twelve):
    driver = browser_factory()
    driver.get(f"{twelve.url}/")
    wait_until(lambda: all_live(driver, 12), 20, message="12 live tiles")
    wall_tab = driver.current_window_handle

    def clients():
        return [s["clients"] for s in get_json(f"{twelve.url}/api/streams")["streams"]]

    # Another tab in front: the wall's tab is hidden and asks for no frames.
    driver.switch_to.new_window("tab")
    driver.get("about:blank")
    wait_until(lambda: clients() == [0] * 12, 5, message="no stream with a client while the tab is hidden")

    # Back in front: every tile streams again.
    driver.switch_to.window(wall_tab)
    back_at = max(t["capturedAt"] for t in tiles(driver))
    wait_until(lambda: clients() == [1] * 12, 5, message="every stream with one client again")
    wait_until(lambda: all(t["status"] == "live" and t["capturedAt"] > back_at for t in tiles(driver)), 10,
               message="every tile live again")
