"""The reliability benchmark, end to end at a small size."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from lib_diffdiff.lab.bench import METHODS, reliability
from lib_diffdiff.lab.plot import nice_ticks

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
    assert failed.returncode == 2 and "argument --steps: must be at least 2, got 1" in failed.stderr


def test_readme_shows_what_the_benchmark_measures():
    """The README's table is the default run's at 4, 8 and 20 steps (the commands it shows), and
    Differential Diffusion keeps its edge with few steps."""
    readme = (ROOT / "README.md").read_text()
    assert ".venv/bin/python -m lib_diffdiff bench reliability --out docs/trends.png" in readme
    assert "bench reliability --steps 4`, `--steps 8` and" in readme
    section = readme[readme.index("## Strength fan and the reliability score") :]
    assert "| method | R, 4 steps | R, 8 steps | R, 20 steps |" in section
    number = r"(-?\d\.\d{3})"
    rows = re.findall(rf"^\| (.+?) \| {number} \| {number} \| {number} \|$", section, re.MULTILINE)
    shown = {name: [float(score) for score in scores] for name, *scores in rows}
    measured = {steps: reliability(steps=steps).scores for steps in (4, 8, 20)}
    assert list(shown) == list(measured[20])
    for column, steps in enumerate((4, 8, 20)):
        for name, score in measured[steps].items():
            assert shown[name][column] == pytest.approx(score, abs=0.002), (name, steps)
    dd = {steps: scores["Differential Diffusion"] for steps, scores in measured.items()}
    assert dd[4] >= 0.97 and dd[4] > measured[4]["soft-inpainting blend"] and dd[4] > measured[4]["DD, stepped release"]
    assert dd[8] >= 0.98 and dd[20] >= 0.95
    assert (ROOT / "docs" / "trends.png").is_file()


def test_plot_ticks_are_round_and_cover_the_range():
    assert nice_ticks(0, 63) == [0, 20, 40, 60, 80]
    ticks = nice_ticks(-0.143, 0.006)
    assert ticks[0] <= -0.143 and ticks[-1] >= 0.006
    assert [round(tick, 6) for tick in ticks] == [-0.15, -0.1, -0.05, 0.0, 0.05]


def test_fill_bench_prints_every_fill_and_readme_shows_its_table():
    """`bench fill` is deterministic: README's table is what it prints; kept pixels are exact with every fill,
    and at denoising 0.5 noise fill changes the flat square more than no fill."""
    printed = subprocess.run([sys.executable, "-m", "lib_diffdiff", "bench", "fill"], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    rows = [line for line in printed.splitlines() if line.startswith("| ") and not line.startswith("| fill")]
    assert len(rows) == 3 * 3 * 2
    readme = (ROOT / "README.md").read_text()
    assert ".venv/bin/python -m\nlib_diffdiff bench fill" in readme or "python -m lib_diffdiff bench fill" in readme
    for row in rows:
        assert row in readme, row
        assert row.endswith("| 0 |"), row  # kept error
    change = {tuple(row.split(" | ")[:3]): float(row.split(" | ")[3]) for row in rows}
    assert change[("| noise", "0.5", "4")] > 1.5 * change[("| none", "0.5", "4")]
