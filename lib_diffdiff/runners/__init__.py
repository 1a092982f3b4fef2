"""Standalone Differential Diffusion runners on diffusers' public pipelines (needs `requirements-runners.txt`).

    from lib_diffdiff.runners import StableDiffusion
    runner = StableDiffusion.load("stable-diffusion-v1-5/stable-diffusion-v1-5", device="cuda")
    runner("in.png", "map.png", "a watercolor landscape").save("out.png")

`DifferentialRun(pipe, map)(**call_kwargs)` attaches the engine to any other img2img pipeline.
"""

from .core import DifferentialRun, WeightsNotFoundError, load_pipeline
from .deepfloyd_if import DeepFloydIF
from .kandinsky import Kandinsky22
from .stable_diffusion import StableDiffusion, StableDiffusionXL

RUNNERS = {"if": DeepFloydIF, "kandinsky": Kandinsky22, "sd": StableDiffusion, "sdxl": StableDiffusionXL}

__all__ = [
    "RUNNERS",
    "DeepFloydIF",
    "DifferentialRun",
    "Kandinsky22",
    "StableDiffusion",
    "StableDiffusionXL",
    "WeightsNotFoundError",
    "load_pipeline",
]
