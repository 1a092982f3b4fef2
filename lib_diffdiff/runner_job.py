"""One runner edit as the command line's arguments describe it: the weights to load, the Differential
Diffusion settings (from the flags `SETTINGS` gives the runners) and the runner's call. Shared by the
single-picture command (`run.py`) and its batch mode (`batch.py`)."""

from __future__ import annotations

from . import params
from .setting import Setting


def runner_settings() -> list[Setting]:
    """The settings the runners take, each with its flag (the map options and future hinting)."""
    return [setting for setting in params.SETTINGS if setting.cli_flag]


def setting_dest(setting: Setting) -> str:
    """Where the parsed arguments keep a setting's value (prefixed: `--map-strength` is not `--strength`)."""
    return f"setting_{setting.name}"


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


def settings_of(args):
    """The Differential Diffusion settings the arguments give (the map itself is passed separately)."""
    values = {setting.name: getattr(args, setting_dest(setting)) for setting in runner_settings()}
    return params.Settings.from_values({"enabled": True, **values})


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
        release_rule=settings.release,
        composite=settings.composite,
        fill=settings.fill,
        **extra,
    )
