"""Differential Diffusion on every img2img tab: per-pixel edit strength from a change map.

The WebUI catches and only logs an exception raised in any script hook, so a setting or map that
cannot be used is kept on the job and raised again from inside sampling, where it fails the job
with its message instead of letting it run silently without Differential Diffusion.
"""

from __future__ import annotations

from modules import script_callbacks, scripts

from diffdiff_webui import api, ui, xyz
from diffdiff_webui.job import ATTRIBUTE, Job
from diffdiff_webui.api_args import parse_script_args
from lib_diffdiff.errors import SettingsError
from lib_diffdiff.fan import annotate_fan
from lib_diffdiff.params import SETTINGS
from lib_diffdiff.presets import STRENGTH_FAN
from diffdiff_webui.xyz_axes import apply_overrides, swept_values


class DifferentialDiffusionScript(scripts.Script):
    def title(self):
        return ui.TITLE

    def show(self, is_img2img):
        return scripts.AlwaysVisible if is_img2img else False

    def ui(self, is_img2img):
        controls = ui.build()
        self.infotext_fields = controls.infotext_fields
        self.paste_field_names = [setting.infotext for setting in SETTINGS if setting.infotext]
        return controls.components

    def process(self, p, *args):
        if (not args or args[0] is False) and not swept_values(p):
            return  # off (the accordion, or positional API args): nothing at all happens
        try:  # UI values, the API's named or positional form, then the XYZ plot's swept values
            settings = apply_overrides(parse_script_args(list(args)), p)
        except SettingsError as error:
            setattr(p, ATTRIBUTE, Job(p, None, error))
            return
        if settings.enabled:
            setattr(p, ATTRIBUTE, Job(p, settings))
            # A new dict, not an update: the XYZ plot's cells are shallow copies of one job and share its dict.
            p.extra_generation_params = {**p.extra_generation_params, **settings.infotext()}

    def process_before_every_sampling(self, p, *args, **kwargs):
        job = Job.of(p)
        if job is not None:
            job.begin_sampling(p, kwargs["x"], kwargs["noise"])

    def on_mask_blend(self, p, mba, *args):
        job = Job.of(p)
        if job is not None and job.soft_inpainting:  # the soft map decides, not the rounded mask
            mba.blended_latent = mba.current_latent

    def post_sample(self, p, ps, *args):
        job = Job.of(p)
        if job is not None:
            ps.samples = job.finish(ps.samples)

    def postprocess_maskoverlay(self, p, ppmo, *args):
        job = Job.of(p)
        if job is not None and job.composites(ppmo.overlay_image):
            ppmo.overlay_image = job.overlay(ppmo.index, ppmo.overlay_image)

    def postprocess(self, p, processed, *args):
        job = Job.of(p)
        if job is None:
            return
        job.close()
        if job.settings is not None and job.settings.source == STRENGTH_FAN:  # a labelled copy beside each result
            first = processed.index_of_first_image
            for image, infotext in list(zip(processed.images[first:], processed.infotexts[first:])):
                processed.images.append(annotate_fan(image, job.settings))
                processed.infotexts.append(infotext)


script_callbacks.on_ui_settings(ui.register_options)
script_callbacks.on_app_started(lambda demo, app: api.install(app, ui.TITLE))
script_callbacks.on_before_ui(xyz.register)
