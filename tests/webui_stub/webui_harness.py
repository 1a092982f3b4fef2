"""The img2img tab of a started WebUI (the stand-in) with only this extension installed; shared by the
tests and the benchmark."""

from pathlib import Path

import gradio as gr
from modules import processing, script_callbacks, scripts, sd_models, shared

from diffdiff_webui.ui import TITLE
from lib_diffdiff.params import SETTINGS

STUB = Path(__file__).resolve().parent
ROOT = STUB.parents[1]
SIZE = 64  # pixels; the tests' latent is 8x8


class StandInWebUI:
    """The img2img tab of a started WebUI with only this extension installed."""

    def __init__(self, models=None, with_xyz=False, before=(), after=()):
        """`before` and `after`: paths of other always-on scripts loaded ahead of ours (as the WebUI's
        built-in extensions are) or behind it."""
        self.models = models  # kind -> model, for jobs that name their model by kind
        script_callbacks.clear()
        files = [(str(ROOT / "scripts" / "differential_diffusion.py"), str(ROOT))]
        files = [(str(path), str(Path(path).parent)) for path in before] + files + [(str(path), str(Path(path).parent)) for path in after]
        if with_xyz:  # the WebUI's own scripts folder loads first; a path: another host's layout of the plot
            script = STUB / "scripts" / "xyz_grid.py" if with_xyz is True else Path(with_xyz)
            files.insert(0, (str(script), str(STUB)))
        scripts.load_scripts(files)
        script_callbacks.ui_settings_callback()
        self.runner = scripts.scripts_img2img = scripts.ScriptRunner()
        self.runner.initialize_scripts(is_img2img=True)
        script_callbacks.before_ui_callback()
        with gr.Blocks() as self.demo:
            self.inputs = self.runner.setup_ui()
        self.script = next(script for script in self.runner.alwayson_scripts if script.title() == TITLE)
        self.components = self.script.controls

    def app(self):
        """The HTTP API as `webui.py --api` starts it: routes, middleware, then the app-started callbacks."""
        from threading import Lock

        from fastapi import FastAPI
        from modules.api.api import Api

        app = FastAPI()
        Api(app, Lock())
        script_callbacks.app_started_callback(self.demo, app)
        return app

    def args(self, **values):
        """The script arguments the UI would send: every control's default, with `values` by setting name."""
        unknown = set(values) - {s.name for s in SETTINGS}
        assert not unknown, unknown
        defaults = [component.value for component in self.components]
        own = [values.get(setting.name, default) for setting, default in zip(SETTINGS, defaults)]
        return [None] + own

    def job(self, model="sd1", sampler="Euler", init=None, refiner=None, **kwargs):
        """An img2img job on `model` (a model, or a kind for `models`); `refiner` (a model) is registered
        as a checkpoint and named in the job's refiner settings (switch point: `refiner_switch_at`)."""
        settings = {k: kwargs.pop(k) for k in list(kwargs) if k in {s.name for s in SETTINGS}}
        shared.sd_model = model if not isinstance(model, str) else self.models(model)
        if refiner is not None:
            kwargs["refiner_checkpoint"] = sd_models.register(f"refiner-{id(refiner):x}", refiner).title
        p = processing.StableDiffusionProcessingImg2Img(
            init_images=[init],
            sampler_name=sampler,
            width=kwargs.pop("width", SIZE),
            height=kwargs.pop("height", SIZE),
            script_args=self.args(**settings),
            scripts=self.runner,
            **{"steps": 8, "denoising_strength": 0.75, "inpainting_fill": 1, **kwargs},  # masked content: the UI's "original"
        )
        return p
