"""The offline demo writes its pictures, and they show the map at work."""

import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def test_demo_command_writes_input_map_and_output(tmp_path):
    out = tmp_path / "demo"
    subprocess.run([sys.executable, "-m", "lib_diffdiff", "demo", "--out", str(out), "--steps", "12"], cwd=ROOT, check=True)
    pictures = {
        name: np.asarray(Image.open(out / name).convert("RGB"), dtype=np.float32)
        for name in ("input.png", "map.png", "output.png", "plain_img2img.png")
    }
    change = np.abs(pictures["output.png"] - pictures["input.png"]).mean(axis=(0, 2))  # per column
    thirds = np.array_split(change, 3)
    assert thirds[0].mean() < thirds[1].mean() < thirds[2].mean()  # white keeps (left), black changes (right)
    assert change[0] == 0.0  # the fully white column is kept exactly


def test_demo_writes_the_strength_fan_and_the_trend_plot(tmp_path):
    out = tmp_path / "demo"
    subprocess.run([sys.executable, "-m", "lib_diffdiff", "demo", "--out", str(out), "--steps", "8"], cwd=ROOT, check=True)
    fan = np.asarray(Image.open(out / "strength_fan.png"), dtype=np.int64)
    assert sorted((255 - np.unique(fan)).tolist()) == [0, 51, 102, 153, 204, 255]  # change 0, 0.2, ..., 1 with white keeps
    with Image.open(out / "strength_fan_output.png") as labelled, Image.open(out / "input.png") as picture:
        assert labelled.width == 3 * picture.width  # enlarged so the labels can be read
    with Image.open(out / "trends.png") as plot:
        assert plot.format == "PNG" and plot.width > plot.height


def test_readme_and_ci_run_the_same_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = ".venv/bin/python -m pytest"
    assert ci.strip().endswith(command)
    assert command in readme
