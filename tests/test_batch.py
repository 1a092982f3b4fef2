"""Batch editing (`python -m lib_diffdiff.run <family> --batch ...`) on tiny random-weight pipelines.

A folder of a dozen pictures, two of them bad (an unreadable file, and a map of another aspect
refused by --same-aspect), edited in this process, resumed after an interruption, and split over two
processes by `accelerate launch`.
"""

import io
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tiny_pipelines as tiny
import torch
from PIL import Image

from lib_diffdiff import run
from lib_diffdiff.batch import infotext, list_pairs, same_aspect
from lib_diffdiff.maps import fit_to_image, map_hash, read_map
from lib_diffdiff.params import Settings
from lib_diffdiff.runners import DeepFloydIF, Kandinsky22, StableDiffusion, StableDiffusionXL

ROOT = Path(__file__).resolve().parents[1]
HEIGHT, WIDTH = 24, 32
GOOD = [f"p{index:02d}" for index in range(10)]
BAD = {"broken": "image: the PNG data is corrupt", "wide_map": "another aspect ratio"}
SETTINGS = ["--prompt", "a cat", "--negative-prompt", "dog, blurry", "--steps", "3", "--strength", "0.9", "--seed", "5", "--same-aspect"]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def sd_folder(tmp_path_factory):
    return tiny.saved_stable_diffusion(tmp_path_factory.mktemp("tiny-sd"))


def picture(seed, height=HEIGHT, width=WIDTH):
    return Image.fromarray((np.random.default_rng(seed).random((height, width, 3)) * 255).astype(np.uint8))


def left_keep_map(height, width):
    gray = np.zeros((height, width), np.uint8)
    gray[:, : width // 2] = 255
    return Image.fromarray(gray)


@pytest.fixture
def folders(tmp_path):
    """images/ and maps/: ten good pairs (maps at half, full or double size, as JPEG or PNG) and the two bad ones."""
    images, maps = tmp_path / "images", tmp_path / "maps"
    images.mkdir()
    maps.mkdir()
    for index, stem in enumerate(GOOD):
        picture(index).save(images / f"{stem}.png")
        scale = (0.5, 1, 2)[index % 3]
        left_keep_map(int(HEIGHT * scale), int(WIDTH * scale)).save(maps / f"{stem}.{'jpg' if index % 2 else 'png'}")
    (images / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    left_keep_map(HEIGHT, WIDTH).save(maps / "broken.png")
    picture(99).save(images / "wide_map.png")
    left_keep_map(HEIGHT, 3 * WIDTH).save(maps / "wide_map.png")
    (images / "notes.txt").write_text("not a picture: ignored")
    return images, maps, tmp_path / "out"


def batch_argv(sd_folder, folders):
    images, maps, out = folders
    return ["sd", "--batch", str(images), "--maps", str(maps), "--out", str(out), "--model", str(sd_folder), "--device", "cpu"]


def parameters(path):
    with Image.open(path) as image:
        return image.info["parameters"]


def test_a_folder_is_edited_pair_by_pair_as_one_edit_each_and_bad_pairs_are_reported(sd_folder, folders, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "accelerate", None)  # a single process needs no accelerate
    images, maps, out = folders
    assert run.main(batch_argv(sd_folder, folders) + SETTINGS) == 1
    printed = capsys.readouterr()
    assert sorted(path.name for path in out.iterdir()) == [f"{stem}.png" for stem in GOOD]
    assert "10 written, 0 skipped, 2 failed of 12 pairs" in printed.out
    for stem, reason in BAD.items():
        assert any(line.startswith(f"failed: {stem}.png: ") and reason in line for line in printed.out.splitlines()), stem

    runner = StableDiffusion.load(str(sd_folder), device="cpu", dtype=torch.float32)
    for stem, map_name in (("p03", "p03.jpg"), ("p04", "p04.png")):  # a map at full size, and one at double size
        expected = runner(images / f"{stem}.png", maps / map_name, "a cat", negative_prompt="dog, blurry", steps=3, strength=0.9, seed=5)
        assert np.array_equal(np.asarray(Image.open(out / f"{stem}.png")), np.asarray(expected)), stem
        digest = map_hash(fit_to_image(read_map(maps / map_name), WIDTH, HEIGHT))
        text = parameters(out / f"{stem}.png")
        assert text.startswith("a cat\nNegative prompt: dog, blurry\nSteps: 3, CFG scale: 7.5, Seed: 5, Size: 32x24, ")
        assert text.endswith(f"DiffDiff hinting: True, DiffDiff release: continuous, DiffDiff composite: True, DiffDiff fill: none, DiffDiff map: {digest}")
        for key, value in Settings(enabled=True).infotext().items():
            assert f"{key}: {value}" in text


def test_without_same_aspect_a_map_of_another_aspect_is_stretched(sd_folder, folders, capsys):
    images, maps, out = folders
    assert run.main([*batch_argv(sd_folder, folders), "--prompt", "a cat", "--steps", "2"]) == 1
    assert "11 written, 0 skipped, 1 failed of 12 pairs" in capsys.readouterr().out
    assert (out / "wide_map.png").is_file()


class InterruptedSave:
    """A result whose saving stops half-way, as when the process is killed while writing."""

    def __init__(self, image):
        self.image = image
        self.size = image.size

    def save(self, file, *args, **kwargs):
        encoded = io.BytesIO()
        self.image.save(encoded, *args, **kwargs)
        file.write(encoded.getvalue()[: len(encoded.getvalue()) // 2])
        raise KeyboardInterrupt


def test_an_interrupted_run_resumes_where_it_stopped(sd_folder, folders, capsys, monkeypatch):
    images, maps, out = folders
    argv = batch_argv(sd_folder, folders) + SETTINGS
    load = run.load_runner
    calls = []

    def load_interrupting(args):
        runner = load(args)

        def interrupting(*call_args, **kwargs):
            calls.append(call_args[0])
            image = runner(*call_args, **kwargs)
            return InterruptedSave(image) if len(calls) == 5 else image

        return interrupting

    monkeypatch.setattr(run, "load_runner", load_interrupting)
    with pytest.raises(KeyboardInterrupt):
        run.main(argv)
    first = {path.name: path.stat() for path in out.glob("*.png")}
    assert sorted(first) == [f"{stem}.png" for stem in GOOD[:4]]  # p04 was being written: it is not there, not even in part
    monkeypatch.setattr(run, "load_runner", load)
    capsys.readouterr()

    assert run.main(argv) == 1
    assert "6 written, 4 skipped, 2 failed of 12 pairs" in capsys.readouterr().out
    assert sorted(path.name for path in out.iterdir()) == [f"{stem}.png" for stem in GOOD]  # no partial file left behind
    for name, stat in first.items():
        assert (out / name).stat().st_mtime_ns == stat.st_mtime_ns, name
    with Image.open(out / "p04.png") as image:
        image.load()
        assert image.info["parameters"].startswith("a cat\n")


def test_bad_folders_are_refused_before_anything_loads(folders, capsys, monkeypatch):
    images, maps, out = folders
    monkeypatch.setattr(run, "load_runner", lambda args: pytest.fail("loaded weights"))
    common = ["--prompt", "x", "--device", "cpu"]
    cases = [
        (["--batch", str(images / "none"), "--maps", str(maps), "--out", str(out)], "--batch: no such folder"),
        (["--batch", str(images), "--maps", str(maps / "none"), "--out", str(out)], "--maps: no such folder"),
        (["--batch", str(images), "--map", str(maps / "none.png"), "--out", str(out)], "--map: no such file"),
        (["--batch", str(images), "--maps", str(maps), "--out", str(images)], "--out: must not be the --batch folder"),
        (["--batch", str(images), "--maps", str(maps), "--out", str(images / "p00.png")], "--out: with --batch, --out is a folder"),
        (["--batch", str(maps.parent), "--maps", str(maps), "--out", str(out)], "--batch: no pictures"),
        (["--image", str(images / "p00.png"), "--maps", str(maps), "--out", str(out)], "--maps: only with --batch"),
    ]
    for argv, message in cases:
        assert run.main(["sd", *argv, *common]) == 2, message
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit, match="2"):  # numbers are the parser's to refuse, batch or not
        run.main(["sd", "--batch", str(images), "--maps", str(maps), "--out", str(out), "--strength", "2", *common])
    assert "--strength: must be a finite number above 0 and at most 1" in capsys.readouterr().err


def test_pairs_match_by_stem_and_name_what_is_missing_or_ambiguous(tmp_path):
    images, maps = tmp_path / "images", tmp_path / "maps"
    images.mkdir()
    maps.mkdir()
    for name in ("a.jpg", "b.png", "c.png", "d.png", "d.webp"):
        picture(0).save(images / name)
    for name in ("a.png", "b.png", "c.png", "c.jpg"):
        picture(0).save(maps / name)
    pairs = {pair.image.name: pair for pair in list_pairs(images, tmp_path / "out", maps)}
    assert pairs["a.jpg"].change_map == maps / "a.png" and pairs["a.jpg"].out == tmp_path / "out" / "a.png"
    assert pairs["b.png"].problem is None
    assert "several maps named c.*: c.jpg, c.png" in pairs["c.png"].problem
    assert "d.png and d.webp would both be written to d.png" in pairs["d.webp"].problem
    assert all(pair.change_map == maps / "a.png" for pair in list_pairs(images, tmp_path / "out", one_map=maps / "a.png"))


def test_aspect_ratios_agree_up_to_whole_pixel_rounding():
    assert same_aspect((1000, 750), (333, 250)) and same_aspect((333, 250), (1000, 750))
    assert not same_aspect((1000, 750), (340, 250))
    assert not same_aspect((32, 24), (96, 24))


@pytest.mark.parametrize("family", ["kandinsky", "if", "sdxl"])
def test_every_family_edits_a_batch_with_its_own_settings(family, tmp_path, monkeypatch, capsys):
    """The other families, with their own flags, on runners built in this process (SD above loads from a folder)."""
    images, maps, out = tmp_path / "images", tmp_path / "maps", tmp_path / "out"
    images.mkdir()
    maps.mkdir()
    size = (64, 64) if family == "kandinsky" else (WIDTH, HEIGHT)
    for index in range(2):
        picture(index, size[1], size[0]).save(images / f"q{index}.png")
        left_keep_map(size[1], size[0]).save(maps / f"q{index}.png")
    if family == "kandinsky":
        decoder, _ = tiny.kandinsky_22()
        runner = Kandinsky22(decoder, tiny.kandinsky_22_prior(tmp_path / "prior"))
        extra, keys = ["--prior-steps", "2"], "Prior model: kandinsky-community/kandinsky-2-2-prior, Prior steps: 2"
    elif family == "if":
        stage_1, stage_2, _ = tiny.deepfloyd_if(tmp_path / "t5")
        runner = DeepFloydIF(stage_1, stage_2)
        extra, keys = ["--stage-2-steps", "2", "--noise-level", "100"], "Stage 2 steps: 2, Noise level: 100"
    else:
        runner = StableDiffusionXL(tiny.stable_diffusion_xl(tmp_path / "clip")[0])
        extra, keys = [], "CFG scale: 5.0, Seed: 0, Size: 32x24, Model: stabilityai/stable-diffusion-xl-base-1.0"
    monkeypatch.setattr(run, "load_runner", lambda args: runner)
    argv = [family, "--batch", str(images), "--maps", str(maps), "--out", str(out), "--prompt", "a cat", "--steps", "2", *extra]
    assert run.main([*argv, "--device", "cpu"]) == 0
    assert "2 written, 0 skipped, 0 failed of 2 pairs" in capsys.readouterr().out
    expected = run.edit(runner, run.build_parser().parse_args(argv), images / "q1.png", maps / "q1.png")
    assert np.array_equal(np.asarray(Image.open(out / "q1.png")), np.asarray(expected))
    assert keys in parameters(out / "q1.png")


def test_infotext_quotes_values_that_would_split_it():
    args = run.build_parser().parse_args(["sd", "--batch", "i", "--map", "m", "--out", "o", "--prompt", "p", "--model", "C:/models, new"])
    assert 'Model: "C:/models, new"' in infotext(args, (8, 8), "0123456789")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_accelerate_splits_the_pairs_over_two_processes_and_writes_each_once(sd_folder, folders):
    """Two CPU processes through accelerate's torchrun launcher; `--cpu` alone would start only one (it needs MPI for more)."""
    images, maps, out = folders
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1"]
    launch += ["--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()), "-m", "lib_diffdiff.run"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HOME": str(out.parent / "hf"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [*launch, *batch_argv(sd_folder, folders), *SETTINGS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode != 0, "two pairs failed, so the launch must fail"
    assert "10 written, 0 skipped, 2 failed of 12 pairs (2 processes;" in done.stdout, done.stdout + done.stderr[-3000:]
    for stem in BAD:
        assert done.stdout.count(f"failed: {stem}.png: ") == 1
    assert sorted(path.name for path in out.iterdir()) == [f"{stem}.png" for stem in GOOD]
    assert "process 0" in done.stderr and "process 1" in done.stderr  # a progress bar per process
