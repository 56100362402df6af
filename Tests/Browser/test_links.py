"""Signed links on the page: with --link-key-file each tile's embed box offers "copy embed link",
which makes a link through POST /api/links and copies it (or shows it to copy by hand); without a
key the control stays hidden."""

from __future__ import annotations

import urllib.request

from conftest import console_errors, test_pattern, tiles, wait_until

STREAMS = {"cam": test_pattern("ball"), "yard": test_pattern("snow")}


def test_copy_embed_link_makes_a_link_the_server_opens(browser_factory, framecast_factory, tmp_path):
    server = framecast_factory(STREAMS, extra=["--link-key-file", str(tmp_path / "link.key")])
    driver = browser_factory()
    driver.get(f"{server.url}/")
    wait_until(lambda: len(tiles(driver)) == 2, 20, message="two tiles")
    tile = "article.tile[data-stream='yard']"
    wait_until(lambda: driver.execute_script(f"return !document.querySelector(\"{tile} .embed-link\").hidden"), 10,
               message="the link control shown once /api/streams says links: true")
    driver.execute_script(f"document.querySelector(\"{tile} .tile-embed\").click()")
    driver.execute_script(f"document.querySelector(\"{tile} .copy-link\").click()")

    # Copied (the button says so) or, where the clipboard refuses, shown in the field: the URL is
    # in the field's value either way.
    url = wait_until(lambda: driver.execute_script(f"return document.querySelector(\"{tile} .link-field\").value"), 10,
                     message="a link made")
    assert url.startswith(f"{server.url}/stream/yard?token=v1."), url
    shown = driver.execute_script(f"return !document.querySelector(\"{tile} .link-field\").hidden")
    copied = driver.execute_script(f"return document.querySelector(\"{tile} .copy-link\").textContent") == "copied ✓"
    assert shown or copied

    request = urllib.request.Request(url, method="HEAD")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("multipart/x-mixed-replace")
    assert not console_errors(driver)


def test_without_a_key_there_is_no_link_control(browser_factory, framecast_factory):
    server = framecast_factory(STREAMS)
    driver = browser_factory()
    driver.get(f"{server.url}/")
    wait_until(lambda: len(tiles(driver)) == 2, 20, message="two tiles")
    assert driver.execute_script("return [...document.querySelectorAll('.embed-link')].every(box => box.hidden)")
