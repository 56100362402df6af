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


def test_a_signed_link_paints_on_another_sites_page_without_a_prompt(browser_factory, framecast_factory, tmp_path):
    """A wiki or dashboard on another origin embeds <img src="...?token=...">: with --auth on, the
    signed stream paints, and the same stream without a token (which would need a password) stays
    blank: no prompt, no credentials in the page."""
    import subprocess

    from conftest import FRAMECAST_BIN
    from test_https import PageServer

    key = tmp_path / "link.key"
    server = framecast_factory(STREAMS, extra=["--auth", "viewer:secret", "--link-key-file", str(key)])
    made = subprocess.run([str(FRAMECAST_BIN), "link", "cam", "--link-key-file", str(key), "--ttl", "1h"],
                          capture_output=True, text=True, timeout=20, check=True)
    path = made.stdout.strip()
    assert path.startswith("/stream/cam?token=v1."), made
    pages_folder = tmp_path / "pages"
    pages_folder.mkdir()
    pages = PageServer(pages_folder)
    try:
        (pages_folder / "wiki.html").write_text(f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Printer</title><link rel="icon" href="data:,"></head>
<body><img id="signed" src="{server.url}{path}"><img id="plain" src="{server.url}/stream/yard"></body></html>
""")
        driver = browser_factory(page_load="eager")
        driver.get(f"{pages.origin}/wiki.html")
        width = lambda name: driver.execute_script(f"return document.getElementById('{name}').naturalWidth")  # noqa: E731
        wait_until(lambda: width("signed") > 0, 20, message="the signed stream painted on the other site's page")
        assert width("plain") == 0, "a stream without a token paints nothing for a server with --auth"
        assert driver.current_url == f"{pages.origin}/wiki.html"
    finally:
        pages.stop()
