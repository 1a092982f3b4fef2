"""The WebUI stand-in (tests/webui_stub) on sys.path, the extension loaded as the WebUI loads it, and a job runner."""

import functools
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "webui_stub"))

from modules import errors, shared  # noqa: E402
from tiny_models import build_tiny_model  # noqa: E402
from webui_harness import SIZE, StandInWebUI  # noqa: E402


@functools.cache
def _tiny_model(kind: str):
    return build_tiny_model(kind)


def tiny_model(kind: str):
    """One model per kind for the whole session (building the bank is the slow part), its records cleared."""
    model = _tiny_model(kind)
    model.decoded.clear()
    return model


def scene(seed: int = 11) -> Image.Image:
    from lib_diffdiff.lab.reference import builtin_images

    image = builtin_images(1, size=SIZE, seed=seed)[0]
    return Image.fromarray(((image + 1) * 127.5).round().clamp(0, 255).byte().permute(1, 2, 0).numpy())


def gray(value: float) -> Image.Image:
    return Image.new("L", (SIZE, SIZE), int(round(value * 255)))


class WebUI(StandInWebUI):
    """The stand-in with the tiny models by kind and the built-in scene as the default init image."""

    def __init__(self, with_xyz=False, before=(), after=()):
        super().__init__(models=tiny_model, with_xyz=with_xyz, before=before, after=after)

    def job(self, model="sd1", sampler="Euler", init=None, **kwargs):
        return super().job(model, sampler, init or scene(), **kwargs)


@pytest.fixture
def webui():
    shared.state.begin()
    errors.reported.clear()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # these models are tiny: threads only add overhead
    try:
        yield WebUI()
    finally:
        torch.set_num_threads(threads)
    assert not errors.reported, errors.reported


@pytest.fixture
def callback_states(monkeypatch):
    """Every (step, latent) a sampler hands its step callback, as the WebUI's callback_state sees it."""
    from modules import sd_samplers_common

    states = []
    callback_state = sd_samplers_common.Sampler.callback_state

    def recording(self, d):
        states.append((d["i"], d["x"].clone()))
        return callback_state(self, d)

    monkeypatch.setattr(sd_samplers_common.Sampler, "callback_state", recording)
    return states
