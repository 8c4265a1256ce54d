"""``suggest`` helps with what went wrong: ``--variants`` states its range, a style name typed wrong gets "did you mean",
a folder gets the command for folders, worded as ``apply`` words it (QA round D)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.agent.style import StyleStore, style_not_found
from backend.agent.suggest import MAX_VARIANTS
from backend.cli.main import build_parser
from backend.cli.outcome_report import FolderGivenError, catalog_hint
from backend.errors import NotFoundError, UnsupportedFormatError
from testing.daemon import run_main
from testing.fixtures import make_png


def test_variants_help_states_the_range(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["suggest", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps the help
    assert f"number of recipes per photo, 1 to {MAX_VARIANTS} (default 1)" in text


def _style_folder(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "styles"
    folder.mkdir()
    for name in names:  # only the names matter: a style that is not found is never read
        (folder / f"{name}.safetensors").write_bytes(b"")
        (folder / f"{name}.json").write_text("{}")
    return folder


def test_a_style_name_typed_wrong_gets_did_you_mean(tmp_path: Path) -> None:
    store = StyleStore([_style_folder(tmp_path, "default", "warm", "film-noir")])
    with pytest.raises(NotFoundError, match=r"no style named 'defualt' \(looked in .*\); did you mean 'default'\? see"):
        store.find("defualt")
    with pytest.raises(NotFoundError, match=r"did you mean 'film-noir'\?"):
        store.find("film_noir")
    with pytest.raises(NotFoundError) as caught:  # nothing close: the message as before
        store.find("zzzz")
    assert "did you mean" not in str(caught.value) and str(caught.value).endswith("; see `autoretouch styles`")


def test_did_you_mean_names_only_styles_of_the_folders_looked_in(tmp_path: Path) -> None:
    folder = _style_folder(tmp_path, "warm")
    (folder / "wram.txt").write_text("not a style")
    error = style_not_found("wram", [folder, tmp_path / "missing"], default_hint="-", listing="ListStyles")
    assert str(error).endswith("; did you mean 'warm'? see ListStyles")
    assert "did you mean" not in str(style_not_found("wram", [], default_hint="-", listing="x"))


def test_cli_suggest_with_a_style_typed_wrong(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = make_png(tmp_path, "a.png")
    code, out, err = run_main(capsys, ["suggest", str(photo), "--style", "defualt"])
    assert code == NotFoundError.exit_code and not out
    assert "no style named 'defualt'" in err and "did you mean 'default'?" in err


def test_suggest_of_a_folder_names_the_command_for_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "shoot"
    make_png(folder.mkdir() or folder, "a.png")
    code, out, err = run_main(capsys, ["suggest", str(folder)])
    assert code == UnsupportedFormatError.exit_code and not out  # 5, as before
    assert f"{folder}: a directory, not a photo; {catalog_hint(folder)}" in err
    # the same words as apply's (one string)
    assert str(FolderGivenError(folder)).endswith(catalog_hint(folder))
    # in a batch the photo beside it is still suggested
    code, out, err = run_main(capsys, ["suggest", str(folder), str(folder / "a.png")])
    assert code == 9 and catalog_hint(folder) in err and "a.png" in out
