"""The Lightroom catalog lister (read-only, LR3 and modern schemas) and a batch driven by a catalog."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from backend.batch import ALREADY_DONE, LightroomCatalogError, list_catalog_files, run_batch
from backend.batch.lrcat_paths import join_catalog_path
from testing.lrcat_fixtures import CatalogBuilder, check_refuses_non_catalogs, default_import_settings
from tests.test_batch_support import JOURNAL, check_darktable_sidecar, expected_recipe, make_photos, make_style
from trainer.lrcat import open_catalog

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _catalog(path: Path, photos_root: Path, *, schema: str) -> dict[str, object]:
    """Two roots, nested folders, a virtual copy, an image whose file is missing on disk, one broken row."""
    trip = make_photos(photos_root / "2024" / "trip", 3)
    home = make_photos(photos_root / "home", 2, prefix="HOME_")
    make_photos(photos_root / "2024" / "trip", 1, start=50)  # on disk but not in the catalog
    with CatalogBuilder(path, schema=schema) as b:
        root = b.add_root(str(photos_root / "2024") + "/")
        trip_folder = b.add_folder(root, "trip/")
        images = []
        for p in trip:
            image = b.add_image(b.add_file(trip_folder, p.stem, "jpg"), file_format="JPG")
            b.set_settings(image, default_import_settings())
            images.append(image)
        b.add_image(b.db.execute("SELECT rootFile FROM Adobe_images WHERE id_local = ?", (images[0],)).fetchone()[0],
                    master=images[0], copy_name="Copy 1", file_format="JPG")  # fmt: skip
        root2 = b.add_root(str(photos_root / "home"))  # no trailing slash
        top = b.add_folder(root2, "")
        for p in home:
            b.add_image(b.add_file(top, p.stem, "jpg"), file_format="JPG")
        b.add_image(b.add_file(trip_folder, "GONE_0001", "jpg"), file_format="JPG")
        b.add_image(987654, file_format="JPG")  # its file row does not exist
    return {"trip": trip, "home": home, "missing": photos_root / "2024" / "trip" / "GONE_0001.jpg"}


def test_join_catalog_path() -> None:
    assert join_catalog_path("/photos/", "2012/trip/", "IMG_1", "CR2") == "/photos/2012/trip/IMG_1.CR2"
    assert join_catalog_path("/no/slash", "sub", "IMG_2", "jpg") == "/no/slash/sub/IMG_2.jpg"
    assert join_catalog_path("C:/Users/me/Pictures/", "", "DSC_1", "NEF") == "C:/Users/me/Pictures/DSC_1.NEF"
    assert join_catalog_path("/p/", "/lead/", "x", "") == "/p/lead/x"
    assert join_catalog_path(None, "a/", "x", "jpg") is None


@pytest.mark.parametrize("schema", ["lr3", "modern"])
def test_listing_matches_the_trainer_reader_and_writes_nothing(tmp_path: Path, schema: str) -> None:
    cat = tmp_path / "cat" / "Main.lrcat"
    cat.parent.mkdir()
    made = _catalog(cat, tmp_path / "photos", schema=schema)
    before = _digest(cat)
    listing = list_catalog_files(cat)
    paths = [str(f.path) for f in listing.files]
    expected = [*map(str, made["trip"]), *map(str, made["home"]), str(made["missing"])]  # type: ignore[call-overload]
    assert sorted(paths) == sorted(expected) and len(paths) == len(set(paths))
    copies = [f for f in listing.files if len(f.image_ids) == 2]
    assert [c.path.name for c in copies] == ["IMG_0000.jpg"]  # master + virtual copy: one file
    assert len(listing.unresolved) == 1 and "file row" in listing.unresolved[0][1]
    with open_catalog(cat) as reader:  # the trainer's reader joins the same paths
        theirs = {p.path for p in reader.photos(with_history=False) if p.path is not None}
    assert theirs == set(paths)
    assert _digest(cat) == before
    assert sorted(p.name for p in cat.parent.iterdir()) == ["Main.lrcat"]  # no -wal, -shm or journal


def test_not_a_catalog(tmp_path: Path) -> None:
    check_refuses_non_catalogs(
        tmp_path, list_catalog_files, LightroomCatalogError, missing_table="Adobe_images is missing"
    )


def test_batch_over_a_catalog(tmp_path: Path) -> None:
    style = make_style(tmp_path / "styles")
    cat = tmp_path / "cat" / "Main.lrcat"
    cat.parent.mkdir()
    made = _catalog(cat, tmp_path / "photos", schema="modern")
    trip, home = made["trip"], made["home"]
    assert isinstance(trip, list) and isinstance(home, list)
    summary = run_batch(lrcat=cat, hosts="darktable", style=style, jobs=1)
    assert summary.counts["written"] == 5 and summary.counts["failed"] == 2
    failures = dict(summary.failures)
    assert "not found on disk" in failures[made["missing"]]  # type: ignore[index]
    kinds = {o.photo: o.error_kind for o in summary.photos if o.failed}
    assert kinds[made["missing"]] is not None and kinds[made["missing"]].grpc_status == "NOT_FOUND"  # type: ignore[index,union-attr]
    assert "file row" in failures[cat]
    for photo in [*trip, *home]:
        check_darktable_sidecar(photo, expected_recipe(photo, style))
    unlisted = tmp_path / "photos" / "2024" / "trip" / "IMG_0050.jpg"
    assert not unlisted.with_name(unlisted.name + ".xmp").exists()  # not in the catalog: untouched
    assert (cat.parent / JOURNAL).is_file()  # no PATH: the journal lives next to the catalog
    # PATHs narrow the catalog down
    narrowed = run_batch(
        [tmp_path / "photos" / "home"], lrcat=cat, hosts="darktable", style=style, jobs=1, journal=summary.journal
    )
    assert sorted(o.photo for o in narrowed.photos) == sorted(home)
    assert narrowed.skipped_reasons == {ALREADY_DONE: 2}
