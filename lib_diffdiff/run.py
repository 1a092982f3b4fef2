"""Command line for the diffusers runners: `python -m lib_diffdiff.run {if,kandinsky,sd,sdxl} --image IN --map MAP --prompt TEXT --out OUT`.

Needs the packages in requirements-runners.txt and the model weights (hub ids, or local folders
with a diffusers copy given by --model and friends). The map's white keeps the image by default.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .injection import CONTINUOUS, STEPPED
from .maps import CONVENTIONS, WHITE_KEEPS, MapError, MapOptions

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
    parser.add_argument("--image", required=True, type=Path, help="the image to edit")
    parser.add_argument("--map", required=True, type=Path, help="grayscale change map, any size and mode")
    parser.add_argument("--prompt", required=True)
    parser.add_argument("--out", required=True, type=Path, help="where to write the result (PNG, JPEG, ...)")
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
    parser.add_argument(
        "--stepped-release", action="store_true", help="the paper's release rule: a pixel takes part in floor(strength * steps) whole steps"
    )


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


def run(args):
    """Load, edit and write the result; returns the output path."""
    options = MapOptions(convention=args.convention, invert=args.invert_map, blur=args.map_blur)
    runner = load_runner(args)
    extra = {}
    if args.guidance is not None:
        extra["guidance"] = args.guidance
    if args.family == "if":
        extra.update(stage_2_steps=args.stage_2_steps, noise_level=args.noise_level)
    if args.family == "kandinsky":
        extra["prior_steps"] = args.prior_steps
    image = runner(
        args.image,
        args.map,
        args.prompt,
        negative_prompt=args.negative_prompt,
        steps=args.steps,
        strength=args.strength,
        seed=args.seed,
        map_options=options,
        future_hinting=not args.no_future_hinting,
        release_rule=STEPPED if args.stepped_release else CONTINUOUS,
        **extra,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    image.save(args.out)
    return args.out


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
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
