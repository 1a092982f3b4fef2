"""One stand-in page server and one headless Chromium per test module.

Chromium and its driver come from Debian (`apt-get install chromium chromium-driver`); without
them these tests skip, except in CI (CI set), where they fail instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "webui_stub"))  # the stand-in `modules`

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,2400",
]


def _require_chromium() -> None:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        message = f"browser tests need {', '.join(missing)}: apt-get install chromium chromium-driver"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def launched_page(head_urls: list[str], routes: dict[str, Path] | None = None, allowed_paths: list[str] | None = None):
    """The stand-in page served on a free port with `head_urls` as scripts in its head; yields its URL."""
    _require_chromium()
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio.routes

    from standin_page import build_page, head_scripts_installed, serve_files

    demo, _ = build_page()
    original = gradio.routes.templates.TemplateResponse
    gradio.routes.templates.TemplateResponse = head_scripts_installed(original, head_urls)
    port = _free_port()
    try:
        demo.queue().launch(
            server_name="127.0.0.1",
            server_port=port,
            prevent_thread_lock=True,
            quiet=True,
            show_api=False,
            allowed_paths=allowed_paths,
        )
        serve_files(demo.server_app, routes or {})
        yield f"http://127.0.0.1:{port}/"
    finally:
        if demo.server is not None:
            # uvicorn otherwise waits for every open connection and task; a queue socket the closed
            # browser left behind once kept the whole test run waiting here
            demo.server.force_exit = True
        demo.close()
        gradio.routes.templates.TemplateResponse = original


@pytest.fixture(scope="module")
def page_url():
    from standin_page import HEAD_SCRIPTS, head_script_routes

    routes = head_script_routes(HEAD_SCRIPTS)
    with launched_page(list(routes), routes) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    _require_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="diffdiff-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


_outcomes: list[tuple[str, str]] = []


def pytest_runtest_logreport(report):
    if report.when == "call" or report.outcome != "passed":
        _outcomes.append((report.nodeid, f"{report.outcome} ({report.when})" if report.when != "call" else report.outcome))


def pytest_terminal_summary(terminalreporter):
    """Each browser test by name with its outcome, so a CI log shows that they ran (and did not skip)."""
    if _outcomes:
        terminalreporter.section("browser tests")
        for nodeid, outcome in _outcomes:
            terminalreporter.write_line(f"{outcome.upper()} {nodeid}")
