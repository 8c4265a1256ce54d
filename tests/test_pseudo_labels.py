"""Pseudo-labels: recipes fitted through the renderer recover a rendition's look, in range, better than PV2003."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from backend.agent.actions import AGENT_SLIDERS, bound_value, head_shape
from backend.encode import write_image
from backend.render.pipeline import render
from backend.sliders.catalog import CURVE_KNOTS, get_slider
from testing.lrcat_fixtures import make_fivek_catalog
from testing.training import ramp_photos
from trainer.config import ImitationConfig
from trainer.imitation import load_expert_data
from trainer.pseudo_labels import StemIndex, display_srgb, fit_recipes, psnr, unbound_value

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_unbound_value_inverts_bound_value() -> None:
    g = torch.Generator().manual_seed(1)
    for name in AGENT_SLIDERS:
        assert torch.equal(
            unbound_value(name, get_slider(name).identity), torch.zeros(head_shape(name), dtype=torch.float64)
        )
        z = torch.randn(1, *head_shape(name), generator=g, dtype=torch.float64)
        if name == "black_and_white":
            z = z.abs()  # one-sided: only z >= 0 is reachable
        value = bound_value(name, z)[0]
        back = bound_value(name, unbound_value(name, value)[None])[0]
        assert torch.allclose(back, value, atol=1e-6), name


def test_fit_recovers_a_known_recipe_from_identity() -> None:
    x = ramp_photos(3, 32, seed=0)
    curve = tuple(k**0.8 for k in CURVE_KNOTS)  # a lifting curve
    true = {"exposure": -0.4, "temperature": 25.0, "saturation": -30.0, "tone_curve": curve}
    with torch.no_grad():
        y = render(x, true)
    results = fit_recipes(x, y, [list(true)] * 3, None, iters=60, lr=0.05)
    for r in results:
        assert r.psnr_identity < 25.0
        assert r.psnr_fit > 40.0, r
        fitted = torch.tensor(r.values["tone_curve"])
        assert bool((fitted[1:] >= fitted[:-1]).all()) and fitted[0] == CURVE_KNOTS[0]  # monotone, endpoints fixed
        for name, value in r.values.items():
            spec = get_slider(name)
            assert spec.minimum <= float(torch.tensor(value).min()) <= float(torch.tensor(value).max()) <= spec.maximum
        # exposure and the curve can trade off (same look), white balance cannot
        assert abs(r.values["temperature"] - true["temperature"]) < 2.0
    # the reported PSNR is the PSNR of the returned recipe
    r0 = results[0]
    with torch.no_grad():
        again = psnr(display_srgb(render(x[:1], r0.values)), display_srgb(y[:1]))
    assert abs(float(again[0]) - r0.psnr_fit) < 0.01


def test_fit_of_a_photo_does_not_depend_on_its_batch() -> None:
    x = ramp_photos(2, 24, seed=3)
    with torch.no_grad():
        y = render(x, {"exposure": 0.3, "vibrance": 30.0})
    sliders = [["exposure", "vibrance"], ["exposure"]]
    both = fit_recipes(x, y, sliders, None, iters=30)
    alone = fit_recipes(x[1:], y[1:], sliders[1:], None, iters=30)
    assert both[1].values["exposure"] == pytest.approx(alone[0].values["exposure"], abs=1e-4)
    assert set(both[1].values) == {"exposure"}  # sliders outside a photo's set are not fitted
    again = fit_recipes(x, y, sliders, None, iters=30)
    assert [r.values for r in again] == [r.values for r in both]  # deterministic


def test_renditions_and_inputs_are_found_by_stem(tmp_path: Path) -> None:
    image = ramp_photos(1, 8, seed=0)
    for name in ("a0001-jmac_DSC1459.png", "a0001-jmac_DSC1459.tif", "A0002-Other.PNG", "a0003.png", ".a0004-x.png"):
        write_image(tmp_path / name, image)
    (tmp_path / "a0005-notes.txt").write_text("not a photo")
    index = StemIndex(tmp_path)
    assert index.find("a0001-jmac_DSC1459") == tmp_path / "a0001-jmac_DSC1459.tif"  # tif before png
    assert index.find("a0002-other") == tmp_path / "A0002-Other.PNG"  # case ignored when no exact match
    assert index.find("a0003-whatever") == tmp_path / "a0003.png"  # FiveK id
    assert index.find("a0004-x") is None and index.find("a0005-notes") is None
    assert len(index) == 3  # stems, not files


def test_fit_from_the_pv2003_mapping_beats_the_mapping(tmp_path: Path) -> None:
    """Renditions made with a look the PV2003 mapping only approximates: the fit recovers it."""
    fx = make_fivek_catalog(tmp_path / "fivek.lrcat", photos=3, experts=("C",))
    x = ramp_photos(3, 40, seed=5)
    (tmp_path / "in").mkdir()
    (tmp_path / "expertC").mkdir()
    for i, photo in enumerate(fx.photos):
        # expert C moved contrast, fill light, exposure, recovery, vibrance; the "true" look of those moves differs
        true = {"exposure": 0.4 + 0.1 * i, "contrast": 10.0, "highlights": -40.0, "shadows": 30.0, "vibrance": 45.0}
        write_image(tmp_path / "in" / f"{photo.base_name}.png", x[i : i + 1], bit_depth=16)
        with torch.no_grad():
            write_image(tmp_path / "expertC" / f"{photo.base_name}.png", render(x[i : i + 1], true), bit_depth=16)
    (tmp_path / "expertC" / f"{fx.photos[2].base_name}.png").unlink()  # one photo without a rendition
    icfg = ImitationConfig(fit_size=24, fit_iters=60)
    sliders = ("exposure", "contrast", "highlights", "shadows", "vibrance", "saturation")
    data = load_expert_data(
        fx.path,
        "C",
        sliders=sliders,
        max_steps=5,
        thumb=16,
        icfg=icfg,
        photos=tmp_path / "in",
        renditions=tmp_path / "expertC",
    )
    fitted = [t for t in data.targets if t.fit is not None]
    assert len(fitted) == 2 and data.summary["pseudo_labels"] == 2
    for t in fitted:
        assert t.source == "pseudo-label" and t.values == t.fit.values
        assert t.order == ("contrast", "shadows", "exposure", "highlights", "vibrance")  # the history's order
        assert t.fit.psnr_fit > 38.0, t.fit
        assert t.fit.psnr_fit > t.fit.psnr_init + 10.0  # far better than the raw mapping
    plain = data.targets[2]
    assert plain.fit is None and plain.source == "pv2003" and plain.values == {s: plain.mapped[s] for s in plain.order}
