"""exiftool reads back every crs: property we write, and finds our sidecars valid.

Needs exiftool: skipped when it is missing, a failure under CI=true.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from backend.decode.types import AsShotWhiteBalance
from backend.sidecar.apply import PhotoInfo, apply_to_photo
from backend.sidecar.lightroom_xmp import crs_properties
from backend.sidecar.revert import revert_photo
from backend.sidecar.xmp import NS
from backend.translate.lightroom import recipe_to_develop_settings
from testing.needs import missing
from testing.recipes import every_slider_recipe

pytestmark = pytest.mark.host

EXIFTOOL = shutil.which("exiftool")
if EXIFTOOL is None:
    missing("exiftool is not installed (apt-get install libimage-exiftool-perl)", module_level=True)

AS_SHOT = AsShotWhiteBalance((2.1, 1.0, 1.4), (0.476, 1.0, 0.714), kelvin=4850.0, tint=6.0)
FULL = every_slider_recipe()
#: exiftool's tag name where it differs from the XMP property name.
EXIFTOOL_NAME = {"Temperature": "ColorTemperature"}


def exiftool(*args: str) -> str:
    assert EXIFTOOL is not None
    done = subprocess.run([EXIFTOOL, *args], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _same(ours: str | list[str], theirs: Any) -> bool:
    if isinstance(ours, list):
        return theirs == ours
    if isinstance(theirs, bool):
        return str(theirs) == ours
    try:
        return float(theirs) == float(ours)
    except (TypeError, ValueError):
        return str(theirs) == ours


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    photo = tmp_path_factory.mktemp("exiftool") / "DSC_0042.NEF"
    photo.write_bytes(b"not a real raw")
    info = PhotoInfo(is_raw=True, long_side_px=6000, as_shot=AS_SHOT)
    outcomes = apply_to_photo(photo, FULL, host="both", info=info)
    assert [o.action for o in outcomes] == ["written", "written"]
    return photo


def test_exiftool_reads_back_every_crs_property(written: Path) -> None:
    sidecar = written.with_suffix(".xmp")
    settings = recipe_to_develop_settings(FULL, is_raw=True, as_shot=AS_SHOT)
    props = crs_properties(settings, is_raw=True, photo_name=written.name)
    (tags,) = json.loads(exiftool("-XMP-crs:all", "-XMP-photoshop:all", "-n", "-j", str(sidecar)))
    crs_uri, checked = NS["crs"], 0
    for name, value in props:
        uri, _, local = name[1:].partition("}")
        tag = EXIFTOOL_NAME.get(local, local) if uri == crs_uri else local
        assert tag in tags, f"exiftool does not see {local}"
        assert _same(value, tags[tag]), (local, value, tags[tag])
        checked += 1
    assert checked == len(props) >= 50  # 24 HSL keys, 4 curves, WB, tone, presence, flags
    assert tags["ColorTemperature"] == settings["Temperature"]


@pytest.mark.parametrize("which", ["lightroom", "darktable"])
def test_exiftool_validates_our_sidecars(written: Path, which: str) -> None:
    sidecar = written.with_suffix(".xmp") if which == "lightroom" else written.with_name(written.name + ".xmp")
    out = exiftool("-validate", "-warning", "-a", str(sidecar))
    lines = [line for line in out.splitlines() if line.strip()]
    if which == "darktable":
        # darktable itself writes an empty masks_history Seq; exiftool notes it as a minor warning, nothing else.
        known = "Warning                         : [minor] Ignored empty rdf:Seq list for darktable:masks_history"
        assert lines in (
            ["Validate                        : OK"],
            ["Validate                        : 1 Warning (minor)", known],
        ), out
    else:
        assert lines == ["Validate                        : OK"], out


def test_exiftool_element_form_sidecar_round_trips(tmp_path: Path) -> None:
    """A sidecar exiftool wrote (element form, several descriptions) is overwritten and reverted exactly."""
    photo = tmp_path / "IMG_7.CR2"
    photo.write_bytes(b"raw")
    sidecar = photo.with_suffix(".xmp")
    exiftool(
        "-o",
        str(sidecar),
        "-XMP-xmp:Rating=3",
        "-XMP-dc:Subject=alpha",
        "-XMP-dc:Subject=beta",
        "-XMP-crs:Exposure2012=+1.00",
        "-XMP-crs:HasSettings=True",
        "-XMP-crs:ToneCurvePV2012=0, 0",
        "-XMP-crs:ToneCurvePV2012=255, 240",
    )
    before = json.loads(exiftool("-j", "-G1", "-XMP:all", str(sidecar)))[0]
    info = PhotoInfo(is_raw=True, long_side_px=3000, as_shot=None)
    (skipped,) = apply_to_photo(photo, FULL, host="lightroom", info=info)
    assert skipped.action == "skipped"
    (done,) = apply_to_photo(photo, FULL, host="lightroom", info=info, overwrite=True)
    assert done.action == "written"
    mid = json.loads(exiftool("-j", "-G1", "-XMP:all", str(sidecar)))[0]
    assert mid["XMP-crs:Exposure2012"] == "+0.60" and mid["XMP-xmp:Rating"] == 3
    assert mid["XMP-dc:Subject"] == ["alpha", "beta"]
    assert [o.action for o in revert_photo(photo, host="lightroom")] == ["reverted"]
    after = json.loads(exiftool("-j", "-G1", "-XMP:all", str(sidecar)))[0]
    volatile = {"SourceFile", "System:FileSize", "System:FileModifyDate", "System:FileAccessDate"}
    assert {k: v for k, v in after.items() if k not in volatile} == {
        k: v for k, v in before.items() if k not in volatile
    }
