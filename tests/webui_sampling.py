"""img2img sampling as WebUI 1.10 does it, on the real k-diffusion sampler functions.

Covers every sampler WebUI 1.10 lists (modules/sd_samplers_kdiffusion.py, sd_samplers_timesteps.py,
sd_samplers_lcm.py, sd_samplers_extra.py). k-diffusion's functions are called as the WebUI calls
them; Restart, DDIM, DDIM CFG++, PLMS, UniPC and LCM are the WebUI's own code, so their updates are
written here from the published algorithms. Shared by the engine tests and the WebUI stand-in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import k_diffusion.sampling as ks
import torch

SIGMA_MIN, SIGMA_MAX = 0.0292, 14.6146  # SD 1.x's discrete schedule ends


@dataclass(frozen=True)
class SamplerSpec:
    name: str
    function: object
    scheduler: str = "automatic"  # WebUI's default schedule type for this sampler
    options: dict = field(default_factory=dict)
    timestep: bool = False  # DDPM-parameterised: the model predicts noise from timesteps
    guided: bool = False  # reads the CFG denoiser's unconditional prediction (DDIM CFG++)


def restart(model, x, sigmas, extra_args=None, disable=None, s_noise=1.0):
    """Restart sampling (Xu et al. 2023) as WebUI 1.10 configures it: Heun steps on a Karras schedule,
    plus a block of steps re-run from sigma 2 after renoising, once the schedule passes 0.1."""
    extra_args = extra_args or {}
    s_in = x.new_ones([x.shape[0]])
    steps = len(sigmas) - 1
    plan = []
    if steps >= 20:
        restart_steps, times = (steps // 4, 2) if steps >= 36 else (9, 1)
        sigmas = ks.get_sigmas_karras(steps - restart_steps * times, sigmas[-2].item(), sigmas[0].item(), device=sigmas.device)
        at = int(torch.argmin((sigmas - 0.1).abs()))
        top = int(torch.argmin((sigmas - 2.0).abs()))
        for i in range(len(sigmas) - 1):
            plan.append((sigmas[i], sigmas[i + 1]))
            if i + 1 == at and top < at:
                block = ks.get_sigmas_karras(restart_steps + 1, sigmas[at].item(), sigmas[top].item(), device=sigmas.device)[:-1]
                plan.extend(list(zip(block[:-1], block[1:])) * times)
    else:
        plan = list(zip(sigmas[:-1], sigmas[1:]))
    current = None
    for sigma, sigma_next in plan:
        if current is not None and current < sigma:  # going back up: renoise to the restart level
            x = x + torch.randn_like(x) * s_noise * (sigma**2 - current**2) ** 0.5
        denoised = model(x, sigma * s_in, **extra_args)
        d = (x - denoised) / sigma
        if sigma_next == 0:
            x = x + d * (sigma_next - sigma)
        else:
            x_2 = x + d * (sigma_next - sigma)
            d_2 = (x_2 - model(x_2, sigma_next * s_in, **extra_args)) / sigma_next
            x = x + (d + d_2) / 2 * (sigma_next - sigma)
        current = sigma_next
    return x


def lcm(model, x, sigmas, extra_args=None, disable=None):
    """LCM: jump to the prediction, then renoise to the next level."""
    extra_args = extra_args or {}
    s_in = x.new_ones([x.shape[0]])
    for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:]):
        x = model(x, sigma * s_in, **extra_args)
        if sigma_next > 0:
            x += sigma_next * torch.randn_like(x)
    return x


def ddim(model, x, timesteps, alphas_cumprod, extra_args=None):
    """Deterministic DDIM over `timesteps` (evaluation order, descending), ending at timestep 0."""
    extra_args = extra_args or {}
    s_in = x.new_ones([x.shape[0]])
    for i, t in enumerate(timesteps):
        a, a_prev = alphas_cumprod[t], alphas_cumprod[timesteps[i + 1] if i + 1 < len(timesteps) else 0]
        eps = model(x, t * s_in, **extra_args)
        clean = (x - (1 - a).sqrt() * eps) / a.sqrt()
        x = a_prev.sqrt() * clean + (1 - a_prev).sqrt() * eps
    return x


def plms(model, x, timesteps, alphas_cumprod, extra_args=None):
    """PLMS: a pseudo improved-Euler first step (two evaluations), then Adams-Bashforth on the noise."""
    extra_args = extra_args or {}
    s_in = x.new_ones([x.shape[0]])
    history = []

    def step(x, eps, a, a_prev):
        clean = (x - (1 - a).sqrt() * eps) / a.sqrt()
        return a_prev.sqrt() * clean + (1 - a_prev).sqrt() * eps

    for i, t in enumerate(timesteps):
        t_prev = timesteps[i + 1] if i + 1 < len(timesteps) else 0
        a, a_prev = alphas_cumprod[t], alphas_cumprod[t_prev]
        eps = model(x, t * s_in, **extra_args)
        if not history:
            eps_next = model(step(x, eps, a, a_prev), t_prev * s_in, **extra_args)
            blended = (eps + eps_next) / 2
        elif len(history) == 1:
            blended = (3 * eps - history[-1]) / 2
        elif len(history) == 2:
            blended = (23 * eps - 16 * history[-1] + 5 * history[-2]) / 12
        else:
            blended = (55 * eps - 59 * history[-1] + 37 * history[-2] - 9 * history[-3]) / 24
        x = step(x, blended, a, a_prev)
        history = (history + [eps])[-3:]
    return x


def ddim_cfgpp(model, x, timesteps, alphas_cumprod, extra_args=None):
    """DDIM CFG++ (Chung et al. 2024): the clean estimate from the guided noise, the renoising
    direction from the unconditional noise, guidance scaled by 1/12.5 (CFG 0-12.5 onto 0-1).

    `model` is a CFG denoiser with the WebUI's hooks: `cond_scale_miltiplier` scales its guidance
    and, with `need_last_noise_uncond` set, `last_noise_uncond` keeps its last unconditional noise."""
    extra_args = extra_args or {}
    s_in = x.new_ones([x.shape[0]])
    model.cond_scale_miltiplier = 1 / 12.5
    model.need_last_noise_uncond = True
    for i, t in enumerate(timesteps):
        a, a_prev = alphas_cumprod[t], alphas_cumprod[timesteps[i + 1] if i + 1 < len(timesteps) else 0]
        eps = model(x, t * s_in, **extra_args)
        clean = (x - (1 - a).sqrt() * eps) / a.sqrt()
        x = a_prev.sqrt() * clean + (1 - a_prev).sqrt() * model.last_noise_uncond
    return x


class GuidedNoise:
    """Classifier-free guidance over two noise predictors, with the WebUI CFG denoiser's CFG++ hooks.

    `conditional` is called first: where it injects (the engine overwrites x in place), the
    unconditional prediction sees the same latent, as both halves of the WebUI's batched call do."""

    def __init__(self, conditional, unconditional, cond_scale: float = 7.0):
        self.conditional, self.unconditional, self.cond_scale = conditional, unconditional, cond_scale
        self.cond_scale_miltiplier = 1.0
        self.need_last_noise_uncond = False
        self.last_noise_uncond = None

    def __call__(self, x, timestep, **kwargs):
        cond = self.conditional(x, timestep, **kwargs)
        uncond = self.unconditional(x, timestep, **kwargs)
        if self.need_last_noise_uncond:
            self.last_noise_uncond = uncond.clone()
        return uncond + (cond - uncond) * (self.cond_scale * self.cond_scale_miltiplier)


def unipc(model, x, timesteps, alphas_cumprod, extra_args=None, order=3, variant="bh1", callback=None):
    """UniPC (Zhao et al. 2023), multistep on the data prediction with the B(h) coefficients, as
    WebUI 1.10 runs it by default (order 3, variant bh1, time-uniform, lower order at the end).

    Runs len(timesteps) steps from the first timestep down to 0 on evenly spaced fractional
    timesteps, on the discrete schedule interpolated in log alpha. Each step predicts with the
    previous evaluations (UniP) and, except the last, corrects with the model's value at the
    prediction (UniC), which is then reused: one evaluation per step. Like the WebUI's, it hands its
    state to `callback` after every update ({"x": state, "i": update index}): the corrected latent is
    never a model input, so that is the only place the state itself can be reached."""
    extra_args = extra_args or {}
    s_in = x.new_ones([x.shape[0]])
    log_alphas = 0.5 * alphas_cumprod.to(torch.float64).log()
    grid = torch.linspace(float(timesteps[0]), 0.0, len(timesteps) + 1, dtype=torch.float64)

    def alpha_sigma_lambda(t):
        low = int(t.floor().clamp_max(len(log_alphas) - 2))
        log_alpha = torch.lerp(log_alphas[low], log_alphas[low + 1], t - low)
        sigma = (1 - (2 * log_alpha).exp()).sqrt()
        return log_alpha.exp(), sigma, log_alpha - sigma.log()

    def clean(x, t):
        alpha, sigma, _ = alpha_sigma_lambda(t)
        eps = model(x, t.to(x.dtype) * s_in, **extra_args)
        return (x - sigma.to(x.dtype) * eps) / alpha.to(x.dtype)

    return unipc_updates(x, grid, alpha_sigma_lambda, clean, order, variant, callback)


def unipc_updates(x, grid, alpha_sigma_lambda, clean, order, variant, callback):
    """UniPC's multistep updates from grid[0] to grid[-1]: `alpha_sigma_lambda(point)` gives the
    VP coefficients and log-SNR at a grid point, `clean(x, point)` the model's clean estimate there."""
    steps = len(grid) - 1
    history = [(alpha_sigma_lambda(grid[0])[2], clean(x, grid[0]))]  # (lambda, clean estimate)
    for k in range(1, steps + 1):
        step_order = k if k < order else min(order, steps + 1 - k)
        alpha_t, sigma_t, lambda_t = alpha_sigma_lambda(grid[k])
        lambda_0, clean_0 = history[-1]
        sigma_0 = alpha_sigma_lambda(grid[k - 1])[1]
        h = lambda_t - lambda_0
        ratios = [(history[-1 - i][0] - lambda_0) / h for i in range(1, step_order)]
        differences = [(history[-1 - i][1] - clean_0) / float(r) for i, r in zip(range(1, step_order), ratios)]
        # B(h) system: sum_j rho_j r_j^(i-1) = i! phi_(i+1)(-h) h / B(h), i = 1..order
        hh = -h
        h_phi_1 = torch.expm1(hh)
        b_h = {"bh1": hh, "bh2": torch.expm1(hh)}[variant]
        rows, rhs = [], []
        h_phi_k, factorial = h_phi_1 / hh - 1, 1
        r_all = torch.tensor([*map(float, ratios), 1.0], dtype=torch.float64)
        for i in range(1, step_order + 1):
            rows.append(r_all ** (i - 1))
            rhs.append(h_phi_k * factorial / b_h)
            factorial *= i + 1
            h_phi_k = h_phi_k / hh - 1 / factorial
        rows, rhs = torch.stack(rows), torch.stack(rhs)
        base = (sigma_t / sigma_0).to(x.dtype) * x - (alpha_t * h_phi_1).to(x.dtype) * clean_0
        scale = (alpha_t * b_h).to(x.dtype)
        if step_order == 1:
            predicted = base
        else:
            rhos_p = torch.tensor([0.5]) if step_order == 2 else torch.linalg.solve(rows[:-1, :-1], rhs[:-1])
            predicted = base - scale * sum(float(rho) * d for rho, d in zip(rhos_p, differences))
        if k == steps:
            if callback is not None:
                callback({"x": predicted, "i": k - 1, "sigma": 0, "sigma_hat": 0, "denoised": clean_0})
            return predicted
        clean_t = clean(predicted, grid[k])
        rhos_c = torch.tensor([0.5]) if step_order == 1 else torch.linalg.solve(rows, rhs)
        correction = sum(float(rho) * d for rho, d in zip(rhos_c[:-1], differences)) + float(rhos_c[-1]) * (clean_t - clean_0)
        x = base - scale * correction
        if callback is not None:
            callback({"x": x, "i": k - 1, "sigma": 0, "sigma_hat": 0, "denoised": clean_t})
        history = (history + [(lambda_t, clean_t)])[-order:]
    return x


SAMPLERS = {
    spec.name: spec
    for spec in [
        SamplerSpec("DPM++ 2M", ks.sample_dpmpp_2m, "karras"),
        SamplerSpec("DPM++ SDE", ks.sample_dpmpp_sde, "karras", {"brownian_noise": True}),
        SamplerSpec("DPM++ 2M SDE", ks.sample_dpmpp_2m_sde, "exponential", {"brownian_noise": True}),
        SamplerSpec("DPM++ 2M SDE Heun", ks.sample_dpmpp_2m_sde, "exponential", {"brownian_noise": True, "solver_type": "heun"}),
        SamplerSpec("DPM++ 2S a", ks.sample_dpmpp_2s_ancestral, "karras"),
        SamplerSpec("DPM++ 3M SDE", ks.sample_dpmpp_3m_sde, "exponential", {"discard_next_to_last_sigma": True, "brownian_noise": True}),
        SamplerSpec("Euler a", ks.sample_euler_ancestral),
        SamplerSpec("Euler", ks.sample_euler),
        SamplerSpec("LMS", ks.sample_lms),
        SamplerSpec("Heun", ks.sample_heun),
        SamplerSpec("DPM2", ks.sample_dpm_2, "karras", {"discard_next_to_last_sigma": True}),
        SamplerSpec("DPM2 a", ks.sample_dpm_2_ancestral, "karras", {"discard_next_to_last_sigma": True}),
        SamplerSpec("DPM fast", ks.sample_dpm_fast),
        SamplerSpec("DPM adaptive", ks.sample_dpm_adaptive),
        SamplerSpec("Restart", restart, "karras"),
        SamplerSpec("LCM", lcm),
        SamplerSpec("DDIM", ddim, timestep=True),
        SamplerSpec("DDIM CFG++", ddim_cfgpp, timestep=True, guided=True),
        SamplerSpec("PLMS", plms, timestep=True),
        SamplerSpec("UniPC", unipc, timestep=True),
    ]
}


def schedule_keywords(function, sigma_sched: torch.Tensor) -> dict:
    """How a k-diffusion sampler takes an img2img schedule: DPM fast and adaptive its two ends (DPM
    fast also a step count), the others the sigmas themselves."""
    if function not in (ks.sample_dpm_fast, ks.sample_dpm_adaptive):
        return {"sigmas": sigma_sched}
    keywords = {"sigma_min": sigma_sched[-2], "sigma_max": sigma_sched[0]}
    if function is ks.sample_dpm_fast:
        keywords["n"] = len(sigma_sched) - 1
    return keywords


def sigma_schedule(spec: SamplerSpec, steps: int) -> torch.Tensor:
    """The full schedule the WebUI builds for `steps` (Automatic = the sampler's default type)."""
    discard = spec.options.get("discard_next_to_last_sigma", False)
    count = steps + 1 if discard else steps
    if spec.scheduler == "karras":
        sigmas = ks.get_sigmas_karras(count, SIGMA_MIN, SIGMA_MAX)
    elif spec.scheduler == "exponential":
        sigmas = ks.get_sigmas_exponential(count, SIGMA_MIN, SIGMA_MAX)
    else:  # the model's own discrete schedule, evenly spaced in timesteps
        t = torch.linspace(999, 0, count)
        sigmas = ks.append_zero(_discrete_sigmas(t))
    if discard:
        sigmas = torch.cat([sigmas[:-2], sigmas[-1:]])
    return sigmas


def _discrete_sigmas(t: torch.Tensor) -> torch.Tensor:
    from lib_diffdiff.lab.reference import linear_alphas_cumprod

    alphas = linear_alphas_cumprod()
    log_sigmas = ((1 - alphas) / alphas).sqrt().log()
    low = t.floor().long()
    high = (low + 1).clamp_max(999)
    return torch.lerp(log_sigmas[low], log_sigmas[high], t - low).exp()


@dataclass
class Img2ImgRun:
    """What one img2img job hands its sampler: start latent, the steps it will run, and how to run them."""

    spec: SamplerSpec
    start: torch.Tensor
    step_levels: torch.Tensor  # sigmas (k-diffusion) or timesteps (timestep samplers) of each step
    run: object  # run(model) -> final latent


def img2img(
    spec: SamplerSpec,
    original: torch.Tensor,
    noise: torch.Tensor,
    steps: int,
    denoising: float,
    seed: int = 0,
    unconditional=None,
) -> Img2ImgRun:
    """Set up img2img the way WebUI 1.10's sample_img2img does for this sampler.

    Guided samplers get `GuidedNoise(model, unconditional)`: the run's model as the conditional
    prediction, `unconditional` (a noise predictor) as the unconditional one."""
    t_enc = int(min(denoising, 0.999) * steps)
    if spec.guided and unconditional is None:
        raise ValueError(f"{spec.name} guides with an unconditional prediction: pass `unconditional`")
    if spec.timestep:
        from lib_diffdiff.lab.reference import linear_alphas_cumprod
        from lib_diffdiff.schedule import unipc_timesteps

        alphas = linear_alphas_cumprod()
        timesteps = torch.clip(torch.arange(0, 1000, 1000 // steps) + 1, 0, 999)[:t_enc].flip(0)
        a = alphas[timesteps[0]]
        start = original * a.sqrt() + noise * (1 - a).sqrt()

        def run(model, callback=None):
            torch.manual_seed(seed)
            if spec.guided:
                model = GuidedNoise(model, unconditional)
            state = {} if callback is None else {"callback": callback}
            return spec.function(model, start.clone(), timesteps, alphas, **state)

        # UniPC evaluates on its own time-uniform grid (WebUI's default skip type), not at the DDIM timesteps
        levels = unipc_timesteps(int(timesteps[0]), len(timesteps), "time_uniform", alphas) if spec.function is unipc else timesteps
        return Img2ImgRun(spec, start, levels, run)

    sigma_sched = sigma_schedule(spec, steps)[steps - t_enc - 1 :]
    start = original + noise * sigma_sched[0]
    kwargs = dict(spec.options)
    kwargs.pop("discard_next_to_last_sigma", None)
    if kwargs.pop("brownian_noise", False):
        kwargs["noise_sampler"] = None  # built per run: the tree depends on the start latent's shape
    kwargs.update(schedule_keywords(spec.function, sigma_sched))

    def run(model):
        torch.manual_seed(seed)
        call = dict(kwargs)
        if "noise_sampler" in call:
            positive = sigma_sched[sigma_sched > 0]
            call["noise_sampler"] = ks.BrownianTreeNoiseSampler(start, positive.min(), positive.max(), seed=seed)
        return spec.function(model, start.clone(), disable=True, **call)

    return Img2ImgRun(spec, start, sigma_sched[:-1], run)
