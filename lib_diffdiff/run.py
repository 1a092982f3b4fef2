"""Command line for the diffusers runners:
`diffdiff-run {if,kandinsky,sd,sdxl,sd3,flux} --image IN --map MAP --prompt TEXT --out OUT` (or `python -m lib_diffdiff.run ...`).

With `--batch IMAGES_DIR` (and `--maps MAPS_DIR`, or `--map MAP` for every picture) it edits a whole
folder into the folder `--out`, on one process or under `accelerate launch` (see `batch.py`).

Needs the packages in requirements-runners.txt and the model weights (hub ids, or local folders
with a diffusers copy given by --model and friends). The map's white keeps the image by default.
Every input is checked before any weights load, so a typo costs seconds, not a model load.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

from .cli import ArgumentParser, InputError, check_image_file, check_output_file, fail, number, seed_number, whole_number
from .errors import SettingsError
from .runner_job import edit, load_runner, runner_settings, setting_dest
from .setting import Setting

PROG = "diffdiff-run"
DTYPES = ("auto", "float16", "bfloat16", "float32")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")
NOISE_LEVELS = 1000  # IF stage II's image-noising scheduler has 1000 timesteps


def default_device() -> str:
    """What this machine has: cuda, else mps, else cpu."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def build_parser() -> ArgumentParser:
    from .runners import RUNNERS

    parser = ArgumentParser(
        prog=PROG,
        description="Differential Diffusion on diffusers: edit an image as much as a grayscale change map allows, pixel by pixel.",
    )
    families = parser.add_subparsers(dest="family", required=True, metavar="{if,kandinsky,sd,sdxl,sd3,flux}", parser_class=ArgumentParser)
    for name, help_text in (
        ("if", "DeepFloyd IF: stage I at 64 px and stage II at 256 px with the map, optional x4 upscale"),
        ("kandinsky", "Kandinsky 2.2: prior, then the decoder's img2img with the map"),
        ("sd", "Stable Diffusion 1.x / 2.x img2img"),
        ("sdxl", "Stable Diffusion XL img2img"),
        ("sd3", "Stable Diffusion 3 / 3.5 img2img (rectified flow)"),
        ("flux", "FLUX.1 img2img (rectified flow; dev by default, use --dtype bfloat16 on GPUs)"),
    ):
        family = families.add_parser(name, help=help_text, description=help_text)
        _add_common(family, RUNNERS[name])
        if name == "if":
            runner = RUNNERS[name]
            family.add_argument("--stage-2-model", default=runner.default_stage_2, help="stage II weights: hub id or local folder")
            family.add_argument("--stage-2-steps", type=whole_number(1), default=50, help="denoising steps of stage II")
            family.add_argument(
                "--noise-level",
                type=whole_number(0, NOISE_LEVELS - 1),
                default=250,
                help="noise added to stage I's result before stage II",
            )
            family.add_argument("--upscale", action="store_true", help="run stage III, the x4 upscaler, on stage II's result (no map)")
            family.add_argument("--stage-3-model", default=runner.default_stage_3, help="stage III weights (with --upscale)")
        if name == "kandinsky":
            family.add_argument("--prior-model", default=RUNNERS[name].default_prior, help="prior weights: hub id or local folder")
            family.add_argument("--prior-steps", type=whole_number(1), default=25, help="denoising steps of the prior")
    return parser


def _add_common(parser: ArgumentParser, runner_class) -> None:
    pictures = parser.add_mutually_exclusive_group(required=True)
    pictures.add_argument("--image", type=Path, help="the image to edit (this or --batch is required)")
    pictures.add_argument("--batch", type=Path, metavar="IMAGES_DIR", help="edit every picture in this folder; --out is then a folder (this or --image is required)")
    maps = parser.add_mutually_exclusive_group(required=True)
    maps.add_argument("--map", type=Path, help="grayscale change map, any size and mode; with --batch, one map for every picture (this or --maps is required)")
    maps.add_argument("--maps", type=Path, metavar="MAPS_DIR", help="with --batch: a folder of maps, each named like its picture (this or --map is required)")
    parser.add_argument("--prompt", required=True, help="what the edited image should show")
    parser.add_argument(
        "--out", required=True, type=Path, help="where to write the result; the extension picks the format (.png, .jpg, ...); with --batch, a folder"
    )
    parser.add_argument(
        "--same-aspect", action="store_true", help="with --batch: fail a pair whose map has another aspect ratio instead of stretching it"
    )
    parser.add_argument("--negative-prompt", help="what it should not show (default: none)")
    parser.add_argument("--steps", type=whole_number(1), default=50, help="denoising steps of a full-strength run")
    parser.add_argument("--strength", type=number(0.0, 1.0, above_minimum=True), default=1.0, help="the most any pixel may change, in (0, 1]")
    parser.add_argument(
        "--guidance", type=number(0.0), help=f"classifier-free guidance scale (default: {runner_class.default_guidance:g})"
    )
    parser.add_argument("--seed", type=seed_number(), default=0, help="seed of the noise; the same seed gives the same picture")
    parser.add_argument("--model", default=runner_class.default_model, help="hub id or local folder with a diffusers copy of the weights")
    parser.add_argument("--variant", help="weights variant to load, e.g. fp16 (default: the full-precision files)")
    parser.add_argument("--device", help=f"torch device, e.g. cuda, cuda:1, mps, cpu (default: what this machine has: {default_device()})")
    parser.add_argument("--dtype", choices=DTYPES, default="auto", help="weights precision; auto: float16 on CUDA, float32 elsewhere")
    parser.add_argument("--cpu-offload", action="store_true", help="keep models on the CPU and move each to --device only while it runs")
    for setting in runner_settings():
        _add_setting(parser, setting)


def _add_setting(parser: ArgumentParser, setting: Setting) -> None:
    """A flag made from a Setting: a switch for a boolean (it turns the default around) or to the
    setting's `cli_switch_to` choice, a choice, or a bounded number."""
    common = dict(dest=setting_dest(setting), default=setting.default)
    if setting.cli_switch_to is not None:
        switch_help = f"{setting.cli_switch_to} instead of {setting.default}: {setting.tooltip}"
        parser.add_argument(setting.cli_flag, action="store_const", const=setting.cli_switch_to, help=switch_help, **common)
    elif setting.kind is bool:
        if setting.default:
            parser.add_argument(setting.cli_flag, action="store_false", help=f"turn off {setting.label.lower()}: {setting.tooltip}", **common)
        else:
            parser.add_argument(setting.cli_flag, action="store_true", help=setting.tooltip, **common)
    elif setting.kind is float:
        kind = number(setting.minimum, setting.maximum)
        parser.add_argument(setting.cli_flag, type=kind, help=f"{setting.tooltip}, {setting.minimum:g} to {setting.maximum:g}", **common)
    else:
        parser.add_argument(setting.cli_flag, choices=setting.choices, help=setting.tooltip, **common)


def check_device(name: str) -> None:
    """Refuse a device torch does not know or this machine does not have."""
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise InputError("--device", f"not a torch device: {name!r}; use e.g. cuda, cuda:1, mps or cpu") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device", f"{name}: this machine has no CUDA device; use {default_device()}")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise InputError("--device", f"{name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise InputError("--device", f"{name}: MPS is not available on this machine; use {default_device()}")


def check_model(value: str, flag: str) -> None:
    """A local folder must exist; anything else must look like a hub id (owner/name)."""
    path = Path(value).expanduser()
    if path.exists():
        if not path.is_dir():
            raise InputError(flag, f"{value} is a file; give a folder holding a diffusers copy of the weights, or a hub id")
    elif not HUB_ID.match(value) or ".." in value:
        raise InputError(flag, f"no such folder: {value} (nor is it a hub id such as owner/name)")


def check_inputs(args) -> None:
    """Every check that needs no weights, so bad input fails in seconds."""
    if args.batch is None:
        for flag, value in (("--maps", args.maps), ("--same-aspect", args.same_aspect)):
            if value:
                raise InputError(flag, "only with --batch IMAGES_DIR")
        check_image_file(args.image, "--image")
        check_image_file(args.map, "--map")
        check_output_file(args.out, "--out")
    elif args.map is not None:
        check_image_file(args.map, "--map")  # the folders are checked by the batch, which lists the pairs
    check_device(args.device)
    for field, value in vars(args).items():
        if field == "model" or field.endswith("_model"):
            check_model(value, "--" + field.replace("_", "-"))
    step_flags = {"--steps": args.steps, "--stage-2-steps": getattr(args, "stage_2_steps", None)}
    for flag, steps in step_flags.items():
        if steps is not None and int(steps * args.strength) < 1:
            raise InputError("--strength", f"{args.strength:g} with {flag} {steps} leaves no step to run (needs strength x steps >= 1)")
    for package in ("diffusers", "transformers"):
        if importlib.util.find_spec(package) is None:
            raise InputError(
                "runners", f"need {package}: pip install -r requirements-runners.txt (or pip install '.[runners]')"
            )


def run(args):
    """Load, edit and write the result; returns the output path."""
    image = edit(load_runner(args), args, args.image, args.map)
    image.save(args.out)
    return args.out


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    args.device = args.device or default_device()
    try:
        check_inputs(args)
    except InputError as error:
        return fail(PROG, error)
    if args.batch is not None:
        from .batch import main as batch_main

        return batch_main(args, load_runner)
    from .runners import WeightsNotFoundError

    try:
        out = run(args)
    except WeightsNotFoundError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 3
    except (ValueError) as error:
        return fail(PROG, error)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
