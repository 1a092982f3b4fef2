"""The stand-in page loads our scripts wherever the checkout lies, and says at once when it cannot."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import launched_page
from standin_page import HEAD_SCRIPTS, head_script_routes
from user import User


def test_the_page_loads_our_scripts_from_a_checkout_under_a_dot_folder(tmp_path, browser):
    hidden = tmp_path / ".cache" / "checkout"
    hidden.mkdir(parents=True)
    copies = []
    for script in HEAD_SCRIPTS:
        copy = hidden / script.name
        copy.write_bytes(script.read_bytes())
        copies.append(copy)
    routes = head_script_routes(copies)
    with launched_page(list(routes), routes) as url:
        User(browser, url).open()
        assert browser.execute_script("return typeof diffdiffDrawPreview") == "function"


def test_a_page_that_cannot_load_our_scripts_fails_at_once_naming_the_http_status(tmp_path, browser):
    # gradio 3.41's file= route refuses every path through a dot folder: the way the page once failed
    hidden = tmp_path / ".cache" / "differential_diffusion.js"
    hidden.parent.mkdir()
    hidden.write_bytes(HEAD_SCRIPTS[-1].read_bytes())
    with launched_page([f"file={hidden}"], allowed_paths=[str(hidden)]) as url:
        started = time.monotonic()
        with pytest.raises(AssertionError, match=r"cannot load its scripts: .*differential_diffusion\.js answered HTTP 403"):
            User(browser, url).open()
        assert time.monotonic() - started < 30
