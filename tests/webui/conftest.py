"""The WebUI stand-in (tests/webui_stub) on sys.path, the extension loaded as the WebUI loads it, and a job runner."""

import functools
import sys
from pathlib import Path

import gradio as gr
import pytest
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "webui_stub"))

from models import TinyLatentDiffusion  # noqa: E402
from modules import errors, processing, script_callbacks, scripts, shared  # noqa: E402

from lib_diffdiff.params import SETTINGS  # noqa: E402

SIZE = 64  # pixels; the latent is 8x8


class WebUI:
    """The img2img tab of a started WebUI with only this extension installed."""

    def __init__(self):
        script_callbacks.clear()
        scripts.load_scripts([(str(ROOT / "scripts" / "differential_diffusion.py"), str(ROOT))])
        script_callbacks.ui_settings_callback()
        self.runner = scripts.ScriptRunner()
        self.runner.initialize_scripts(is_img2img=True)
        with gr.Blocks() as self.demo:
            self.inputs = self.runner.setup_ui()
        self.script = self.runner.alwayson_scripts[0]
        self.components = self.script.controls

    def args(self, **values):
        """The script arguments the UI would send: every control's default, with `values` by setting name."""
        unknown = set(values) - {s.name for s in SETTINGS}
        assert not unknown, unknown
        defaults = [component.value for component in self.components]
        own = [values.get(setting.name, default) for setting, default in zip(SETTINGS, defaults)]
        return [None] + own

    def job(self, model="sd1", sampler="Euler", init=None, **kwargs):
        settings = {k: kwargs.pop(k) for k in list(kwargs) if k in {s.name for s in SETTINGS}}
        shared.sd_model = model if isinstance(model, TinyLatentDiffusion) else tiny_model(model)
        p = processing.StableDiffusionProcessingImg2Img(
            init_images=[init or scene()],
            sampler_name=sampler,
            width=SIZE,
            height=SIZE,
            script_args=self.args(**settings),
            scripts=self.runner,
            **{"steps": 8, "denoising_strength": 0.75, **kwargs},
        )
        return p


@functools.cache
def _tiny_model(kind: str) -> TinyLatentDiffusion:
    return TinyLatentDiffusion(kind)


def tiny_model(kind: str) -> TinyLatentDiffusion:
    """One model per kind for the whole session (building the bank is the slow part), its records cleared."""
    model = _tiny_model(kind)
    model.decoded.clear()
    return model


def scene(seed: int = 11) -> Image.Image:
    from lib_diffdiff.reference import builtin_images

    image = builtin_images(1, size=SIZE, seed=seed)[0]
    return Image.fromarray(((image + 1) * 127.5).round().clamp(0, 255).byte().permute(1, 2, 0).numpy())


def gray(value: float) -> Image.Image:
    return Image.new("L", (SIZE, SIZE), int(round(value * 255)))


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
