"""Standalone Differential Diffusion runners on diffusers' public pipelines (needs `requirements-runners.txt`).

    from lib_diffdiff.runners import StableDiffusion
    runner = StableDiffusion.load("stable-diffusion-v1-5/stable-diffusion-v1-5", device="cuda")
    runner("in.png", "map.png", "a watercolor landscape").save("out.png")

`DifferentialRun(pipe, map)(**call_kwargs)` attaches the engine to any other img2img pipeline.
"""

from .core import DifferentialRun, WeightsNotFoundError, load_pipeline
from .deepfloyd_if import DeepFloydIF
from .flow_matching import Flux, StableDiffusion3
from .kandinsky import Kandinsky22
from .stable_diffusion import StableDiffusion, StableDiffusionXL

RUNNERS = {
    "if": DeepFloydIF,
    "kandinsky": Kandinsky22,
    "sd": StableDiffusion,
    "sdxl": StableDiffusionXL,
    "sd3": StableDiffusion3,
    "flux": Flux,
}

__all__ = [
    "RUNNERS",
    "DeepFloydIF",
    "DifferentialRun",
    "Flux",
    "Kandinsky22",
    "StableDiffusion",
    "StableDiffusion3",
    "StableDiffusionXL",
    "WeightsNotFoundError",
    "load_pipeline",
]
