"""Messages around pairing and photo folders that help the user on: a catalog collection named in the wrong
case gets a did-you-mean and the catalog's collections, and a folder of one photo that cannot be used says so in
the singular.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from backend.cli.main import main
from backend.encode import write_image
from backend.errors import NotFoundError
from testing.lrcat_fixtures import CatalogBuilder
from trainer.data.folders import load_folder
from trainer.lrcat.favourites import select_favourites
from trainer.lrcat.reader import open_catalog


def _catalog(path: Path, photos: Path) -> None:
    """A catalog with one photo in the regular collection ``Best`` and a set ``Trips`` holding ``Italy``."""
    photos.mkdir()
    write_image(photos / "p0.png", torch.rand(1, 3, 32, 32))
    with CatalogBuilder(path, schema="modern") as b:
        folder = b.add_folder(b.add_root(str(photos) + "/"), "")
        image = b.add_image(b.add_file(folder, "p0", "png"), file_format="PNG", rating=4, pick=1)
        b.set_settings(image, {"ProcessVersion": "11.0", "WhiteBalance": "As Shot", "Exposure2012": 0.5})
        b.add_to_collection(b.add_collection("Best"), image)
        b.add_collection("Italy", b.add_collection("Trips", kind="group"))


def test_a_collection_named_in_the_wrong_case_gets_a_hint(tmp_path: Path) -> None:
    _catalog(tmp_path / "c.lrcat", tmp_path / "photos")
    with open_catalog(tmp_path / "c.lrcat") as cat, pytest.raises(NotFoundError) as missing:
        select_favourites(cat, "collection:best")
    assert str(missing.value) == (
        f"{tmp_path / 'c.lrcat'}: no collection called 'best'; did you mean 'Best'? "
        "the catalog's collections: 'Best', 'Trips', 'Trips/Italy'"
    )


def test_train_names_the_collection_it_could_mean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _catalog(tmp_path / "c.lrcat", tmp_path / "photos")
    argv = ["train", "--style", "s", "--lrcat", str(tmp_path / "c.lrcat"), "--favourites", "collection:Itally"]
    rc = main([*argv, "--steps", "2", "--run-dir", str(tmp_path / "run"), "--no-install"])
    err = capsys.readouterr().err
    assert rc == 6  # not found, before any training
    assert err == (
        f"autoretouch: error: {tmp_path / 'c.lrcat'}: no collection called 'Itally'; did you mean 'Italy'? "
        "the catalog's collections: 'Best', 'Trips', 'Trips/Italy'\n"
    )
    assert not (tmp_path / "run" / "style").exists()


def test_a_folder_of_one_photo_that_cannot_be_decoded_reads_right(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(NotFoundError) as one:
        load_folder([tmp_path / "empty.jpg"], cache_size=16, eval_size=16, crops=1, seed=0)
    assert str(one.value) == f"{tmp_path}: the only photo could not be decoded"
    (tmp_path / "empty2.jpg").write_bytes(b"")
    with pytest.raises(NotFoundError) as two:
        load_folder([tmp_path / "empty.jpg", tmp_path / "empty2.jpg"], cache_size=16, eval_size=16, crops=1, seed=0)
    assert str(two.value) == f"{tmp_path}: none of the 2 photos could be decoded"


def test_a_folder_of_one_photo_too_small_reads_right(tmp_path: Path) -> None:
    write_image(tmp_path / "tiny.png", torch.rand(1, 3, 4, 4))
    with pytest.raises(NotFoundError) as one:
        load_folder([tmp_path / "tiny.png"], cache_size=16, eval_size=16, crops=1, seed=0, min_side=16)
    assert str(one.value) == (
        f"{tmp_path}: the only photo could not be used (too small to learn from, under 16 pixels a side: tiny.png (4x4))"
    )
