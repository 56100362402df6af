"""The server stops and comes back on the same port: the page recovers by itself, no reload."""

from __future__ import annotations

import time

from conftest import image_print, test_pattern, tiles, wait_until

STREAMS = {"a": test_pattern("smpte"), "b": test_pattern("ball"), "c": test_pattern("pinwheel")}


def test_wall_and_single_view_recover_after_server_restart(browser_factory, framecast_factory):
    server = framecast_factory(STREAMS)
    driver = browser_factory()
    driver.get(f"{server.url}/")
    driver.execute_script("window.__sameDocument = true")  # gone if the page reloads

    def all_live(since=0.0):
        shown = tiles(driver)
        return len(shown) == 3 and all(t["status"] == "live" and t["capturedAt"] > since for t in shown) and shown

    wait_until(all_live, 20, message="3 live tiles")

    # Server gone: every tile says so.
    server.stop()
    wait_until(lambda: all(t["status"] == "reconnecting" for t in tiles(driver)), 10,
               message="every tile 'reconnecting'")
    assert driver.execute_script("return [...document.querySelectorAll('.tile-overlay')].every(o => !o.hidden && o.textContent.includes('reconnecting'))")

    # Back on the same port: the tiles show new frames again by themselves.
    restarted_at = time.time()
    server.start()
    wait_until(lambda: all_live(restarted_at), 30, message="every tile live again with frames from the new server")
    assert driver.execute_script("return window.__sameDocument === true"), "the page was reloaded"

    # The single view (plain MJPEG <img>) recovers too.
    driver.execute_script("location.hash = '#/view/b'")
    wait_until(lambda: image_print(driver, "#live") is not None, 15, message="the single view's picture")
    before = image_print(driver, "#live")
    wait_until(lambda: image_print(driver, "#live") != before, 5, message="the single view's picture to change")

    server.stop()
    wait_until(lambda: driver.execute_script(
        "return document.getElementById('singleBadge').textContent === 'reconnecting' && "
        "document.getElementById('viewer').classList.contains('offline')"), 10,
        message="the single view 'reconnecting'")
    server.start()
    wait_until(lambda: driver.execute_script(
        "return !document.getElementById('viewer').classList.contains('offline')"), 30,
        message="the single view back online")
    frozen = image_print(driver, "#live")
    wait_until(lambda: image_print(driver, "#live") != frozen, 15, message="the single view's picture to move again")
    assert driver.execute_script("return window.__sameDocument === true"), "the page was reloaded"

    # Back to the wall: it resumes too.
    driver.execute_script("location.hash = '#/'")
    back_at = time.time()
    wait_until(lambda: all_live(back_at), 15, message="the wall live again")


def test_failing_stream_tile_shows_reconnecting_and_recovers(browser_factory, framecast_factory):
    """A pipeline that ends after 1 s of frames is restarted by the server (after 1 s, 2 s, 4 s …):
    its tile says so, then shows the new run's frames, by itself."""
    flaky = test_pattern("ball").replace("is-live=true", "is-live=true num-buffers=10")
    server = framecast_factory({"steady": test_pattern("smpte"), "flaky": flaky})
    driver = browser_factory()
    driver.get(f"{server.url}/")

    def tile(name):
        return next((t for t in tiles(driver) if t["name"] == name), None)

    wait_until(lambda: tile("flaky") and tile("flaky")["status"] == "live", 15, message="flaky live")
    failing = wait_until(lambda: tile("flaky")["status"] in ("restarting", "no signal") and tile("flaky"), 20,
                         message="the failing stream's tile to say so")
    assert driver.execute_script(
        "const o = document.querySelector('.tile[data-stream=\"flaky\"] .tile-overlay');"
        "return !o.hidden && o.textContent.includes('reconnecting')"), failing
    wait_until(lambda: tile("flaky")["status"] == "live" and tile("flaky")["capturedAt"] > failing["capturedAt"], 20,
               message="the flaky tile live again with new frames")
    assert tile("steady")["status"] == "live"
