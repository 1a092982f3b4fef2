"""The command lines: every bad input is refused before any weights load, in one line naming its flag;
every flag shows its help and default; the console scripts point at the commands."""

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import lib_diffdiff.run as run_cli
from lib_diffdiff.__main__ import build_parser as tools_parser
from lib_diffdiff.__main__ import main as tools_main
from lib_diffdiff.run import build_parser as runner_parser
from lib_diffdiff.run import default_device
from lib_diffdiff.runners import RUNNERS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def files(tmp_path, monkeypatch):
    """A readable image and map, and a loader that fails the test if anything reaches it."""
    Image.fromarray(np.full((16, 16, 3), 128, np.uint8)).save(tmp_path / "in.png")
    Image.fromarray(np.full((16, 16), 200, np.uint8)).save(tmp_path / "map.png")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "dir.png").mkdir()

    def no_loading(args):
        raise AssertionError("weights were loaded before the input was checked")

    monkeypatch.setattr(run_cli, "load_runner", no_loading)
    return tmp_path


def runner_args(folder, *extra, family="sd"):
    return [family, "--image", str(folder / "in.png"), "--map", str(folder / "map.png"), "--prompt", "x", "--out", str(folder / "o.png"), *extra]


def refused(argv, capsys) -> str:
    """Run the runner CLI on bad input; its status must be 2 and its stderr one line, which is returned."""
    try:
        status = run_cli.main(argv)
    except SystemExit as exit_:  # argparse's own refusals
        status = exit_.code
    error = capsys.readouterr().err.strip()
    assert status == 2
    assert len(error.splitlines()) == 1, error
    assert "Traceback" not in error
    return error


@pytest.mark.parametrize(
    ("extra", "flag", "says"),
    [
        (["--strength", "1.5"], "--strength", "at most 1, got '1.5'"),
        (["--strength", "0"], "--strength", "above 0"),
        (["--strength", "half"], "--strength", "must be a number, got 'half'"),
        (["--strength", "nan"], "--strength", "finite"),
        (["--strength", "0.01"], "--strength", "leaves no step to run"),
        (["--steps", "0"], "--steps", "at least 1, got 0"),
        (["--steps", "2.5"], "--steps", "whole number"),
        (["--guidance", "-1"], "--guidance", "at least 0"),
        (["--map-blur", "-2"], "--map-blur", "at least 0"),
        (["--convention", "black keeps"], "--convention", "invalid choice"),
        (["--dtype", "float8"], "--dtype", "invalid choice"),
        (["--seed", "x"], "--seed", "must be a whole number, got 'x'"),
        (["--seed", "-1"], "--seed", "must be at least 0, got -1"),
        (["--device", "gpu"], "--device", "not a torch device: 'gpu'"),
        (["--model", "./no-such-folder"], "--model", "no such folder: ./no-such-folder"),
    ],
)
def test_bad_runner_values_are_refused_before_loading(files, capsys, extra, flag, says):
    error = refused(runner_args(files, *extra), capsys)
    assert flag in error and says in error


@pytest.mark.parametrize(
    ("family", "extra", "flag", "says"),
    [
        ("if", ["--noise-level", "1000"], "--noise-level", "at most 999"),
        ("if", ["--stage-2-steps", "0"], "--stage-2-steps", "at least 1"),
        ("if", ["--stage-2-model", "../../nowhere"], "--stage-2-model", "no such folder"),
        ("kandinsky", ["--prior-steps", "-3"], "--prior-steps", "at least 1"),
    ],
)
def test_bad_family_values_are_refused_before_loading(files, capsys, family, extra, flag, says):
    error = refused(runner_args(files, *extra, family=family), capsys)
    assert flag in error and says in error


def test_bad_files_are_refused_before_loading(files, capsys):
    argv = runner_args(files)
    missing = [*argv[:2], str(files / "none.png"), *argv[3:]]
    assert "--image: no such file" in refused(missing, capsys)
    not_an_image = [*argv[:4], str(files / "notes.txt"), *argv[5:]]
    assert f"--map: {files / 'notes.txt'}: the data is not an image" in refused(not_an_image, capsys)
    model_file = runner_args(files, "--model", str(files / "notes.txt"))
    assert "--model" in refused(model_file, capsys)
    for out, says in (("o.xyz", "unknown image format '.xyz'"), ("notes.txt/o.png", "is a file, not a folder"), ("dir.png", "is a folder")):
        assert says in refused([*argv[:-1], str(files / out)], capsys)


def test_a_map_over_the_pixel_cap_is_refused_from_its_header_before_loading(files, capsys):
    """The CLI once accepted an 81 MP map; it now meets the API's cap, named by its flag."""
    from test_maps import png_claiming

    (files / "huge.png").write_bytes(png_claiming(9000, 9000))
    argv = runner_args(files)
    error = refused([*argv[:4], str(files / "huge.png"), *argv[5:]], capsys)
    assert f"--map: {files / 'huge.png'}: is larger than the limit of 67108864 pixels: its header says 9000x9000" in error


def test_missing_required_flags_are_named(files, capsys):
    image = str(files / "in.png")
    assert "required: --prompt, --out" in refused(["sd", "--image", image], capsys)
    assert "one of the arguments --map --maps is required" in refused(["sd", "--image", image, "--prompt", "p", "--out", "o.png"], capsys)
    assert "one of the arguments --image --batch is required" in refused(["sd", "--map", image, "--prompt", "p", "--out", "o.png"], capsys)


def test_a_device_the_machine_lacks_is_refused(files, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert "--device: cuda: this machine has no CUDA device; use cpu" in refused(runner_args(files, "--device", "cuda"), capsys)
    assert "--device: mps: MPS is not available" in refused(runner_args(files, "--device", "mps"), capsys)


def test_the_device_defaults_to_what_the_machine_has(monkeypatch):
    for cuda, mps, expected in ((True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")):
        monkeypatch.setattr(torch.cuda, "is_available", lambda cuda=cuda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda mps=mps: mps)
        assert default_device() == expected


def test_good_input_reaches_the_loader_with_the_machines_device(files, monkeypatch):
    reached = []
    monkeypatch.setattr(run_cli, "run", lambda args: reached.append(args) or args.out)
    assert run_cli.main(runner_args(files, "--steps", "1")) == 0
    assert reached[0].device == default_device() and reached[0].model == RUNNERS["sd"].default_model


def test_missing_runner_packages_are_named(files, capsys, monkeypatch):
    real_find_spec = run_cli.importlib.util.find_spec
    monkeypatch.setattr(run_cli.importlib.util, "find_spec", lambda name: None if name == "diffusers" else real_find_spec(name))
    assert "need diffusers: pip install -r requirements-runners.txt" in refused(runner_args(files), capsys)


def subcommand_parsers(parser):
    """Every parser below `parser`, itself included."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from subcommand_parsers(child)


@pytest.mark.parametrize("parser", [runner_parser(), tools_parser()], ids=["diffdiff-run", "diffdiff"])
def test_every_flag_has_help_and_shows_its_default(parser):
    for command in subcommand_parsers(parser):
        for action in command._actions:
            if not action.option_strings or action.dest == "help":
                continue
            flag = f"{command.prog} {action.option_strings[0]}"
            assert action.help, f"{flag} has no help"
            shown = command._get_formatter()._get_help_string(action) % {"default": action.default}
            required = action.required or any(action in group._group_actions for group in command._mutually_exclusive_groups if group.required)
            assert required or "default" in shown, f"{flag} shows no default"
            assert "(default: None)" not in shown, f"{flag} shows no real default"


def test_model_help_names_each_familys_default_model():
    for command in subcommand_parsers(runner_parser()):
        if command.prog != "diffdiff-run":
            model = next(action for action in command._actions if action.dest == "model")
            default = RUNNERS[command.prog.split()[-1]].default_model
            assert model.default == default and f"(default: {default})" in command._get_formatter()._get_help_string(model) % vars(model)


def test_bad_demo_flags_are_refused(capsys):
    for argv, says in ((["--steps", "1"], "argument --steps: must be at least 2"), (["--seed", "-1"], "argument --seed: must be at least 0")):
        with pytest.raises(SystemExit) as exit_:
            tools_main(["demo", *argv])
        error = capsys.readouterr().err.strip()
        assert exit_.value.code == 2 and says in error and len(error.splitlines()) == 1


def test_demo_into_an_unwritable_place_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    failed = subprocess.run(
        [sys.executable, "-m", "lib_diffdiff", "demo", "--out", str(tmp_path / "file" / "demo")], cwd=ROOT, capture_output=True, text=True
    )
    assert failed.returncode == 2
    assert failed.stderr.strip() == f"diffdiff: error: --out: {tmp_path / 'file'} is a file, not a folder"


def test_a_write_that_fails_late_is_one_line(tmp_path, capsys, monkeypatch):
    import lib_diffdiff.__main__

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(lib_diffdiff.__main__, "write_demo", full_disk)
    assert tools_main(["demo", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == "diffdiff: error: --out: cannot write: [Errno 28] No space left on device"


def test_bench_flags_are_checked_before_it_runs(tmp_path, capsys):
    for argv, says in (
        (["--images", "0"], "argument --images: must be at least 1, got 0"),
        (["--steps", "0"], "argument --steps: must be at least 1, got 0"),
        (["--schedule", "exponential"], "argument --schedule: invalid choice: 'exponential'"),
        (["--seed", "-5"], "argument --seed: must be at least 0, got -5"),
        (["--out", str(tmp_path / "plot.svg")], "--out: unknown image format '.svg'"),
    ):
        try:
            status = tools_main(["bench", "reliability", *argv])
        except SystemExit as exit_:
            status = exit_.code
        error = capsys.readouterr().err.strip()
        assert status == 2 and says in error and len(error.splitlines()) == 1


def test_console_scripts_point_at_the_commands():
    tomllib = pytest.importorskip("tomllib")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"diffdiff": "lib_diffdiff.__main__:main", "diffdiff-run": "lib_diffdiff.run:main"}
    readme = (ROOT / "README.md").read_text()
    assert "pip install -e ." in readme and ".venv/bin/diffdiff demo --out demo-out" in readme
