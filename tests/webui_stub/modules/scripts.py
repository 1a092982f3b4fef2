"""modules/scripts.py: Script, the hook argument objects, script loading and the ScriptRunner.

As in the WebUI, every hook is called with the script's own slice of `p.script_args`, and an
exception raised by a hook is reported and swallowed: the job carries on.
"""

import importlib.util
import os
import sys
from collections import namedtuple

import gradio as gr

from modules import errors

AlwaysVisible = object()


class MaskBlendArgs:
    def __init__(self, current_latent, nmask, init_latent, mask, blended_latent, denoiser=None, sigma=None):
        self.current_latent = current_latent
        self.nmask = nmask
        self.init_latent = init_latent
        self.mask = mask
        self.blended_latent = blended_latent
        self.denoiser = denoiser
        self.is_final_blend = denoiser is None
        self.sigma = sigma


class PostSampleArgs:
    def __init__(self, samples):
        self.samples = samples


class PostProcessMaskOverlayArgs:
    def __init__(self, index, mask_for_overlay, overlay_image):
        self.index = index
        self.mask_for_overlay = mask_for_overlay
        self.overlay_image = overlay_image


class Script:
    name = None
    filename = None
    args_from = None
    args_to = None
    alwayson = False
    is_txt2img = False
    is_img2img = False
    group = None
    infotext_fields = None
    paste_field_names = None
    api_info = None
    controls = None

    def title(self):
        raise NotImplementedError

    def ui(self, is_img2img):
        pass

    def show(self, is_img2img):
        return True

    def run(self, p, *args):
        pass

    def before_process(self, p, *args):
        pass

    def process(self, p, *args):
        pass

    def process_before_every_sampling(self, p, *args, **kwargs):
        pass

    def process_batch(self, p, *args, **kwargs):
        pass

    def on_mask_blend(self, p, mba, *args):
        pass

    def post_sample(self, p, ps, *args):
        pass

    def postprocess_maskoverlay(self, p, ppmo, *args):
        pass

    def postprocess(self, p, processed, *args):
        pass


ScriptClassData = namedtuple("ScriptClassData", ["script_class", "path", "basedir", "module"])
scripts_data: list = []


def load_scripts(paths_with_basedirs):
    """Import each (script path, extension dir) with the extension dir on sys.path during the import only."""
    scripts_data.clear()
    for path, basedir in paths_with_basedirs:
        saved = sys.path
        try:
            sys.path = [basedir] + sys.path
            name = os.path.basename(path)  # as script_loading.load_module names it, e.g. "xyz_grid.py"
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            for value in module.__dict__.values():
                if isinstance(value, type) and issubclass(value, Script) and value is not Script and value.__module__ == module.__name__:
                    scripts_data.append(ScriptClassData(value, path, basedir, module))
        finally:
            sys.path = saved


class ScriptRunner:
    def __init__(self):
        self.scripts = []
        self.alwayson_scripts = []
        self.selectable_scripts = []
        self.inputs = [None]
        self.infotext_fields = []
        self.paste_field_names = []

    def initialize_scripts(self, is_img2img):
        self.scripts.clear()
        self.alwayson_scripts.clear()
        self.selectable_scripts.clear()
        for script_data in scripts_data:
            script = script_data.script_class()
            script.filename = script_data.path
            script.is_txt2img = not is_img2img
            script.is_img2img = is_img2img
            visibility = script.show(script.is_img2img)
            if visibility is AlwaysVisible:
                self.scripts.append(script)
                self.alwayson_scripts.append(script)
                script.alwayson = True
            elif visibility:
                self.scripts.append(script)
                self.selectable_scripts.append(script)

    def create_script_ui(self, script):
        script.args_from = len(self.inputs)
        script.args_to = len(self.inputs)
        try:
            controls = script.ui(script.is_img2img)
        except Exception:
            errors.report(f"Error creating UI for {script.name}: ", exc_info=True)
            return
        if controls is None:
            return
        script.name = script.title().lower()
        script.controls = controls
        from modules.api import models as api_models

        api_args = []
        for control in controls:
            arg_info = api_models.ScriptArg(label=control.label or "")
            for field in ("value", "minimum", "maximum", "step"):
                value = getattr(control, field, None)
                if value is not None:
                    setattr(arg_info, field, value)
            choices = getattr(control, "choices", None)  # gradio 3.41: (name, value) tuples or strings
            if choices is not None:
                arg_info.choices = [x[0] if isinstance(x, tuple) else x for x in choices]
            api_args.append(arg_info)
        script.api_info = api_models.ScriptInfo(name=script.name, is_img2img=script.is_img2img, is_alwayson=script.alwayson, args=api_args)
        if script.infotext_fields is not None:
            self.infotext_fields += script.infotext_fields
        if script.paste_field_names is not None:
            self.paste_field_names += script.paste_field_names
        self.inputs += controls
        script.args_to = len(self.inputs)

    def setup_ui(self):
        """Build every script's UI (inside a gradio Blocks the caller opened); returns the inputs."""
        for script in self.alwayson_scripts:
            with gr.Group(visible=script.alwayson):
                self.create_script_ui(script)
        return self.inputs

    def _each(self, hook, p, *before, **kwargs):
        for script in self.alwayson_scripts:
            try:
                script_args = p.script_args[script.args_from : script.args_to]
                getattr(script, hook)(p, *before, *script_args, **kwargs)
            except Exception:
                errors.report(f"Error running {hook}: {script.filename}", exc_info=True)

    def before_process(self, p):
        self._each("before_process", p)

    def process(self, p):
        self._each("process", p)

    def process_before_every_sampling(self, p, **kwargs):
        self._each("process_before_every_sampling", p, **kwargs)

    def process_batch(self, p, **kwargs):
        self._each("process_batch", p, **kwargs)

    def on_mask_blend(self, p, mba):
        self._each("on_mask_blend", p, mba)

    def post_sample(self, p, ps):
        self._each("post_sample", p, ps)

    def postprocess_maskoverlay(self, p, ppmo):
        self._each("postprocess_maskoverlay", p, ppmo)

    def postprocess(self, p, processed):
        self._each("postprocess", p, processed)
