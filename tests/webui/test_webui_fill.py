"""Fill in the WebUI: kept pixels are never filled on any sampler; changed ones start from the fill."""

import pytest
import torch
from conftest import gray
from test_webui_sampling import ALL, final_latent, halves

from lib_diffdiff.fill import BLUR_FILL, NOISE, filled_original
from lib_diffdiff.params import PRESETS, STRENGTH_FAN


@pytest.mark.parametrize("sampler", ALL)
@pytest.mark.parametrize("fill", [NOISE, BLUR_FILL])
def test_an_all_keep_map_returns_the_original_latent_whatever_the_fill(webui, sampler, fill):
    latent, _, p = final_latent(webui, sampler=sampler, enabled=True, map=gray(1.0), fill=fill)
    assert torch.equal(latent, p.init_latent)


@pytest.mark.parametrize("sampler", ["Euler", "DPM++ 2M", "DDIM", "UniPC"])
def test_kept_half_is_the_original_and_the_changed_half_starts_from_the_fill(webui, sampler):
    """Halves map: latent columns 0-3 kept, 4-7 changed at full strength."""
    plain, _, _ = final_latent(webui, sampler=sampler, enabled=True, map=halves())
    filled, _, p = final_latent(webui, sampler=sampler, enabled=True, map=halves(), fill=NOISE)
    assert torch.equal(filled[..., :4], p.init_latent[..., :4])
    assert (filled[..., 4:] - plain[..., 4:]).abs().mean() > 0.01


def test_each_batch_image_is_filled_from_its_own_seed(webui):
    latent, _, p = final_latent(webui, batch_size=2, enabled=True, map=gray(0.0), fill=NOISE)
    assert p.seeds[0] != p.seeds[1]
    expected = filled_original(p.init_latent, torch.ones(8, 8), NOISE, p.seeds)
    assert not torch.equal(expected[0], expected[1])
    assert not torch.equal(latent[0], latent[1])


@pytest.mark.parametrize("source", [STRENGTH_FAN, *PRESETS])
def test_every_preset_source_takes_a_fill(webui, source):
    plain, _, _ = final_latent(webui, enabled=True, source=source)
    filled, result, _ = final_latent(webui, enabled=True, source=source, fill=BLUR_FILL)
    assert not torch.equal(plain, filled)
    assert "DiffDiff fill: blur fill" in result.infotexts[0]
