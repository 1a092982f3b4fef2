"""The offline demo: one panel where the change visibly follows the map, and the README's pictures are
exactly what the documented command makes."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lib_diffdiff.lab.demo import (
    COMPOSITE_NAME,
    KARRAS,
    PANEL_NAME,
    SHOWN_STRENGTHS,
    STEP_COUNTS,
    STEPS_NAME,
    TRENDS_NAME,
    UNIFORM,
    make_pictures,
    step_count_pictures,
)

ROOT = Path(__file__).resolve().parents[1]


def pixels(picture) -> np.ndarray:
    return np.asarray(picture.convert("RGB"), dtype=np.float64)


def test_change_follows_the_map_and_the_fan_sectors_in_order():
    pictures = make_pictures()
    original = pixels(pictures["input"])
    change = np.abs(pixels(pictures["output"]) - original).mean(axis=(0, 2))  # per column
    full = np.abs(pixels(pictures["plain"]) - original).mean(axis=(0, 2))
    assert change[0] == 0.0  # the fully white column is kept exactly
    fifths = [part.mean() / whole.mean() for part, whole in zip(np.array_split(change, 5), np.array_split(full, 5))]
    assert all(later > earlier + 0.05 for earlier, later in zip(fifths, fifths[1:]))  # a ramp, not a step
    assert fifths[-1] > 0.9  # the black edge is edited as much as plain img2img edits it
    assert full[: len(full) // 5].mean() > 0.5 * full.mean()  # plain img2img changes the left edge too
    shares = pictures["sector_change"]
    assert shares[0] == 0.0 and shares[-1] > 0.99
    assert all(later > earlier + 0.04 for earlier, later in zip(shares, shares[1:]))  # every sector visibly more than the last
    shown = ", ".join(f"{100 * share:.0f}" for share in shares[:-1]) + f" and {100 * shares[-1]:.0f} %"
    assert f"({shown} for strengths 0 to 1" in " ".join((ROOT / "README.md").read_text().split())


def test_the_same_map_at_each_step_count_shows_what_few_step_models_get():
    """One step gives each strength its share; at 2 Karras steps strengths up to 1/2 change only a little
    (the last step barely changes a picture) while SGM Uniform keeps the map's range; README quotes the figures."""
    found = step_count_pictures()
    for (kind, steps), (_, shares) in found.items():
        assert shares == sorted(shares), (kind, steps)
    for kind in (KARRAS, UNIFORM):
        assert found[kind, 1][1] == pytest.approx(list(SHOWN_STRENGTHS), abs=0.02)
    assert found[KARRAS, 2][1][1] < 0.1 and found[UNIFORM, 2][1][1] > 0.5
    readme = (ROOT / "README.md").read_text()
    for kind, label in ((KARRAS, "Karras"), (UNIFORM, "SGM Uniform")):
        cells = " | ".join(" / ".join(f"{100 * share:.0f} %" for share in found[kind, steps][1]) for steps in STEP_COUNTS)
        assert f"| {label} | {cells} |" in readme


def test_demo_command_remakes_the_readme_pictures(tmp_path):
    """`diffdiff demo --out docs` is the README's one command for its pictures: they must match what it makes."""
    printed = subprocess.run(
        [sys.executable, "-m", "lib_diffdiff", "demo", "--out", str(tmp_path)], cwd=ROOT, check=True, capture_output=True, text=True
    )
    names = (PANEL_NAME, COMPOSITE_NAME, STEPS_NAME, TRENDS_NAME)
    assert printed.stdout.split() == [word for name in names for word in ("wrote", str(tmp_path / name))]
    assert all(bar in printed.stderr for bar in ("demo edits", "step counts", "reliability"))  # the progress bars
    readme = (ROOT / "README.md").read_text()
    assert ".venv/bin/diffdiff demo --out docs" in readme
    for name in names:
        assert f"(docs/{name})" in readme
        with Image.open(tmp_path / name) as made, Image.open(ROOT / "docs" / name) as shown:
            assert made.size == shown.size, name
            assert np.abs(pixels(made) - pixels(shown)).max() <= 1, f"docs/{name} is stale: remake it with diffdiff demo --out docs"


def test_readme_and_ci_run_the_same_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = ".venv/bin/python -m pytest"
    assert ci.strip().endswith(command)
    assert command in readme
