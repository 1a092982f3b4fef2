"""Command line for the diffusers runners: `python -m lib_diffdiff.run {if,kandinsky,sd,sdxl} --image IN --map MAP --prompt TEXT --out OUT`.

With `--batch IMAGES_DIR` (and `--maps MAPS_DIR`, or `--map MAP` for every picture) it edits a whole
folder into the folder `--out`, on one process or under `accelerate launch` (see `batch.py`).

Needs the packages in requirements-runners.txt and the model weights (hub ids, or local folders
with a diffusers copy given by --model and friends). The map's white keeps the image by default.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .maps import CONVENTIONS, WHITE_KEEPS, MapError
from .params import Settings

DTYPES = ("auto", "float16", "bfloat16", "float32")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lib_diffdiff.run",
        description="Differential Diffusion on diffusers: edit an image as much as a grayscale change map allows, pixel by pixel.",
    )
    families = parser.add_subparsers(dest="family", required=True, metavar="{if,kandinsky,sd,sdxl}")
    for name, help_text in (
        ("if", "DeepFloyd IF: stage I at 64 px and stage II at 256 px with the map, optional x4 upscale"),
        ("kandinsky", "Kandinsky 2.2: prior, then the decoder's img2img with the map"),
        ("sd", "Stable Diffusion 1.x / 2.x img2img"),
        ("sdxl", "Stable Diffusion XL img2img"),
    ):
        family = families.add_parser(name, help=help_text, description=help_text)
        _add_common(family)
        if name == "if":
            family.add_argument("--stage-2-model", help="stage II weights: hub id or local folder (default: DeepFloyd/IF-II-L-v1.0)")
            family.add_argument("--stage-2-steps", type=int, default=50)
            family.add_argument(
                "--noise-level", type=int, default=250, help="noise added to stage I's result before stage II (default 250)"
            )
            family.add_argument("--upscale", action="store_true", help="run stage III, the x4 upscaler, on stage II's result (no map)")
            family.add_argument("--stage-3-model", help="stage III weights (default: stabilityai/stable-diffusion-x4-upscaler)")
        if name == "kandinsky":
            family.add_argument(
                "--prior-model", help="prior weights: hub id or local folder (default: kandinsky-community/kandinsky-2-2-prior)"
            )
            family.add_argument("--prior-steps", type=int, default=25)
    return parser


def _add_common(parser: argparse.ArgumentParser) -> None:
    pictures = parser.add_mutually_exclusive_group(required=True)
    pictures.add_argument("--image", type=Path, help="the image to edit")
    pictures.add_argument("--batch", type=Path, metavar="IMAGES_DIR", help="edit every picture in this folder; --out is then a folder")
    maps = parser.add_mutually_exclusive_group(required=True)
    maps.add_argument("--map", type=Path, help="grayscale change map, any size and mode (with --batch: one map for every picture)")
    maps.add_argument("--maps", type=Path, metavar="MAPS_DIR", help="with --batch: a folder of maps, each named like its picture")
    parser.add_argument("--prompt", required=True)
    parser.add_argument("--out", required=True, type=Path, help="where to write the result (PNG, JPEG, ...); with --batch, a folder")
    parser.add_argument(
        "--same-aspect", action="store_true", help="with --batch: fail a pair whose map has another aspect ratio instead of stretching it"
    )
    parser.add_argument("--negative-prompt")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--strength", type=float, default=1.0, help="the most any pixel may change, in (0, 1] (default 1)")
    parser.add_argument("--guidance", type=float, help="classifier-free guidance scale (default: the family's usual)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", help="hub id or local folder with a diffusers copy of the weights (default: the family's usual)")
    parser.add_argument("--variant", help="weights variant to load, e.g. fp16")
    parser.add_argument("--device", default="cuda", help="torch device (default cuda)")
    parser.add_argument("--dtype", choices=DTYPES, default="auto", help="auto: float16 on CUDA, float32 elsewhere")
    parser.add_argument("--cpu-offload", action="store_true", help="keep models on the CPU and move each to --device only while it runs")
    parser.add_argument("--convention", choices=CONVENTIONS, default=WHITE_KEEPS, help=f"map convention (default: {WHITE_KEEPS})")
    parser.add_argument("--invert-map", action="store_true")
    parser.add_argument("--map-blur", type=float, default=0.0, help="Gaussian blur of the map, in pixels")
    parser.add_argument("--no-future-hinting", action="store_true", help="the paper's ablation: inject regions only at their release")


def torch_dtype(name: str, device: str):
    import torch

    if name == "auto":
        return torch.float16 if str(device).startswith("cuda") else torch.float32
    return getattr(torch, name)


def load_runner(args):
    """The family's runner with its weights loaded as the arguments say."""
    from .runners import RUNNERS

    runner_class = RUNNERS[args.family]
    placement = dict(device=args.device, dtype=torch_dtype(args.dtype, args.device), offload=args.cpu_offload, variant=args.variant)
    if args.family == "if":
        return runner_class.load(
            args.model, stage_2_model=args.stage_2_model, stage_3_model=args.stage_3_model, upscale=args.upscale, **placement
        )
    if args.family == "kandinsky":
        return runner_class.load(args.model, prior_model=args.prior_model, **placement)
    return runner_class.load(args.model, **placement)


def settings_of(args) -> Settings:
    """The Differential Diffusion settings the arguments give (the map itself is passed separately)."""
    return Settings(
        enabled=True, convention=args.convention, invert=args.invert_map, blur=args.map_blur, future_hinting=not args.no_future_hinting
    )


def run(args):
    """Load, edit and write the result; returns the output path."""
    image = edit(load_runner(args), args, args.image, args.map)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    image.save(args.out)
    return args.out


def edit(runner, args, image, change_map):
    """One picture edited by a loaded runner with the arguments' settings; returns the PIL image."""
    settings = settings_of(args)
    extra = {}
    if args.guidance is not None:
        extra["guidance"] = args.guidance
    if args.family == "if":
        extra.update(stage_2_steps=args.stage_2_steps, noise_level=args.noise_level)
    if args.family == "kandinsky":
        extra["prior_steps"] = args.prior_steps
    return runner(
        image,
        change_map,
        args.prompt,
        negative_prompt=args.negative_prompt,
        steps=args.steps,
        strength=args.strength,
        seed=args.seed,
        map_options=settings.map_options(),
        future_hinting=settings.future_hinting,
        **extra,
    )


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.batch is not None:
        from .batch import main as batch_main

        return batch_main(args)
    for flag, value in (("--maps", args.maps), ("--same-aspect", args.same_aspect)):
        if value:
            print(f"error: {flag}: only with --batch IMAGES_DIR", file=sys.stderr)
            return 2
    for field in ("image", "map"):
        if not getattr(args, field).is_file():
            print(f"error: --{field}: no such file: {getattr(args, field)}", file=sys.stderr)
            return 2
    try:
        from .runners import WeightsNotFoundError
    except ImportError as error:
        print(f"error: the runners need diffusers and transformers: pip install -r requirements-runners.txt ({error})", file=sys.stderr)
        return 2
    try:
        out = run(args)
    except WeightsNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    except (MapError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
