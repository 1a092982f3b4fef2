"""Batch editing: a folder of pictures and their change maps, on one process or many under `accelerate launch`.

    python -m lib_diffdiff.run sd --batch IMAGES_DIR --maps MAPS_DIR --out OUT_DIR --prompt TEXT ...
    accelerate launch --multi_gpu --num_processes 4 -m lib_diffdiff.run sd --batch ... (the same flags)

Pairs are matched by file stem, as the WebUI's batch tab matches masks (`cat.png` in MAPS_DIR for
`cat.jpg`), or `--map MAP` serves every picture. Everything the flags say is checked and the pairs
are listed before any weights load. Under accelerate every process lists the same pairs and takes
the share `PartialState.split_between_processes` gives it, so each pair belongs to exactly one
process. Results go to OUT_DIR/<stem>.png through a temporary name and a rename, so an output that
exists is complete: a rerun skips it. A pair that fails is reported with its file name and the run
goes on; the exit status is 1 when any pair failed.

Each PNG carries a `parameters` text chunk in the WebUI's infotext form (prompt, negative prompt,
then `Key: value` pairs), the Differential Diffusion keys and the map's hash included.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from . import runner_job
from .errors import SettingsError
from .maps import fit_to_image, map_hash, read_map
from .params import MAP_HASH_KEY

EXIT_FAILED_PAIRS = 1
EXIT_BAD_INPUT = 2
EXIT_NO_WEIGHTS = 3


class BatchError(ValueError):
    """The batch cannot start; the message names the flag at fault."""


@dataclass(frozen=True)
class Pair:
    """One picture, its map and where its result goes; `problem` says why it cannot be edited, if it cannot."""

    image: Path
    change_map: Path | None
    out: Path
    problem: str | None = None


def picture_files(folder: Path) -> list[Path]:
    """The files of `folder` that Pillow would read by their extension, by name; hidden files are left out."""
    extensions = {extension.lower() for extension in Image.registered_extensions()}
    return sorted(
        path for path in folder.iterdir() if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in extensions
    )


def list_pairs(images: Path, out: Path, maps: Path | None = None, one_map: Path | None = None) -> list[Pair]:
    """Every picture of `images` with its map (by stem from `maps`, or `one_map`) and its output `out/<stem>.png`."""
    maps_by_stem: dict[str, list[Path]] = {}
    for path in picture_files(maps) if maps is not None else ():
        maps_by_stem.setdefault(path.stem, []).append(path)
    pictures = picture_files(images)
    pictures_by_stem: dict[str, list[Path]] = {}
    for picture in pictures:
        pictures_by_stem.setdefault(picture.stem, []).append(picture)
    pairs = []
    for picture in pictures:
        problem = None
        change_map = one_map
        if maps is not None:
            found = maps_by_stem.get(picture.stem, [])
            change_map = found[0] if len(found) == 1 else None
            if not found:
                problem = f"no map named {picture.stem}.* in {maps}"
            elif len(found) > 1:
                problem = f"several maps named {picture.stem}.*: {', '.join(path.name for path in found)}"
        namesakes = pictures_by_stem[picture.stem]
        if len(namesakes) > 1:
            problem = f"{' and '.join(path.name for path in namesakes)} would both be written to {picture.stem}.png"
        pairs.append(Pair(picture, change_map, out / f"{picture.stem}.png", problem))
    return pairs


def check_folders(args) -> list[Pair]:
    """Check the batch flags against the file system and list the pairs; raises BatchError naming the flag."""
    if not args.batch.is_dir():
        raise BatchError(f"--batch: no such folder: {args.batch}")
    if args.maps is not None and not args.maps.is_dir():
        raise BatchError(f"--maps: no such folder: {args.maps}")
    if args.map is not None and not args.map.is_file():
        raise BatchError(f"--map: no such file: {args.map}")
    if args.out.exists() and not args.out.is_dir():
        raise BatchError(f"--out: with --batch, --out is a folder, and {args.out} is a file")
    for flag, folder in (("--batch", args.batch), ("--maps", args.maps)):
        if folder is not None and args.out.resolve() == folder.resolve():
            raise BatchError(f"--out: must not be the {flag} folder, whose files the results would replace")
    pairs = list_pairs(args.batch, args.out, args.maps, args.map)
    if not pairs:
        raise BatchError(f"--batch: no pictures in {args.batch}")
    return pairs


def same_aspect(size: tuple[int, int], other: tuple[int, int]) -> bool:
    """Whether two (width, height) sizes share one aspect ratio, up to rounding either to whole pixels."""
    (width, height), (other_width, other_height) = size, other
    return abs(width * other_height - height * other_width) <= 0.5 * max(width + height, other_width + other_height)


def process_group(args):
    """(accelerate's state or None without accelerate, the device this process loads on).

    Processes started by a launcher (WORLD_SIZE > 1) join one group; on the CPU that needs
    `PartialState(cpu=True)`. Each process then works on the device accelerate gives it.
    """
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    try:
        requested = torch.device(args.device)
    except RuntimeError as error:
        raise BatchError(f"--device: {error}") from None
    try:
        from accelerate import PartialState
    except ImportError:
        if launched > 1:
            raise BatchError("accelerate: several processes were launched, and splitting the pairs needs accelerate installed") from None
        return None, args.device
    state = PartialState(cpu=requested.type == "cpu")
    if state.num_processes != launched:
        raise BatchError(
            f"--device {args.device}: {launched} processes were launched but could not join as one group on {requested.type}; "
            "on a machine without GPUs pass --device cpu"
        )
    if state.num_processes == 1:
        return state, args.device
    if requested.index is not None or state.device.type != requested.type:
        raise BatchError(
            f"--device {args.device}: under accelerate each process takes its own device ({state.device} here); "
            f"give the type only ({state.device.type})"
        )
    return state, "cpu" if requested.type == "cpu" else str(state.device)


def infotext(args, size: tuple[int, int], map_digest: str) -> str:
    """The result's settings in the WebUI's infotext form: prompt, negative prompt, then `Key: value` pairs."""
    from .runners import RUNNERS

    runner_class = RUNNERS[args.family]
    values = {
        "Steps": args.steps,
        "CFG scale": args.guidance if args.guidance is not None else runner_class.default_guidance,
        "Seed": args.seed,
        "Size": f"{size[0]}x{size[1]}",
        "Model": args.model or runner_class.default_model,
        "Denoising strength": args.strength,
        "Runner": args.family,
    }
    if args.family == "if":
        values.update(
            {
                "Stage 2 model": args.stage_2_model or runner_class.default_stage_2,
                "Stage 2 steps": args.stage_2_steps,
                "Noise level": args.noise_level,
                "Stage 3 model": (args.stage_3_model or runner_class.default_stage_3) if args.upscale else None,
            }
        )
    if args.family == "kandinsky":
        values.update({"Prior model": args.prior_model or runner_class.default_prior, "Prior steps": args.prior_steps})
    values.update(runner_job.settings_of(args).infotext())
    values[MAP_HASH_KEY] = map_digest
    lines = [args.prompt]
    if args.negative_prompt:
        lines.append(f"Negative prompt: {args.negative_prompt}")
    lines.append(", ".join(f"{key}: {_quoted(value)}" for key, value in values.items() if value is not None))
    return "\n".join(lines)


def _quoted(value) -> str:
    """A value as infotext writes it: JSON-quoted where a comma, colon or line break would split it."""
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if any(mark in text for mark in ",:\n") else text


def write_png(image: Image.Image, path: Path, parameters: str) -> None:
    """Write `image` with its `parameters` chunk under a temporary name, then rename: `path` appears only complete."""
    info = PngInfo()
    info.add_text("parameters", parameters)
    partial = path.with_name(f".{path.name}.partial")
    with open(partial, "wb") as file:
        image.save(file, format="PNG", pnginfo=info)
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, path)


def edit_pair(runner, args, pair: Pair) -> None:
    """Edit one pair and write its PNG; raises with a message naming what is wrong with the pair."""
    from .runners.base import read_image

    if pair.problem:
        raise SettingsError("map", pair.problem)
    picture = read_image(pair.image)
    gray = read_map(pair.change_map, "map")
    map_size = (gray.shape[1], gray.shape[0])
    if args.same_aspect and not same_aspect(picture.size, map_size):
        raise SettingsError(
            "map", f"{map_size[0]}x{map_size[1]} has another aspect ratio than the picture's {picture.size[0]}x{picture.size[1]}"
        )
    result = runner_job.edit(runner, args, picture, gray)
    write_png(result, pair.out, infotext(args, result.size, map_hash(fit_to_image(gray, *picture.size))))


def quiet(runner) -> None:
    """Turn off the pipelines' per-step bars; the batch shows one bar over pairs."""
    for part in vars(runner).values():
        if hasattr(part, "set_progress_bar_config"):
            part.set_progress_bar_config(disable=True)


def edit_share(runner, args, pairs: list[Pair], state) -> tuple[int, int, list[tuple[str, str]]]:
    """Edit this process's pairs: (written, skipped, [(picture name, why it failed)])."""
    from tqdm import tqdm

    index, count = (state.process_index, state.num_processes) if state is not None else (0, 1)
    written, skipped, failures = 0, 0, []
    bar = tqdm(pairs, desc="pairs" if count == 1 else f"process {index}", unit="pair", position=index, file=sys.stderr)
    for pair in bar:
        if pair.out.is_file():
            skipped += 1
            continue
        try:
            edit_pair(runner, args, pair)
        except Exception as error:  # one bad pair must not end the batch; the summary counts it
            failures.append((pair.image.name, str(error) or type(error).__name__))
            bar.write(f"failed: {pair.image.name}: {failures[-1][1]}", file=sys.stderr)
        else:
            written += 1
    bar.close()
    return written, skipped, failures


def main(args, load_runner=runner_job.load_runner) -> int:
    """The batch behind `python -m lib_diffdiff.run <family> --batch ...`, which has already checked
    every flag's value and that the runners' packages are there; returns the exit status."""
    from .runners import WeightsNotFoundError

    try:
        pairs = check_folders(args)
        state, device = process_group(args)
    except ValueError as error:  # BatchError, SettingsError and the runners' checks all name the flag or setting
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    main_process = state is None or state.is_main_process
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        runner = load_runner(_on_device(args, device))
    except WeightsNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_NO_WEIGHTS
    quiet(runner)
    loaded = time.perf_counter()
    if state is None:
        results = [edit_share(runner, args, pairs, None)]
    else:
        from accelerate.utils import gather_object

        with state.split_between_processes(pairs) as share:
            results = gather_object([edit_share(runner, args, share, state)])
        state.destroy_process_group()  # left to the interpreter's exit, gloo's threads can abort the process
    finished = time.perf_counter()
    written = sum(result[0] for result in results)
    skipped = sum(result[1] for result in results)
    failures = [failure for result in results for failure in result[2]]
    if main_process:
        for name, message in failures:
            print(f"failed: {name}: {message}")
        processes = len(results)
        rate = written / (finished - loaded) if finished > loaded else 0.0
        print(
            f"{written} written, {skipped} skipped, {len(failures)} failed of {len(pairs)} pairs "
            f"({processes} process{'es' if processes > 1 else ''}; model loaded in {loaded - started:.1f} s, "
            f"then {finished - loaded:.1f} s, {rate:.2f} pairs/s written)"
        )
    return EXIT_FAILED_PAIRS if failures else 0


def _on_device(args, device: str):
    """The arguments with the device this process loads on (the user's, or the one accelerate assigned)."""
    from argparse import Namespace

    return Namespace(**{**vars(args), "device": device})
