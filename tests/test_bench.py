"""The reliability benchmark, end to end at a small size."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from lib_diffdiff.__main__ import build_parser
from lib_diffdiff.lab.bench import METHODS, reliability
from lib_diffdiff.lab.demo import KARRAS, SCHEDULES, UNIFORM
from lib_diffdiff.lab.plot import nice_ticks

ROOT = Path(__file__).resolve().parents[1]


def printed_scores(printed: str) -> dict[str, float]:
    """R per method from the table `bench reliability` prints."""
    return {name: float(score) for name, score in re.findall(r"^\| (.+?) \| (-?\d\.\d{3}) \|$", printed, re.MULTILINE)}


def test_bench_command_prints_r_for_every_method_and_writes_the_plot(tmp_path):
    plot = tmp_path / "plots" / "trends.png"
    command = [sys.executable, "-m", "lib_diffdiff", "bench", "reliability", "--images", "4", "--steps", "8", "--out", str(plot)]
    printed = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    scores = printed_scores(printed)
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
    with pytest.raises(ValueError, match="--steps"):
        reliability(steps=0)
    with pytest.raises(ValueError, match="--schedule"):
        reliability(steps=2, schedule_kind="exponential")
    failed = subprocess.run(
        [sys.executable, "-m", "lib_diffdiff", "bench", "reliability", "--steps", "0"], cwd=ROOT, capture_output=True, text=True
    )
    assert failed.returncode == 2 and "argument --steps: must be at least 1, got 0" in failed.stderr


def test_command_offers_the_benchmarks_schedules():
    bench = build_parser().parse_args(["bench", "reliability"])
    assert bench.schedule == KARRAS
    for kind in SCHEDULES:
        assert build_parser().parse_args(["bench", "reliability", "--schedule", kind]).schedule == kind


@pytest.mark.parametrize("schedule_kind", SCHEDULES)
def test_one_step_gives_each_pixel_its_strengths_share_of_the_step(schedule_kind, tmp_path):
    """One-step models run: at 1 step Differential Diffusion and the soft blend both blend the one
    step's result with the picture by strength, so they score alike, and plain img2img runs its one step."""
    command = [sys.executable, "-m", "lib_diffdiff", "bench", "reliability", "--images", "4", "--steps", "1"]
    printed = subprocess.run(
        [*command, "--schedule", schedule_kind, "--out", str(tmp_path / "trends.png")], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    scores = printed_scores(printed)
    assert scores["Differential Diffusion"] > 0.99 and scores["Differential Diffusion"] == scores["soft-inpainting blend"]
    # the binary mask has 2 levels, the stepped rule only 0 or 1 step
    assert scores["Differential Diffusion"] > scores["img2img, binary mask"] > scores["DD, stepped release"]


README_STEPS = (1, 2, 3, 4, 8, 20)
README_TABLES = {KARRAS: "R by Karras step count", UNIFORM: "R by SGM Uniform step count"}


@pytest.fixture(scope="module")
def measured():
    """The default benchmark run at each step count of README's tables, on both schedules."""
    return {(kind, steps): reliability(steps=steps, schedule_kind=kind).scores for kind in SCHEDULES for steps in README_STEPS}


def test_readme_shows_what_the_benchmark_measures(measured):
    """README's two tables are the default run's at 1 to 20 steps on each schedule (the commands it shows)."""
    readme = (ROOT / "README.md").read_text()
    assert ".venv/bin/python -m lib_diffdiff bench reliability --out docs/trends.png" in readme
    assert "bench reliability\n--steps N` printed for N = 1, 2, 3, 4, 8, and 20" in readme and "`--schedule uniform`" in readme
    section = readme[readme.index("## Strength fan and the reliability score") :]
    number = r"(-?\d\.\d{3})"
    for kind, title in README_TABLES.items():
        table = section[section.index(f"| {title} | " + " | ".join(map(str, README_STEPS)) + " |") :].split("\n\n")[0]
        rows = re.findall(r"^\| (.+?) \| " + r" \| ".join([number] * len(README_STEPS)) + r" \|$", table, re.MULTILINE)
        shown = {name: [float(score) for score in scores] for name, *scores in rows}
        assert list(shown) == list(METHODS), kind
        for column, steps in enumerate(README_STEPS):
            for name, score in measured[kind, steps].items():
                assert shown[name][column] == pytest.approx(score, abs=0.002), (kind, name, steps)
    assert (ROOT / "docs" / "trends.png").is_file()


def test_differential_diffusion_keeps_its_edge_from_four_steps_and_one_step_ties(measured):
    karras = {steps: measured[KARRAS, steps] for steps in README_STEPS}
    dd = {steps: scores["Differential Diffusion"] for steps, scores in karras.items()}
    assert dd[1] == pytest.approx(karras[1]["soft-inpainting blend"], abs=1e-6)
    assert dd[3] > max(score for name, score in karras[3].items() if name != "Differential Diffusion")
    assert dd[4] >= 0.97 and dd[4] > karras[4]["soft-inpainting blend"] and dd[4] > karras[4]["DD, stepped release"]
    assert dd[8] >= 0.98 and dd[20] >= 0.95


def test_with_few_steps_sgm_uniform_serves_the_map_better_than_karras(measured):
    """README's advice: Karras's last step barely changes a picture, so at 2 and 3 steps the map keeps
    more of its range on SGM Uniform; with many steps Karras follows it more closely."""
    dd = {key: scores["Differential Diffusion"] for key, scores in measured.items()}
    assert dd[UNIFORM, 2] > dd[KARRAS, 2] + 0.05 and dd[UNIFORM, 3] > dd[KARRAS, 3] + 0.02
    assert dd[KARRAS, 20] > dd[UNIFORM, 20] + 0.02


@pytest.mark.xfail(strict=True, reason="Karras's last step barely changes a picture; docs/design-notes.md#few-steps")
def test_at_two_karras_steps_differential_diffusion_leads_every_baseline(measured):
    """The few-step goal, which the paper's rule on step boundaries prevents: at 2 steps a strength of 1/2
    gets only the last step, 0.087 of the full edit, so R stays near 0.90 against the soft blend's 0.959."""
    scores = measured[KARRAS, 2]
    dd = scores.pop("Differential Diffusion")
    assert dd >= 0.95 and dd >= max(scores.values())


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
