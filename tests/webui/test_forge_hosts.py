"""The script in the Forge family (Forge, ersatzForge, Forge Neo), through the Forge flavour of the
stand-in (tests/webui_stub/forge_family.py), on a tiny noise-prediction model and a tiny flow model,
for every sampler.

What a user of those hosts expects, as on AUTOMATIC1111: off is the host's own img2img bit for bit; an
all-change map is plain img2img; an all-keep map returns the original latent exactly; held pixels
reach the model as the original noised exactly as the host noises its img2img start, with the job's
own noise, at every call; each band of a map is released at its step; with source `inpaint mask` the
soft band follows the map level for level although the host blends its rounded mask in before every
call. The `test_without_the_host_layer_*` tests show these checks fail where the glue takes the host
for A1111.
"""

from __future__ import annotations

import functools
import math
import sys

import numpy as np
import pytest
import torch
from conftest import SIZE, gray, scene, tiny_model
from forge_family import FLAVOURS, ForgeCFGDenoiser, ForgeModel, flavour, forge_model
from modules import processing, shared
from PIL import Image
from test_webui_sampling import ALL, TIMESTEP, halves

import diffdiff_webui.job as job_module
from diffdiff_webui import host as host_layer
from diffdiff_webui.job import ATTRIBUTE, UnusableSettings
from lib_diffdiff import TimestepSpace
from lib_diffdiff.params import INPAINT_MASK, Settings

HOSTS = sorted(FLAVOURS)
KINDS = ("sd1", "sd3")  # noise prediction, and a flow model (predictor 'const')
K_DIFFUSION = sorted(set(ALL) - TIMESTEP)
BANDS = (0.2, 0.4, 0.6, 0.8)  # change strength of latent columns 0-1, 2-3, 4-5, 6-7 (exact in 8 bits)


@functools.cache
def _model(kind: str, family: str | None):
    return forge_model(kind, family)


def model_of(kind: str = "sd1", family: str | None = None) -> ForgeModel:
    """One model per kind and family for the session (building one is the slow part), its records cleared."""
    model = _model(kind, family)
    model.decoded.clear()
    return model


@pytest.fixture(params=HOSTS)
def host(request, monkeypatch):
    return flavour(request.param, monkeypatch)


@pytest.fixture
def model_calls(monkeypatch):
    """Every model call of the job: the level the sampler gave the CFG denoiser (a sigma, or a
    timestep) and the latent the model was given, after the host's own conversions and blends."""
    calls, levels = [], []
    forward, denoise = ForgeCFGDenoiser.forward, ForgeModel.denoise

    def recording_forward(self, x, sigma, *args, **kwargs):
        levels.append(sigma.clone())
        return forward(self, x, sigma, *args, **kwargs)

    def recording_denoise(self, x, sigma, cond):
        calls.append((levels[-1], x[: x.shape[0] // 2].clone()))  # the conditional half
        return denoise(self, x, sigma, cond)

    monkeypatch.setattr(ForgeCFGDenoiser, "forward", recording_forward)
    monkeypatch.setattr(ForgeModel, "denoise", recording_denoise)
    return calls


def run(webui, kind="sd1", family=None, **kwargs):
    p = webui.job(model=model_of(kind, family), **kwargs)
    result = processing.process_images(p)
    return torch.cat(shared.sd_model.decoded), result, p


def job_noise(p):
    return processing.ImageRNG(p.init_latent.shape[1:], p.all_seeds).next()


def on_timesteps(host, sampler) -> bool:
    return sampler in TIMESTEP and not (sampler == "UniPC" and host.unipc_on_sigmas)


def host_noised(host, p, sampler, noise, level):
    """The original at `level` as the model sees it where the host noises it as for its img2img start:
    the predictor's noise_scaling at a sigma; at a timestep, the model's DDPM alphas, then scaled to
    sigma space as the host's CFG denoiser scales the timestep samplers' latent."""
    predictor = shared.sd_model.forge_objects.unet.model.predictor
    if not on_timesteps(host, sampler):
        return predictor.noise_scaling(level.reshape(-1, 1, 1, 1), noise, p.init_latent, max_denoise=False)
    noised = torch.empty_like(p.init_latent)
    TimestepSpace(shared.sd_model.alphas_cumprod).noise_into(noised, p.init_latent, noise, level)
    sigma = predictor.sigmas[level.round().long()]
    return noised * (sigma**2 + 1.0).sqrt().view(-1, 1, 1, 1)


def check_held_columns(host, p, sampler, calls, columns=slice(0, SIZE // 16)):
    noise = job_noise(p)
    assert calls
    for index, (level, x) in enumerate(calls):
        expected = host_noised(host, p, sampler, noise, level)
        assert torch.equal(x[..., columns], expected[..., columns]), (index, level.flatten()[0])


def banded_map() -> Image.Image:
    image = Image.new("L", (SIZE, SIZE))
    for index, change in enumerate(BANDS):
        image.paste(round(255 * (1 - change)), (index * SIZE // 4, 0, (index + 1) * SIZE // 4, SIZE))
    return image


def square_mask(box) -> Image.Image:
    mask = Image.new("L", (SIZE, SIZE), 0)
    mask.paste(255, box)
    return mask


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("sampler", ALL)
def test_disabled_is_the_hosts_own_img2img_bit_for_bit(webui, host, kind, sampler):
    disabled, disabled_result, _ = run(webui, kind, sampler=sampler)
    p = webui.job(model=model_of(kind), sampler=sampler)
    p.scripts = None  # the host without the extension
    vanilla = processing.process_images(p)
    assert torch.equal(disabled, torch.cat(shared.sd_model.decoded))
    assert disabled_result.images[0].tobytes() == vanilla.images[0].tobytes()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("sampler", ALL)
def test_all_change_map_is_plain_img2img_bit_for_bit(webui, host, kind, sampler):
    plain, plain_result, _ = run(webui, kind, sampler=sampler)
    ours, our_result, _ = run(webui, kind, sampler=sampler, enabled=True, map=gray(0.0))
    assert torch.equal(plain, ours)
    assert plain_result.images[0].tobytes() == our_result.images[0].tobytes()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("sampler", ALL)
def test_all_keep_map_returns_the_original_latent_exactly(webui, host, kind, sampler):
    """The latent is the original's, and with the composite (the default) the saved picture is the init picture."""
    latent, result, p = run(webui, kind, sampler=sampler, denoising_strength=0.5, enabled=True, map=gray(1.0))
    assert torch.equal(latent, p.init_latent)
    assert np.array_equal(np.asarray(result.images[0]), np.asarray(p.init_images[0].convert("RGB")))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("sampler", ALL)
def test_held_pixels_are_the_original_as_the_host_noises_it_at_every_call(webui, host, kind, sampler, model_calls):
    latent, _, p = run(webui, kind, sampler=sampler, enabled=True, map=halves())
    check_held_columns(host, p, sampler, model_calls)
    assert torch.equal(latent[..., : SIZE // 16], p.init_latent[..., : SIZE // 16])
    assert not torch.equal(latent[..., SIZE // 16 :], p.init_latent[..., SIZE // 16 :])


def runs_steps(host, p) -> int:
    """Steps an img2img job runs on this host: ersatzForge runs the steps asked, the others the
    denoising strength's share of them, plus one."""
    return p.steps if host.exact_steps else int(min(p.denoising_strength, 0.999) * p.steps) + 1


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("sampler", ["Euler", "Euler a", "DPM++ 2M", "LCM", "DDIM"])
def test_each_band_is_released_at_its_step(webui, host, kind, sampler, model_calls, monkeypatch):
    """One evaluation per step: the release schedule is the part of the schedule the host runs, call k
    at step k; a band of change c is held until step (1 - c) N, injected once more at the first step at
    or after it, then left to the sampler."""
    injectors = []
    build = Settings.injector
    monkeypatch.setattr(Settings, "injector", lambda *args, **kwargs: injectors.append(build(*args, **kwargs)) or injectors[-1])
    _, _, p = run(webui, kind, sampler=sampler, steps=10, denoising_strength=0.45, enabled=True, map=banded_map(), release="stepped")
    steps = runs_steps(host, p) - (sampler == "DDIM" and not host.exact_steps)  # timestep samplers: t_enc steps
    assert len(model_calls) == steps == injectors[-1].schedule.steps
    positions = [float(injectors[-1].position(level)) for level, _ in model_calls]
    assert positions == pytest.approx(list(range(steps)), abs=1e-4)
    noise = job_noise(p)
    for index, (level, x) in enumerate(model_calls):
        expected = host_noised(host, p, sampler, noise, level)
        for band, change in enumerate(BANDS):
            columns = slice(2 * band, 2 * band + 2)
            held = torch.equal(x[..., columns], expected[..., columns])
            assert held == (index <= math.ceil(steps * (1 - change) - 1e-6)), (index, change)


@pytest.mark.parametrize("sampler", ["Euler", "DPM++ 2M", "Euler a", "DDIM", "UniPC"])
def test_inpaint_mask_band_follows_the_map_level_for_level(webui, host, sampler, model_calls):
    """Source `inpaint mask`: every pixel reaches the model held, with the job's noise, while its
    blurred-mask level says so, although the host blends its rounded mask in (with fresh noise)
    before every call; pixels outside the blurred mask end as the original."""
    original = scene()
    _, result, p = run(
        webui,
        init=original,
        sampler=sampler,
        mask=square_mask((16, 16, 48, 48)),
        mask_blur=6,
        inpaint_full_res=False,
        denoising_strength=1.0,
        enabled=True,
        source=INPAINT_MASK,
    )
    change = getattr(p, ATTRIBUTE).map.change_latent
    assert ((change > 0.05) & (change < 0.5)).any(), "part of the band lies where the rounded mask keeps"
    noise = job_noise(p)
    steps = len(model_calls)  # one evaluation per step on these samplers
    for index, (level, x) in enumerate(model_calls):
        expected = host_noised(host, p, sampler, noise, level)
        must_hold = index < steps * (1 - change) - 1 - 1e-6  # before the step of its release
        held = (x[0] == expected[0]).all(dim=0)
        assert held[must_hold].all(), (index, change[must_hold & ~held])
    outside = np.asarray(p.mask_for_overlay.convert("L")) == 0
    assert (np.asarray(result.images[0])[outside] == np.asarray(original)[outside]).all()


@pytest.mark.parametrize("sampler", K_DIFFUSION)
def test_forge_gives_what_a1111_gives_on_a_noise_prediction_model(webui, sampler, monkeypatch):
    """Forge noises, slices and blends as A1111 does for such a model (the same k-diffusion calls), so
    with the host layer an upload map and an inpaint-mask job give A1111's latents bit for bit."""
    jobs = {
        "upload": dict(enabled=True, map=banded_map()),
        "inpaint mask": dict(enabled=True, source=INPAINT_MASK, mask=square_mask((12, 20, 52, 44)), mask_blur=5, inpaint_full_res=False),
    }
    on_a1111 = {}
    for name, settings in jobs.items():
        processing.process_images(webui.job(model=tiny_model("sd1"), sampler=sampler, **settings))
        on_a1111[name] = torch.cat(shared.sd_model.decoded)
    flavour("forge", monkeypatch)
    for name, settings in jobs.items():
        latent, _, _ = run(webui, sampler=sampler, **settings)
        assert torch.equal(latent, on_a1111[name]), name


@functools.cache
def _video_model(family: str, frames: int):
    return forge_model("sd3", family, frames)


def video_model(family: str, frames: int) -> ForgeModel:
    model = _video_model(family, frames)
    model.decoded.clear()
    return model


@pytest.mark.parametrize("sampler", ["Euler", "DPM++ 2M", "UniPC"])
def test_neo_serves_a_still_picture_kept_as_a_one_frame_video_latent(webui, monkeypatch, sampler, model_calls):
    """Neo keeps Qwen-Image's and Anima's latents as (B, C, 1, H, W): the map acts on the one frame."""
    flavour("neo", monkeypatch)

    def run_still(**settings):
        p = webui.job(model=video_model("QwenImage", 1), sampler=sampler, **settings)
        processing.process_images(p)
        return torch.cat(shared.sd_model.decoded), p

    plain, _ = run_still()
    everything, _ = run_still(enabled=True, map=gray(0.0))
    nothing, p = run_still(enabled=True, map=gray(1.0))
    assert plain.shape[2] == 1 and torch.equal(everything, plain) and torch.equal(nothing, p.init_latent)
    model_calls.clear()
    latent, p = run_still(enabled=True, map=halves())
    noise = job_noise(p)
    predictor = shared.sd_model.forge_objects.unet.model.predictor
    for level, x in model_calls:
        expected = predictor.noise_scaling(level.reshape(-1, 1, 1, 1), noise, p.init_latent, max_denoise=False)
        assert torch.equal(x[..., : SIZE // 16], expected[..., : SIZE // 16])
    assert torch.equal(latent[..., : SIZE // 16], p.init_latent[..., : SIZE // 16])
    assert not torch.equal(latent, p.init_latent)


def test_a_video_fails_the_job_naming_the_family(webui, host):
    with pytest.raises(UnusableSettings, match="Wan 2.1 makes video \\(3 frames\\)"):
        processing.process_images(webui.job(model=video_model("WAN21_T2V", 3), enabled=True, map=halves()))


def test_neo_refuses_reference_picture_edits_naming_the_model(webui, monkeypatch):
    """Neo flags Kontext and Qwen-Image-Edit checkpoints and keeps reference latents in
    backend.args.dynamic_args: a map cannot steer what the reference decides."""
    import types

    flavour("neo", monkeypatch)
    cases = [
        (dict(kontext=True, edit=False, ref_latents=[torch.zeros(1)]), "Flux Kontext"),
        (dict(kontext=False, edit=True, ref_latents=[torch.zeros(1)]), "Qwen-Image-Edit"),
        (dict(kontext=False, edit=False, ref_latents=[torch.zeros(1)]), "SD 3.5 with reference images"),
    ]
    for flags, name in cases:
        monkeypatch.setitem(sys.modules, "backend.args", types.SimpleNamespace(dynamic_args=types.SimpleNamespace(**flags)))
        with pytest.raises(UnusableSettings, match=name):
            run(webui, "sd3", enabled=True, map=halves())
    monkeypatch.setitem(sys.modules, "backend.args", types.SimpleNamespace(dynamic_args=types.SimpleNamespace(kontext=False, edit=False, ref_latents=[])))
    latent, _, p = run(webui, "sd3", enabled=True, map=gray(1.0))
    assert torch.equal(latent, p.init_latent), "with no reference the job runs"


def test_ersatzforge_refuses_kontext_through_its_other_control_script(webui, monkeypatch):
    from modules import scripts

    flavour("ersatz", monkeypatch)
    control = type("ersatzOtherControl", (scripts.Script,), {"kontext_latent": torch.zeros(1, 16, 8, 8)})
    loaded = scripts.ScriptClassData(control, "eOC.py", ".", None)
    monkeypatch.setattr(scripts, "scripts_data", [*scripts.scripts_data, loaded])
    with pytest.raises(UnusableSettings, match="Flux Kontext"):
        run(webui, "sd3", enabled=True, map=halves())
    control.kontext_latent = None
    latent, _, p = run(webui, "sd3", enabled=True, map=gray(1.0))
    assert torch.equal(latent, p.init_latent)


@pytest.mark.parametrize("kind", KINDS)
def test_neo_unipc_state_holds_the_original_after_every_update(webui, monkeypatch, callback_states, kind):
    """Neo's UniPC hands its corrected state to the callback DDPM-scaled: held pixels there are the
    original as the model noises it, divided by sqrt(1 + s^2); the rest is the sampler's own."""
    neo = flavour("neo", monkeypatch)
    states = callback_states
    _, _, p = run(webui, kind, sampler="UniPC", enabled=True, map=halves())
    levels = getattr(p, ATTRIBUTE).state_levels
    assert neo.unipc_on_sigmas and len(states) == len(levels) and "callback_state" not in vars(p.sampler)
    noise = job_noise(p)
    predictor = shared.sd_model.forge_objects.unet.model.predictor
    for i, x in states[:-1]:
        level = levels[i + 1]
        expected = predictor.noise_scaling(level.reshape(-1, 1, 1, 1), noise, p.init_latent) / (1 + level**2).sqrt()
        assert torch.equal(x[..., : SIZE // 16], expected[..., : SIZE // 16]), i


def test_neo_xyz_axes_are_img2img_axes_of_its_lib_xyz(monkeypatch):
    """Neo's XYZ script module has no img2img axis class; ours must still be img2img-only."""
    from conftest import WebUI
    from webui_harness import STUB

    from diffdiff_webui import xyz
    from diffdiff_webui.xyz_axes import AXES

    flavour("neo", monkeypatch)
    WebUI(with_xyz=STUB / "neo" / "xyz_grid.py")
    module = xyz.xyz_grid_module()
    assert not hasattr(module, "AxisOptionImg2Img")
    ours = [option for option in module.axis_options if option.label.startswith("[DiffDiff] ")]
    assert [option.label for option in ours] == [axis.label for axis in AXES]
    assert all(isinstance(option, sys.modules["lib_xyz.classes"].AxisOptionImg2Img) for option in ours)


def test_the_host_is_found_once_per_job(webui, monkeypatch):
    p = webui.job(model=tiny_model("sd1"), enabled=True, map=halves())
    processing.process_images(p)
    assert getattr(p, ATTRIBUTE).host is host_layer.A1111
    for name, expected in [("forge", host_layer.FORGE), ("ersatz", host_layer.ERSATZ_FORGE), ("neo", host_layer.FORGE_NEO)]:
        with monkeypatch.context() as patch:
            flavour(name, patch)
            _, _, p = run(webui, enabled=True, map=halves())
            assert getattr(p, ATTRIBUTE).host is expected


def as_a1111(monkeypatch):
    """The glue without its host layer: every host taken for AUTOMATIC1111."""
    monkeypatch.setattr(job_module, "current_host", lambda: host_layer.A1111)


def test_without_the_host_layer_held_pixels_of_a_flow_model_are_noised_wrongly(webui, monkeypatch, model_calls):
    forge = flavour("forge", monkeypatch)
    as_a1111(monkeypatch)
    _, _, p = run(webui, "sd3", sampler="Euler", enabled=True, map=halves())
    with pytest.raises(AssertionError):
        check_held_columns(forge, p, "Euler", model_calls)


def test_without_the_host_layer_the_inpaint_band_gets_fresh_noise(webui, monkeypatch, model_calls):
    forge = flavour("forge", monkeypatch)
    as_a1111(monkeypatch)
    with pytest.raises(AssertionError):
        test_inpaint_mask_band_follows_the_map_level_for_level(webui, forge, "Euler", model_calls)


def test_without_the_host_layer_ersatzforge_gets_a_schedule_a_step_off(webui, monkeypatch, model_calls):
    ersatz = flavour("ersatz", monkeypatch)
    as_a1111(monkeypatch)
    with pytest.raises(AssertionError):
        test_each_band_is_released_at_its_step(webui, ersatz, "sd1", "Euler", model_calls, monkeypatch)


# The user-facing surfaces on each host: the HTTP API, infotext and paste-back, the XYZ plot.


def api_client(webui, model):
    from fastapi.testclient import TestClient

    shared.sd_model = model
    return TestClient(webui.app(), raise_server_exceptions=False)


def api_request(args, sampler="Euler"):
    import base64
    import io

    def b64(image):
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return base64.b64encode(buffer.getvalue()).decode()

    for arg in args:
        if isinstance(arg, dict) and isinstance(arg.get("map"), Image.Image):
            arg["map"] = b64(arg["map"])
    return {
        "init_images": [b64(scene())],
        "sampler_name": sampler,
        "steps": 8,
        "denoising_strength": 0.75,
        "alwayson_scripts": {"Differential Diffusion": {"args": args}},
    }


@pytest.mark.parametrize("kind", KINDS)
def test_the_http_api_runs_a_map_and_names_a_bad_field(webui, host, kind):
    import json

    client = api_client(webui, model_of(kind))
    response = client.post("/sdapi/v1/img2img", json=api_request([{"enabled": True, "map": halves(), "strength": 0.8}]))
    assert response.status_code == 200, response.text
    text = json.loads(response.json()["info"])["infotexts"][0]
    assert "DiffDiff: True" in text and "DiffDiff strength: 0.8" in text
    bad = client.post("/sdapi/v1/img2img", json=api_request([{"enabled": True, "map": halves(), "strength": 3}]))
    assert bad.status_code == 422 and "strength" in bad.text
    assert client.post("/sdapi/v1/img2img", json=api_request([{"enabled": False}])).status_code == 200


def test_the_http_api_refuses_a_video_model_naming_it(webui, monkeypatch):
    flavour("neo", monkeypatch)
    client = api_client(webui, video_model("WAN22_T2V", 3))
    response = client.post("/sdapi/v1/img2img", json=api_request([{"enabled": True, "map": halves()}]))
    assert response.status_code == 422 and "Wan 2.2" in response.text


@pytest.mark.parametrize("kind", KINDS)
def test_infotext_pastes_back_the_settings_the_job_ran(webui, host, kind):
    from modules.infotext_utils import parse_generation_parameters

    from diffdiff_webui.ui import read_pasted

    _, result, p = run(webui, kind, enabled=True, map=halves(), strength=0.7, future_hinting=False)
    ran = getattr(p, ATTRIBUTE).settings
    pasted = read_pasted(parse_generation_parameters(result.infotexts[0]))
    assert not pasted.ignored and pasted.values["enabled"]
    assert pasted.values == {name: getattr(ran, name) for name in pasted.values}


@pytest.mark.parametrize("name", HOSTS)
def test_an_xyz_sweep_gives_each_cell_its_values_on_a_flow_model(monkeypatch, name):
    from conftest import WebUI
    from webui_harness import STUB

    from diffdiff_webui import xyz

    flavour(name, monkeypatch)
    ui = WebUI(with_xyz=STUB / "neo" / "xyz_grid.py" if name == "neo" else True)
    module = xyz.xyz_grid_module()
    strength = next(option for option in module.axis_options if option.label == "[DiffDiff] Strength scale")
    cells = module.Script().run_grid(ui.job(model=model_of("sd3"), map=halves()), strength, "0.5, 1")
    assert [cell[2][0] for cell in cells] == [0.5, 1.0]
    for result, job, (value, _, _), _ in cells:
        assert getattr(job, ATTRIBUTE).settings.strength == value and f"DiffDiff strength: {value}" in result.infotexts[0]
    assert not torch.equal(*(torch.as_tensor(np.array(cell[0].images[0])) for cell in cells)), "the swept strength acts"
