"""The reliability benchmark, end to end at a small size."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from lib_diffdiff.bench import METHODS, reliability

ROOT = Path(__file__).resolve().parents[1]


def test_bench_command_prints_r_for_every_method_and_writes_the_plot(tmp_path):
    plot = tmp_path / "plots" / "trends.png"
    command = [sys.executable, "-m", "lib_diffdiff", "bench", "reliability", "--images", "4", "--steps", "8", "--out", str(plot)]
    printed = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    scores = {name: float(score) for name, score in re.findall(r"^\| (.+?) \| (-?\d\.\d{3}) \|$", printed, re.MULTILINE)}
    assert list(scores) == list(METHODS)
    assert scores["Differential Diffusion"] > 0.9
    assert scores["Differential Diffusion"] > scores["img2img, strength 0.5"] + 0.3
    assert scores["Differential Diffusion"] > scores["img2img, binary mask"]  # a step is no linear trend
    with Image.open(plot) as picture:
        assert picture.format == "PNG" and picture.width > picture.height > 300


def test_trends_have_one_value_per_column_and_the_table_one_row_per_method():
    result = reliability(images=1, steps=4, size=16, methods={"Differential Diffusion": METHODS["Differential Diffusion"]})
    assert result.trends["Differential Diffusion"].shape == (16,)
    assert result.table().splitlines()[2].startswith("| Differential Diffusion | ")


def test_bad_benchmark_sizes_are_refused():
    with pytest.raises(ValueError, match="--images"):
        reliability(images=0)
    failed = subprocess.run(
        [sys.executable, "-m", "lib_diffdiff", "bench", "reliability", "--steps", "1"], cwd=ROOT, capture_output=True, text=True
    )
    assert failed.returncode == 2 and "--steps >= 2" in failed.stderr
