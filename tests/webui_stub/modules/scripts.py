"""Stand-in for modules/scripts.py: the Script base class, the objects hooks receive, loading script
files, and the runner that calls the always-on scripts' hooks.

As in the WebUI, each hook gets the script's own slice of `p.script_args` (its UI components'
values, in order) after the hook's own arguments, and an exception raised in a hook is reported and
swallowed: the job goes on without that script.
"""

import importlib.util
import os
import sys
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import gradio as gr

from modules import errors

AlwaysVisible = object()


@dataclass
class MaskBlendArgs:
    """on_mask_blend: inside sampling (`denoiser` and `sigma` given) and once after it (the final blend)."""

    current_latent: Any
    nmask: Any
    init_latent: Any
    mask: Any
    blended_latent: Any
    denoiser: Any = None
    sigma: Any = None
    is_final_blend: bool = field(init=False)

    def __post_init__(self):
        self.is_final_blend = self.denoiser is None


@dataclass
class PostSampleArgs:
    samples: Any


@dataclass
class PostProcessMaskOverlayArgs:
    index: int
    mask_for_overlay: Any
    overlay_image: Any


def _no_op(self, p, *args, **kwargs):
    return None


class Script:
    """A script file's class. `ui` returns its components; `show` returns AlwaysVisible for a script
    that runs on every job of the tab. Every hook does nothing unless a script overrides it."""

    name = filename = None
    args_from = args_to = None
    alwayson = is_txt2img = is_img2img = False
    infotext_fields = paste_field_names = None
    api_info = controls = group = None

    def title(self):
        raise NotImplementedError

    def ui(self, is_img2img):
        return None

    def show(self, is_img2img):
        return True

    run = before_process = process = process_before_every_sampling = process_batch = _no_op
    on_mask_blend = post_sample = postprocess_maskoverlay = postprocess = _no_op


class ScriptClassData(NamedTuple):
    script_class: type
    path: str
    basedir: str
    module: Any


scripts_data: list = []


def load_scripts(paths_with_basedirs):
    """Import each script file as the WebUI does (module named after the file, its extension folder on
    sys.path while it is imported) and list the Script classes it defines."""
    scripts_data.clear()
    for path, basedir in paths_with_basedirs:
        spec = importlib.util.spec_from_file_location(os.path.basename(path), path)
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, basedir)
        try:
            spec.loader.exec_module(module)
        finally:
            sys.path.remove(basedir)
        defined = [value for value in vars(module).values() if isinstance(value, type) and value.__module__ == module.__name__]
        scripts_data.extend(ScriptClassData(cls, path, basedir, module) for cls in defined if issubclass(cls, Script))


def describe_arguments(script):
    """/sdapi/v1/script-info's description of a script: each component's label, value and range or choices."""
    from modules.api import models

    described = []
    for component in script.controls:
        arg = models.ScriptArg(label=component.label or "")
        for name in ("value", "minimum", "maximum", "step"):
            if getattr(component, name, None) is not None:
                setattr(arg, name, getattr(component, name))
        choices = getattr(component, "choices", None)  # gradio 3.41 keeps (label, value) pairs
        if choices is not None:
            arg.choices = [choice[0] if isinstance(choice, tuple) else choice for choice in choices]
        described.append(arg)
    return models.ScriptInfo(name=script.name, is_img2img=script.is_img2img, is_alwayson=script.alwayson, args=described)


class ScriptRunner:
    """The scripts of one tab (img2img here): their UI, and each hook called on every always-on script."""

    def __init__(self):
        self.scripts, self.alwayson_scripts, self.selectable_scripts = [], [], []
        self.inputs = [None]  # slot 0: the index of the chosen selectable script
        self.infotext_fields, self.paste_field_names = [], []

    def initialize_scripts(self, is_img2img):
        for listing in (self.scripts, self.alwayson_scripts, self.selectable_scripts):
            listing.clear()
        for data in scripts_data:
            script = data.script_class()
            script.filename, script.is_img2img, script.is_txt2img = data.path, is_img2img, not is_img2img
            shown = script.show(is_img2img)
            if not shown:
                continue
            script.alwayson = shown is AlwaysVisible
            self.scripts.append(script)
            (self.alwayson_scripts if script.alwayson else self.selectable_scripts).append(script)

    def create_script_ui(self, script):
        script.args_from = script.args_to = len(self.inputs)
        try:
            controls = script.ui(script.is_img2img)
        except Exception:
            errors.report(f"Error creating UI for {script.name}: ", exc_info=True)
            return
        if controls is None:
            return
        script.name, script.controls = script.title().lower(), controls
        script.api_info = describe_arguments(script)
        self.infotext_fields.extend(script.infotext_fields or [])
        self.paste_field_names.extend(script.paste_field_names or [])
        self.inputs.extend(controls)
        script.args_to = len(self.inputs)

    def setup_ui(self):
        """Build every always-on script's UI inside the caller's gradio Blocks; returns all inputs."""
        for script in self.alwayson_scripts:
            with gr.Group():
                self.create_script_ui(script)
        return self.inputs

    def _call(self, hook, p, *leading, **keywords):
        for script in self.alwayson_scripts:
            own_args = p.script_args[script.args_from : script.args_to]
            try:
                getattr(script, hook)(p, *leading, *own_args, **keywords)
            except Exception:
                errors.report(f"Error running {hook}: {script.filename}", exc_info=True)

    def before_process(self, p):
        self._call("before_process", p)

    def process(self, p):
        self._call("process", p)

    def process_batch(self, p, **kwargs):
        self._call("process_batch", p, **kwargs)

    def process_before_every_sampling(self, p, **kwargs):
        self._call("process_before_every_sampling", p, **kwargs)

    def on_mask_blend(self, p, mba):
        self._call("on_mask_blend", p, mba)

    def post_sample(self, p, ps):
        self._call("post_sample", p, ps)

    def postprocess_maskoverlay(self, p, ppmo):
        self._call("postprocess_maskoverlay", p, ppmo)

    def postprocess(self, p, processed):
        self._call("postprocess", p, processed)


scripts_img2img = None  # the img2img tab's ScriptRunner, once the UI is built
