"""modules/sd_samplers.py: a fresh sampler object per job, by name."""

from webui_sampling import SAMPLERS

from modules import sd_samplers_kdiffusion, sd_samplers_timesteps

all_samplers = list(SAMPLERS)


def create_sampler(name, model):
    spec = SAMPLERS[name]
    options = {**spec.options, "scheduler": None if spec.scheduler == "automatic" else spec.scheduler}
    constructor = sd_samplers_timesteps.CompVisSampler if spec.timestep else sd_samplers_kdiffusion.KDiffusionSampler
    sampler = constructor(spec.function, model, options)
    sampler.config = spec
    return sampler
