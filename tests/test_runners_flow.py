"""The sd3 and flux runners on tiny random-weight flow-matching pipelines built here (no downloads).

Both pipelines noise the init latent with their scheduler's `scale_noise`: (1 - s) x0 + s n. Flux
carries its latents packed in 2x2 patches (B, h/2 * w/2, 4C); its output latents are packed too.
"""

import diffusers
import numpy as np
import pytest
import tiny_pipelines as tiny
import torch
from PIL import Image

from lib_diffdiff.runners import DifferentialRun, Flux, StableDiffusion3
from lib_diffdiff.runners.core import pack_patches

HEIGHT, WIDTH = 24, 32  # latents 12 x 16 (the tiny VAEs halve); Flux packs them into 6 x 8 tokens
STEPS, STRENGTH, SEED = 6, 0.8, 3
KEEP = np.full((5, 7), 255, np.uint8)  # white keeps, at a size unlike the image's
CHANGE = np.zeros((9, 4), np.uint8)
FAMILIES = {"sd3": (tiny.stable_diffusion_3, StableDiffusion3), "flux": (tiny.flux, Flux)}
# Flow-matching schedulers in diffusers 0.42 that noise with scale_noise and that each pipeline accepts
# (Flux passes its own sigmas to set_timesteps, which FlowMatchHeun's does not take).
SCHEDULERS = {
    "sd3": [
        "FlowMatchEulerDiscreteScheduler",
        "FlowMatchHeunDiscreteScheduler",
        "FlowMatchLCMScheduler",
        "FlowMapEulerDiscreteScheduler",
        "MiniMaxH3Scheduler",
    ],
    "flux": ["FlowMatchEulerDiscreteScheduler", "FlowMatchLCMScheduler"],
}
CASES = [(family, name) for family, names in SCHEDULERS.items() for name in names]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def picture(seed=0):
    return Image.fromarray((np.random.default_rng(seed).random((HEIGHT, WIDTH, 3)) * 255).astype(np.uint8))


def half_keep_map():
    gray = np.zeros((HEIGHT, WIDTH), np.uint8)
    gray[:, : WIDTH // 2] = 255
    return gray


def init_latent():
    return torch.randn(1, 4, HEIGHT // 2, WIDTH // 2, generator=torch.Generator().manual_seed(5))


def generator():
    return torch.Generator().manual_seed(SEED)


def pipeline(family, scheduler=None):
    pipe = FAMILIES[family][0]()
    if scheduler is not None:
        pipe.scheduler = getattr(diffusers, scheduler).from_config(pipe.scheduler.config)
    return pipe


def plain(pipe, family, image):
    torch.manual_seed(0)  # FlowMatchLCM renoises with torch's global generator (the pipeline hands it none)
    runner_class = FAMILIES[family][1]
    common = dict(num_inference_steps=STEPS, strength=STRENGTH, guidance_scale=runner_class.default_guidance, output_type="latent")
    return pipe(image=image, height=HEIGHT, width=WIDTH, generator=generator(), **common, **tiny.flow_text_embeddings()).images[0]


def ours(pipe, family, image, change_map, **settings):
    torch.manual_seed(0)
    runner = FAMILIES[family][1](pipe)
    options = dict(steps=STEPS, strength=STRENGTH, seed=SEED, output_type="latent", height=HEIGHT, width=WIDTH)
    return runner(image, change_map, **options, **settings, **tiny.flow_text_embeddings())


@pytest.mark.parametrize(("family", "scheduler"), CASES)
def test_sd3_and_flux_all_change_map_is_diffusers_img2img_bit_for_bit(family, scheduler):
    pipe = pipeline(family, scheduler)
    assert torch.equal(ours(pipe, family, picture(), CHANGE), plain(pipe, family, picture()))


@pytest.mark.parametrize(("family", "scheduler"), CASES)
def test_sd3_and_flux_all_keep_map_returns_the_init_latent_exactly(family, scheduler):
    pipe, init = pipeline(family, scheduler), init_latent()
    result = ours(pipe, family, init, KEEP)
    expected = pack_patches(init, 2)[0] if family == "flux" else init[0]
    assert torch.equal(result, expected)


def test_flux_packs_the_map_as_the_pipeline_packs_its_latents():
    """The left half kept exactly and the right half changed, in the unpacked latent: each latent
    pixel kept its own strength through Flux's 2x2 packing (which is the pipeline's own layout)."""
    pipe, init = pipeline("flux"), init_latent()
    assert torch.equal(pack_patches(init, 2), pipe._pack_latents(init, 1, 4, HEIGHT // 2, WIDTH // 2))
    packed = ours(pipe, "flux", init, half_keep_map())
    latent = pipe._unpack_latents(packed[None], HEIGHT, WIDTH, pipe.vae_scale_factor)[0]
    half = WIDTH // 4
    assert torch.equal(latent[..., :half], init[0, ..., :half])
    assert not torch.isclose(latent[..., half:], init[0, ..., half:]).any()


def test_sd3_half_keep_map_keeps_exactly_the_kept_half():
    pipe, init = pipeline("sd3"), init_latent()
    latent = ours(pipe, "sd3", init, half_keep_map())
    half = WIDTH // 4
    assert torch.equal(latent[..., :half], init[0, ..., :half])
    assert not torch.isclose(latent[..., half:], init[0, ..., half:]).any()


@pytest.mark.parametrize(("family", "scheduler"), CASES)
def test_sd3_and_flux_held_pixels_enter_every_transformer_call_as_the_original_flow_noised_to_its_sigma(family, scheduler):
    """Fitting the transformer's input u = p x0 + q n on the kept pixels: a flow latent has p = 1 - s
    and q = s, with s the sigma of the timestep the transformer is given (SD3 gets 1000 s, Flux s)."""
    pipe = pipeline(family, scheduler)
    seen = []

    def record(module, args, kwargs):
        timestep = float(torch.as_tensor(kwargs["timestep"]).flatten()[0])
        seen.append((kwargs["hidden_states"][:1].detach().clone(), timestep / 1000 if family == "sd3" else timestep))

    hook = pipe.transformer.register_forward_pre_hook(record, with_kwargs=True)
    run = DifferentialRun(pipe, half_keep_map(), pixels_per_latent=pipe.vae_scale_factor)
    try:
        run(
            image=picture(),
            height=HEIGHT,
            width=WIDTH,
            num_inference_steps=STEPS,
            strength=STRENGTH,
            generator=generator(),
            output_type="latent",
            **tiny.flow_text_embeddings(),
        )
    finally:
        hook.remove()
    injector = run.injector
    kept = injector.never_released.expand_as(injector.original[:1])
    assert kept.sum() * 2 >= kept.numel() * 0.9
    x0, noise = injector.original[:1][kept].double(), injector.noise[:1][kept].double()
    basis = torch.stack([x0, noise], dim=1)
    assert len(seen) >= int(STEPS * STRENGTH)
    for sample, sigma in seen:
        u = sample.reshape(injector.original[:1].shape)[kept].double()
        p, q = torch.linalg.lstsq(basis, u[:, None]).solution[:, 0]
        assert torch.allclose(basis @ torch.stack([p, q]), u, atol=1e-4), "kept pixels are not original + noise"
        assert abs(float(p + q) - 1) < 1e-4, "not a flow latent (1 - s) x0 + s n"
        if scheduler.startswith(("FlowMatch", "FlowMap")):  # these give the transformer the timestep 1000 s
            assert abs(float(q) - sigma) < 1e-4, (sigma, float(q))
        else:  # MiniMax H3 counts its timesteps otherwise: s must be one of its sigmas
            assert (pipe.scheduler.sigmas.double() - q).abs().min() < 1e-4, float(q)


@pytest.mark.parametrize("family", FAMILIES)
def test_sd3_and_flux_runners_default_to_the_images_own_size(family):
    pipe = pipeline(family)
    result = FAMILIES[family][1](pipe)(
        picture(), CHANGE, steps=2, strength=STRENGTH, seed=SEED, output_type="pil", **tiny.flow_text_embeddings()
    )
    assert result.size == (WIDTH, HEIGHT)


def test_cli_help_lists_sd3_and_flux(capsys):
    from lib_diffdiff.run import build_parser
    from lib_diffdiff.runners import RUNNERS

    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    text = capsys.readouterr().out
    assert "sd3" in text and "flux" in text
    assert RUNNERS["sd3"] is StableDiffusion3 and RUNNERS["flux"] is Flux
    args = build_parser().parse_args(["flux", "--image", "i.png", "--map", "m.png", "--prompt", "p", "--out", "o.png", "--steps", "4"])
    assert args.family == "flux" and args.steps == 4


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("fill", ["noise", "blur fill"])
def test_sd3_and_flux_fill_keeps_the_kept_half_and_changes_the_start_of_the_other(family, fill):
    """The fill reaches the pipeline's start (noised from the filled original) and never the kept half."""
    pipe, init = pipeline(family), init_latent()
    unpack = (lambda packed: pipe._unpack_latents(packed[None], HEIGHT, WIDTH, pipe.vae_scale_factor)[0]) if family == "flux" else (lambda x: x)
    without = unpack(ours(pipe, family, init, half_keep_map()))
    filled = unpack(ours(pipe, family, init, half_keep_map(), fill=fill))
    half = WIDTH // 4
    assert torch.equal(filled[..., :half], init[0, ..., :half])
    assert not torch.equal(filled[..., half:], without[..., half:])
