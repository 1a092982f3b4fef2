"""A user on the stand-in page, through Selenium: typing, clicking, uploading, and reading what the page shows."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import warnings

from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from lib_diffdiff.params import Setting

PREFIX = "diffdiff_img2img"
WAIT_S = 90  # every wait ends as soon as its condition holds; this limit only matters on a failure or an overloaded machine


class User:
    def __init__(self, driver, url: str):
        self.driver = driver
        self.url = url

    def open(self) -> None:
        """A fresh page (every control at its default) with our javascript loaded and the accordion open."""
        self.driver.get(self.url)
        unloadable = self.unloadable_scripts()
        assert not unloadable, "the page cannot load its scripts: " + "; ".join(unloadable)
        self.wait_for(lambda: self.driver.execute_script("return typeof diffdiffDrawPreview === 'function'"), "our javascript to load")
        self.wait_for(lambda: self.driver.find_elements(By.ID, f"{PREFIX}_source"), "the controls")
        self.driver.find_element(By.CSS_SELECTOR, f"#{PREFIX}_enabled .label-wrap").click()
        self.wait_for(lambda: self.find("source").is_displayed(), "the accordion to open")

    def unloadable_scripts(self) -> list[str]:
        """Each script in the page's head its server refuses, with the HTTP status; asked at once, not waited for."""
        sources = self.driver.execute_script("return Array.from(document.querySelectorAll('head script[src]'), s => s.src)")
        refused = []
        for source in sources:
            try:
                urllib.request.urlopen(source, timeout=WAIT_S).close()
            except urllib.error.HTTPError as error:
                refused.append(f"{source} answered HTTP {error.code}")
        return refused

    def wait_for(self, condition, what: str, timeout: float = WAIT_S):
        return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(lambda _: condition(), f"waited for {what}")

    def find(self, name: str):
        return self.driver.find_element(By.ID, f"{PREFIX}_{name}")

    # ---- typing and clicking ----

    def paste(self, text: str) -> None:
        """Type generation parameters into the prompt box and press "Read generation parameters"."""
        box = self.driver.find_element(By.CSS_SELECTOR, "#img2img_prompt textarea")
        box.click()
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(Keys.DELETE)
        box.send_keys(text)
        self.wait_for(lambda: box.get_property("value") == text, "the typed parameters")
        pastes = self.pastes()
        self.driver.find_element(By.ID, "img2img_paste").click()
        self.wait_for(lambda: self.pastes() > pastes, "the paste to land")

    def generate(self) -> str:
        """Press Generate and return the generation parameters (or error) the page shows.

        A press the page drops (twice in CI, after an upload, never on a rerun: no run started, so
        the run counter in the info stayed) is pressed once more, as a user would, with a warning
        in the test report; whatever the console said about it stays for the page's own check."""
        before = self.info()
        self.driver.find_element(By.ID, "img2img_generate").click()
        try:
            self.wait_for(lambda: self.info() != before, "the generation parameters", timeout=WAIT_S / 2)
        except TimeoutException:
            warnings.warn(f"Generate did nothing for {WAIT_S / 2:g} s; pressed again", stacklevel=2)
            self.driver.find_element(By.ID, "img2img_generate").click()
            self.wait_for(lambda: self.info() != before, "the generation parameters", timeout=WAIT_S / 2)
        return self.info()

    def info(self) -> str:
        return self.driver.find_element(By.CSS_SELECTOR, "#img2img_info textarea").get_property("value")

    def pastes(self) -> int:
        return int(self.driver.find_element(By.CSS_SELECTOR, "#img2img_pastes input").get_property("value") or 0)

    def set(self, setting: Setting, value) -> None:
        """Change one control the way a user does: click a choice, tick a box, type a number, pick from a list."""
        element = self.find(setting.name)
        if setting.kind is bool:
            box = element.find_element(By.CSS_SELECTOR, "input[type=checkbox]")
            if box.is_selected() != value:
                box.click()
        elif setting.kind is float:
            number = element.find_element(By.CSS_SELECTOR, "input[type=number]")
            number.click()
            number.send_keys(Keys.CONTROL, "a")
            number.send_keys(f"{value:g}", Keys.ENTER)
        elif element.find_elements(By.CSS_SELECTOR, "input[type=radio]"):
            element.find_element(By.CSS_SELECTOR, f"input[type=radio][value={json.dumps(value)}]").click()
        else:
            element.find_element(By.CSS_SELECTOR, "input").click()
            option = f"ul.options li[data-value={json.dumps(value)}]"
            self.wait_for(lambda: self.driver.find_elements(By.CSS_SELECTOR, option), f"the choice {value!r}")
            self.driver.find_element(By.CSS_SELECTOR, option).click()
        self.wait_for(lambda: self.value(setting) == value, f"{setting.name} to show {value!r}")

    def upload_map(self, path) -> None:
        """Choose `path` in the empty change map's file dialog."""
        element = self.find("map")
        assert not element.find_elements(By.CSS_SELECTOR, "img"), "clear the map first"
        element.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(path))
        self.wait_for(lambda: element.find_elements(By.CSS_SELECTOR, "img"), "the uploaded map to show")

    def clear_map(self) -> None:
        element = self.find("map")
        element.find_element(By.CSS_SELECTOR, "button[aria-label=Clear]").click()
        self.wait_for(lambda: not element.find_elements(By.CSS_SELECTOR, "img"), "the map to clear")

    # ---- reading ----

    def value(self, setting: Setting):
        """What one control shows: its ticked box, checked choice, number, or the text of its list."""
        return self.driver.execute_script(
            """
            const element = document.getElementById(arguments[0]);
            const radios = element.querySelectorAll("input[type=radio]");
            if (radios.length) return [...radios].find((radio) => radio.checked)?.value ?? null;
            const box = element.querySelector("input[type=checkbox]");
            if (box) return box.checked;
            const number = element.querySelector("input[type=number]");
            if (number) return parseFloat(number.value);
            return element.querySelector("input").value;
            """,
            f"{PREFIX}_{setting.name}",
        )

    def status(self) -> str:
        return self.find("paste_status").text

    def preview_reds(self, step: int) -> tuple[int, int, list]:
        """The preview canvas's size and the red level of every `step`-th pixel in both directions."""
        return self.driver.execute_script(
            """
            const canvas = document.getElementById(arguments[0]);
            if (canvas.style.display === "none" || !canvas.width) return null;
            const data = canvas.getContext("2d", {willReadFrequently: true}).getImageData(0, 0, canvas.width, canvas.height).data;
            const reds = [];
            for (let y = 0; y < canvas.height; y += arguments[1])
                for (let x = 0; x < canvas.width; x += arguments[1]) reds.push(data[4 * (y * canvas.width + x)]);
            return [canvas.width, canvas.height, reds];
            """,
            f"{PREFIX}_preview",
            step,
        )

    def preview_reads_frequently(self) -> bool:
        return self.driver.execute_script(
            "return document.getElementById(arguments[0]).getContext('2d').getContextAttributes().willReadFrequently",
            f"{PREFIX}_preview",
        )

    def console_problems(self) -> list:
        """Errors and warnings in the browser console since the last call."""
        return [entry for entry in self.driver.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
