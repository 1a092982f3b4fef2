"""A setting added to SETTINGS alone appears in the WebUI controls (with its tooltip and the preview's
default), the HTTP API, the infotext, the XYZ axes and the runner CLI.

It runs in a fresh interpreter that appends the setting to `params.SETTINGS` before any consumer is
imported, exactly as if it had been written into params.py, and reports what each layer made of it.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import html, json, sys
sys.path[:0] = [ROOT, ROOT + "/tests", ROOT + "/tests/webui_stub"]

from lib_diffdiff import params
from lib_diffdiff.setting import Setting

GRAIN = Setting("grain", "Grain", float, 0.25, "Film grain (a setting only this test adds)", "DiffDiff grain",
                0.0, 1.0, 0.05, sweepable=True, cli_flag="--map-grain")
params.SETTINGS = (*params.SETTINGS, GRAIN)
params.BY_NAME = {setting.name: setting for setting in params.SETTINGS}
params.Settings = params.settings_class(params.SETTINGS)

from fastapi.testclient import TestClient
from modules import scripts
from webui_harness import StandInWebUI

from diffdiff_webui.ui import TITLE
from diffdiff_webui.api_args import parse_script_args
from lib_diffdiff.run import build_parser
from lib_diffdiff.runner_job import settings_of

StandInWebUI(with_xyz=True)
xyz = next(data.module for data in scripts.scripts_data if data.script_class.__module__ == "xyz_grid.py")
axis = next(option for option in xyz.axis_options if option.label == "[DiffDiff] Grain")
webui = StandInWebUI()
slider = webui.components[-1]
page = next(block.value for block in webui.demo.blocks.values() if "data-defaults" in str(getattr(block, "value", "")))
answer = TestClient(webui.app()).post(
    "/sdapi/v1/img2img", json={"init_images": [], "alwayson_scripts": {TITLE: {"args": [{"enabled": True, "grain": 3}]}}}
)
cli = build_parser().parse_args(["sd", "--image", "i.png", "--map", "m.png", "--prompt", "p", "--out", "o.png", "--map-grain", "0.5"])
print(json.dumps({
    "ui": [slider.label, slider.minimum, slider.maximum, slider.value],
    "tooltip": "Film grain (a setting only this test adds)" in html.unescape(page),
    "preview_default": json.loads(html.unescape(page.split('data-defaults="')[1].split('"')[0]))["grain"],
    "api": parse_script_args([{"enabled": True, "source": "radial", "grain": "0.75"}]).grain,
    "api_refusal": [answer.status_code, answer.json()],
    "infotext": params.Settings(enabled=True, grain=0.5).infotext()["DiffDiff grain"],
    "xyz": [axis.type.__name__, axis.format_value(None, axis, "0.5")],
    "cli": settings_of(cli).grain,
}))
"""


def test_a_setting_added_to_settings_alone_reaches_every_layer():
    done = subprocess.run([sys.executable, "-c", f"ROOT = {str(ROOT)!r}\n" + PROBE], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["ui"] == ["Grain", 0.0, 1.0, 0.25]
    assert seen["tooltip"] and seen["preview_default"] == 0.25
    assert seen["api"] == 0.75
    status, body = seen["api_refusal"]
    assert status == 422 and body["error"] == "SettingsError" and body["field"] == "grain"
    assert seen["infotext"] == 0.5
    assert seen["xyz"] == ["float", "DiffDiff grain: 0.5"]
    assert seen["cli"] == 0.5
