"""A job with Differential Diffusion off is the WebUI's own img2img, bit for bit: compared with the same
jobs run by a fresh interpreter in which the extension was never imported."""

import subprocess
import sys
import textwrap

import pytest
import torch
from conftest import ROOT, SIZE, gray, scene
from modules import processing
from PIL import Image

from diffdiff_webui.job import ATTRIBUTE

CASES = {  # name: (model kind, sampler, job fields besides the picture)
    "Euler a": ("sd1", "Euler a", {}),
    "DPM++ SDE": ("sd1", "DPM++ SDE", {}),
    "DDIM": ("sd1", "DDIM", {}),
    "UniPC": ("sd1", "UniPC", {"batch_size": 2, "n_iter": 2}),
    "inpainting": ("sd1-inpainting", "DPM++ 2M", {"mask": "mask.png", "mask_blur_x": 2, "mask_blur_y": 5, "inpaint_full_res": False}),
    "only masked": ("sd1", "Euler", {"mask": "big_mask.png", "inpainting_fill": 2, "init": "big.png"}),
}

NEVER_LOADED = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import torch
    from PIL import Image

    root, folder = Path(sys.argv[1]), Path(sys.argv[2])
    sys.path[:0] = [str(root), str(root / "tests"), str(root / "tests" / "webui_stub")]
    from modules import processing, scripts, shared
    from tiny_models import TinyLatentDiffusion

    scripts.load_scripts([])  # a WebUI with no extension installed
    runner = scripts.ScriptRunner()
    runner.initialize_scripts(is_img2img=True)
    cases = torch.load(folder / "cases.pt")
    outputs = {}
    for name, (kind, sampler, fields) in cases.items():
        fields = {"inpainting_fill": 1, **fields}  # masked content "original", the UI's default (as the harness)
        init = Image.open(folder / fields.pop("init", "scene.png"))
        if "mask" in fields:
            fields["mask"] = Image.open(folder / fields["mask"])
        shared.sd_model = model = TinyLatentDiffusion(kind)
        p = processing.StableDiffusionProcessingImg2Img(
            [init], sampler_name=sampler, width=64, height=64, steps=8, denoising_strength=0.75, scripts=runner, script_args=[None], **fields
        )
        result = processing.process_images(p)
        outputs[name] = ([image.tobytes() for image in result.images], torch.cat(model.decoded))
    assert not any(name.startswith("diffdiff") or name == "differential_diffusion.py" for name in sys.modules)
    torch.save(outputs, folder / "outputs.pt")
    """
)


@pytest.fixture(scope="module")
def never_loaded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("never_loaded")
    scene().save(folder / "scene.png")
    scene(5).resize((2 * SIZE, 2 * SIZE)).save(folder / "big.png")
    mask = Image.new("L", (SIZE, SIZE), 0)
    mask.paste(255, (20, 8, 44, 40))
    mask.save(folder / "mask.png")
    mask.resize((2 * SIZE, 2 * SIZE)).save(folder / "big_mask.png")
    torch.save(CASES, folder / "cases.pt")
    subprocess.run([sys.executable, "-c", NEVER_LOADED, str(ROOT), str(folder)], check=True, timeout=600)
    return folder, torch.load(folder / "outputs.pt")


@pytest.mark.parametrize("name", list(CASES))
def test_disabled_is_plain_img2img_bit_for_bit(webui, never_loaded, name):
    folder, outputs = never_loaded
    kind, sampler, fields = CASES[name]
    fields = dict(fields)
    init = Image.open(folder / fields.pop("init", "scene.png"))
    if "mask" in fields:
        fields["mask"] = Image.open(folder / fields["mask"])
    p = webui.job(model=kind, sampler=sampler, init=init, map=gray(0.3), source="upload", **fields)  # accordion off
    model = p.sd_model
    result = processing.process_images(p)
    images, latent = outputs[name]
    assert not hasattr(p, ATTRIBUTE)
    assert torch.equal(torch.cat(model.decoded), latent)
    assert [image.tobytes() for image in result.images] == images
