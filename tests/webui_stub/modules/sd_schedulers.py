"""Stand-in for modules/sd_schedulers.py: every schedule type of WebUI 1.10, in its order, written from
the papers and the option descriptions."""

from typing import NamedTuple

import k_diffusion.sampling as ks
import torch
from scipy import stats

from modules import shared


class Scheduler(NamedTuple):
    """A schedule type: `function(n, sigma_min, sigma_max, device[, inner_model])` gives n levels and a last one."""

    name: str
    label: str
    function: object
    need_inner_model: bool = False


def uniform(n, sigma_min, sigma_max, inner_model, device):
    """The model's own discrete levels, evenly spaced in timesteps (k-diffusion's get_sigmas)."""
    return inner_model.get_sigmas(n).to(device)


def sgm_uniform(n, sigma_min, sigma_max, inner_model, device):
    """n levels evenly spaced in timesteps from sigma_max towards sigma_min (which is not reached), then 0."""
    ends = inner_model.sigma_to_t(torch.tensor([sigma_max, sigma_min]))
    times = torch.linspace(float(ends[0]), float(ends[1]), n + 1)[:-1]
    return ks.append_zero(inner_model.t_to_sigma(times).float()).to(device)


def kl_optimal(n, sigma_min, sigma_max, device):
    """Levels evenly spaced in arctan(sigma) from sigma_max down to sigma_min itself (no final 0)."""
    share = torch.arange(n + 1, device=device) / n
    angle_high, angle_low = torch.arctan(torch.tensor([sigma_max, sigma_min], device=device))
    return torch.tan(angle_high + share * (angle_low - angle_high))


# NVIDIA's published 10-step Align Your Steps sigmas (Sabour et al. 2024), highest first
ALIGN_YOUR_STEPS_SD15 = (14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029)
ALIGN_YOUR_STEPS_SDXL = (14.615, 6.315, 3.771, 2.181, 1.342, 0.862, 0.555, 0.380, 0.234, 0.113, 0.029)


def align_your_steps(n, sigma_min, sigma_max, device):
    """The model family's published sigmas, interpolated log-linearly to n levels (as published for other step counts)."""
    knots = torch.tensor(ALIGN_YOUR_STEPS_SDXL if shared.sd_model.is_sdxl else ALIGN_YOUR_STEPS_SD15, dtype=torch.float64)
    if n != len(knots):
        rising = knots.flip(0).log()
        where = torch.linspace(0, 1, n, dtype=torch.float64) * (len(knots) - 1)
        low = where.floor().long().clamp_max(len(knots) - 2)
        knots = torch.lerp(rising[low], rising[low + 1], where - low).exp().flip(0)
    return ks.append_zero(knots.float()).to(device)


def normal_scheduler(n, sigma_min, sigma_max, inner_model, device):
    """n levels evenly spaced in timesteps from sigma_max down to sigma_min itself, then 0."""
    start = inner_model.sigma_to_t(torch.tensor(sigma_max))
    end = inner_model.sigma_to_t(torch.tensor(sigma_min))
    sigmas = torch.stack([inner_model.t_to_sigma(t) for t in torch.linspace(start, end, n)])
    return ks.append_zero(sigmas.float()).to(device)


def ddim_scheduler(n, sigma_min, sigma_max, inner_model, device):
    """Every (1000 // n)-th of the model's sigmas from the second up, as DDIM strides timesteps;
    like the WebUI's, it can give a level or two more than n."""
    stride = max(len(inner_model.sigmas) // n, 1)
    return ks.append_zero(inner_model.sigmas[1::stride].flip(0).float()).to(device)


def beta_scheduler(n, sigma_min, sigma_max, inner_model, device):
    """Beta sampling (Lee et al. 2024): levels at the Beta(alpha, beta) quantiles of evenly spaced
    points, mapped linearly onto [sigma_min, sigma_max]; alpha and beta are WebUI options."""
    quantiles = stats.beta.ppf(1 - torch.linspace(0, 1, n).double().numpy(), shared.opts.beta_dist_alpha, shared.opts.beta_dist_beta)
    sigmas = sigma_min + torch.from_numpy(quantiles) * (sigma_max - sigma_min)
    return ks.append_zero(sigmas.float()).to(device)


def simple_scheduler(n, sigma_min, sigma_max, inner_model, device):
    """n of the model's discrete levels, taken from the top at even strides, then 0."""
    table = inner_model.sigmas
    stride = len(table) / n
    picked = torch.stack([table[len(table) - 1 - int(i * stride)] for i in range(n)])
    return ks.append_zero(picked.float()).to(device)


schedulers = [
    Scheduler("automatic", "Automatic", None),
    Scheduler("uniform", "Uniform", uniform, need_inner_model=True),
    Scheduler("karras", "Karras", ks.get_sigmas_karras),
    Scheduler("exponential", "Exponential", ks.get_sigmas_exponential),
    Scheduler("polyexponential", "Polyexponential", ks.get_sigmas_polyexponential),
    Scheduler("sgm_uniform", "SGM Uniform", sgm_uniform, need_inner_model=True),
    Scheduler("kl_optimal", "KL Optimal", kl_optimal),
    Scheduler("align_your_steps", "Align Your Steps", align_your_steps),
    Scheduler("simple", "Simple", simple_scheduler, need_inner_model=True),
    Scheduler("normal", "Normal", normal_scheduler, need_inner_model=True),
    Scheduler("ddim", "DDIM", ddim_scheduler, need_inner_model=True),
    Scheduler("beta", "Beta", beta_scheduler, need_inner_model=True),
]
schedulers_map = {key: scheduler for scheduler in schedulers for key in (scheduler.name, scheduler.label)}
