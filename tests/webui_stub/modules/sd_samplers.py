"""Stand-in for modules/sd_samplers.py: a new sampler object for each job, looked up by name."""

from webui_sampling import SAMPLERS

from modules import sd_samplers_kdiffusion, sd_samplers_timesteps

all_samplers = list(SAMPLERS)


def create_sampler(name, model):
    spec = SAMPLERS[name]
    family = sd_samplers_timesteps.CompVisSampler if spec.timestep else sd_samplers_kdiffusion.KDiffusionSampler
    default_schedule = None if spec.scheduler == "automatic" else spec.scheduler
    sampler = family(spec.function, model, {**spec.options, "scheduler": default_schedule})
    sampler.config = spec
    return sampler
