"""The browser preview's map transform and presets match the engine's, on the same input."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from lib_diffdiff.maps import MapOptions, to_change
from lib_diffdiff.params import Settings
from lib_diffdiff.presets import PRESETS, preset_map

SCRIPT = Path(__file__).resolve().parents[2] / "javascript" / "differential_diffusion.js"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

RUNNER = """
const preview = require(process.argv[1]);
const job = JSON.parse(require("fs").readFileSync(0, "utf8"));
const result = job.preset
    ? preview.diffdiffPreset(job.preset, job.width, job.height, job.fan)
    : preview.diffdiffToChange(Float32Array.from(job.gray), job.width, job.height, job.options);
process.stdout.write(JSON.stringify(Array.from(result)));
"""


def run_js(job: dict) -> torch.Tensor:
    output = subprocess.run([NODE, "-e", RUNNER, str(SCRIPT)], input=json.dumps(job), capture_output=True, text=True, check=True)
    return torch.tensor(json.loads(output.stdout)).view(job["height"], job["width"])


OPTIONS = [
    MapOptions(),
    MapOptions("white changes", invert=True),
    MapOptions(blur=1.5, contrast=2.0, strength=0.7),
    MapOptions("white changes", blur=0.4, contrast=0.3, strength=1.6),
]


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_map_transform_matches_the_engine(options):
    gray = torch.rand(13, 17, generator=torch.Generator().manual_seed(5))
    job = {"gray": gray.flatten().tolist(), "width": 17, "height": 13, "options": vars(options)}
    expected = to_change(gray, options)
    assert torch.allclose(run_js(job), expected, atol=1e-5)


FAN = {"fan_layout": "sectors", "fan_count": 5.0, "fan_from": 0.2, "fan_to": 0.9}


@pytest.mark.parametrize("convention", ["white keeps", "white changes"])
@pytest.mark.parametrize("layout", ["sectors", "strips"])
@pytest.mark.parametrize("preset", list(PRESETS))
def test_presets_match_the_engine(preset, layout, convention):
    settings = Settings(source=preset, convention=convention, **{**FAN, "fan_layout": layout})
    fan = {"layout": layout, "count": FAN["fan_count"], "start": FAN["fan_from"], "end": FAN["fan_to"], "convention": convention}
    expected = preset_map(preset, 23, 13, settings)
    assert torch.allclose(run_js({"preset": preset, "width": 23, "height": 13, "fan": fan}), expected, atol=1e-6)
