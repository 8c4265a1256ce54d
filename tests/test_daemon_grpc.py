"""The daemon over real gRPC on a loopback port: every RPC, health, reflection, bad inputs, roots.

The daemon helpers (``make_style_dir``, ``make_photos``, ``start_daemon``, ...) live in :mod:`testing.daemon`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from backend.rpc import PROTOCOL_VERSION, SERVICE_NAME, pb, pb_grpc
from backend.sidecar.darktable_doc import darktable_sidecar_path
from backend.sidecar.provenance import find_provenance
from backend.sidecar.xmp import read_sidecar
from testing.daemon import health_status, serving

V = PROTOCOL_VERSION


# -- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("daemon")
    with serving(base, outside=True) as served:
        outside = served.outside
        os.symlink(outside / "secret.jpg", served.root / "escape.jpg")
        os.symlink(outside, served.root / "escape_dir")
        yield {
            "root": served.root,
            "photos": served.photos,
            "outside": outside,
            "daemon": served.daemon,
            "ports": served.ports,
            "channel": served.channel,
            "stub": served.stub,
        }


@pytest.fixture
def stub(env: dict[str, Any]) -> pb_grpc.RetoucherStub:
    return env["stub"]


def _code(excinfo: pytest.ExceptionInfo[grpc.RpcError]) -> grpc.StatusCode:
    return excinfo.value.code()  # type: ignore[attr-defined,no-any-return]


# -- Suggest ------------------------------------------------------------------------------------------


def test_suggest_by_path_returns_recipes_and_host_settings(env: dict[str, Any], stub: Any) -> None:
    req = pb.SuggestRequest(
        protocol_version=V, path=str(env["photos"]["jpg"]), hosts=[pb.HOST_LIGHTROOM, pb.HOST_DARKTABLE]
    )
    resp = stub.Suggest(req, timeout=30)
    assert resp.server_version and resp.model_version == "default@1"
    assert resp.photo.kind == "jpeg" and (resp.photo.width, resp.photo.height) == (64, 48)
    (s,) = resp.suggestions
    assert s.recipe.version == 1 and s.recipe.style == "default" and s.recipe.model == "default@1"
    assert len(s.recipe.steps) >= 1
    sliders = {step.slider for step in s.recipe.steps}
    # darktable entries and Lightroom keys exist exactly when the recipe moves sliders
    assert len(s.darktable_history) >= 1 and all(e.operation and e.params for e in s.darktable_history)
    assert len(s.lightroom_settings.fields) >= 1
    if "exposure" in sliders:
        assert "Exposure2012" in s.lightroom_settings.fields
    # deterministic: the same request gives the same recipe
    again = stub.Suggest(req, timeout=30)
    assert again.suggestions[0].recipe == s.recipe


def test_suggest_upload_equals_path_and_no_hosts_means_recipes_only(env: dict[str, Any], stub: Any) -> None:
    photo = env["photos"]["png"]
    by_path = stub.Suggest(pb.SuggestRequest(protocol_version=V, path=str(photo)), timeout=30)
    upload = pb.PhotoUpload(data=photo.read_bytes(), name="b.png")
    by_bytes = stub.Suggest(pb.SuggestRequest(protocol_version=V, upload=upload), timeout=30)
    assert by_bytes.suggestions[0].recipe == by_path.suggestions[0].recipe
    assert not by_path.suggestions[0].darktable_history and not by_path.suggestions[0].lightroom_settings.fields


def test_suggest_strength_variants_and_mix(env: dict[str, Any], stub: Any) -> None:
    path = str(env["photos"]["jpg"])
    full = stub.Suggest(pb.SuggestRequest(protocol_version=V, path=path), timeout=30).suggestions[0].recipe
    zero = stub.Suggest(pb.SuggestRequest(protocol_version=V, path=path, strength=0.0), timeout=30)
    assert len(zero.suggestions[0].recipe.steps) == 0 and len(full.steps) > 0
    many = stub.Suggest(pb.SuggestRequest(protocol_version=V, path=path, variants=3, seed=5), timeout=30)
    assert len(many.suggestions) == 3 and many.suggestions[0].recipe == full
    mix = pb.StyleMix(entries=[pb.StyleWeight(style="default", weight=0.5), pb.StyleWeight(style="warm", weight=0.5)])
    mixed = stub.Suggest(pb.SuggestRequest(protocol_version=V, path=path, mix=mix), timeout=30)
    assert mixed.model_version == "default@1+warm@1" and mixed.suggestions[0].recipe.style == "default:0.5,warm:0.5"


@pytest.mark.parametrize(
    ("build", "code"),
    [
        (lambda e: pb.SuggestRequest(protocol_version=V, path=str(e["root"] / "missing.jpg")), "NOT_FOUND"),
        (
            lambda e: pb.SuggestRequest(protocol_version=V, path=str(e["root"] / ("n" * 300 + ".jpg"))),
            "INVALID_ARGUMENT",
        ),
        (lambda e: pb.SuggestRequest(protocol_version=V, path=str(e["photos"]["truncated"])), "INVALID_ARGUMENT"),
        (lambda e: pb.SuggestRequest(protocol_version=V, path=str(e["photos"]["text"])), "INVALID_ARGUMENT"),
        (lambda e: pb.SuggestRequest(protocol_version=V, path=str(e["photos"]["big"])), "RESOURCE_EXHAUSTED"),
        (lambda e: pb.SuggestRequest(protocol_version=V, path=str(e["outside"] / "secret.jpg")), "PERMISSION_DENIED"),
        (lambda e: pb.SuggestRequest(protocol_version=V, path=str(e["root"] / "escape.jpg")), "PERMISSION_DENIED"),
        (
            lambda e: pb.SuggestRequest(protocol_version=V, path=str(e["root"] / "escape_dir" / "secret.jpg")),
            "PERMISSION_DENIED",
        ),
        (lambda e: pb.SuggestRequest(protocol_version=V, path="relative/a.jpg"), "INVALID_ARGUMENT"),
        (lambda e: pb.SuggestRequest(protocol_version=V, path=str(e["root"] / ".." / "x.jpg")), "INVALID_ARGUMENT"),
        (lambda e: pb.SuggestRequest(protocol_version=V, path=str(e["photos"]["jpg"]), style="nope"), "NOT_FOUND"),
        (lambda e: pb.SuggestRequest(protocol_version=V, path=str(e["photos"]["jpg"]), strength=2), "INVALID_ARGUMENT"),
        (
            lambda e: pb.SuggestRequest(protocol_version=V, path=str(e["photos"]["jpg"]), variants=99),
            "INVALID_ARGUMENT",
        ),
        (lambda e: pb.SuggestRequest(protocol_version=V, path=str(e["photos"]["jpg"]), hosts=[0]), "INVALID_ARGUMENT"),
        (lambda e: pb.SuggestRequest(protocol_version=V), "INVALID_ARGUMENT"),
        (lambda e: pb.SuggestRequest(path=str(e["photos"]["jpg"])), "INVALID_ARGUMENT"),
        (lambda e: pb.SuggestRequest(protocol_version=99, path=str(e["photos"]["jpg"])), "UNIMPLEMENTED"),
        (
            lambda e: pb.SuggestRequest(protocol_version=V, upload=pb.PhotoUpload(data=b"", name="x.jpg")),
            "INVALID_ARGUMENT",
        ),
        (
            lambda e: pb.SuggestRequest(protocol_version=V, upload=pb.PhotoUpload(data=b"\0" * (2 << 20), name="x")),
            "RESOURCE_EXHAUSTED",
        ),
    ],
    ids=[
        "missing",
        "name-too-long",
        "truncated",
        "not-an-image",
        "too-many-pixels",
        "outside-roots",
        "symlink-escape",
        "symlinked-dir-escape",
        "relative",
        "dotdot",
        "unknown-style",
        "bad-strength",
        "too-many-variants",
        "unspecified-host",
        "no-photo",
        "no-protocol-version",
        "unknown-protocol-version",
        "empty-upload",
        "oversize-request",
    ],
)
def test_bad_suggest_requests_get_typed_statuses_and_the_server_keeps_serving(
    env: dict[str, Any], stub: Any, build: Any, code: str
) -> None:
    with pytest.raises(grpc.RpcError) as excinfo:
        stub.Suggest(build(env), timeout=30)
    assert _code(excinfo).name == code
    details = excinfo.value.details()  # type: ignore[attr-defined]
    assert details and "internal error" not in details
    if code not in ("RESOURCE_EXHAUSTED",) or "huge" in details:
        meta = dict(excinfo.value.trailing_metadata())  # type: ignore[attr-defined]
        assert meta["autoretouch-error-type"] and int(meta["autoretouch-exit-code"]) >= 2
    assert health_status(env["channel"]) == health_pb2.HealthCheckResponse.SERVING
    assert health_status(env["channel"], SERVICE_NAME) == health_pb2.HealthCheckResponse.SERVING


def test_errors_name_the_file(env: dict[str, Any], stub: Any) -> None:
    path = env["photos"]["truncated"]
    with pytest.raises(grpc.RpcError) as excinfo:
        stub.Suggest(pb.SuggestRequest(protocol_version=V, path=str(path)), timeout=30)
    assert str(path) in excinfo.value.details()  # type: ignore[attr-defined]
    meta = dict(excinfo.value.trailing_metadata())  # type: ignore[attr-defined]
    assert meta["autoretouch-error-type"] == "CorruptImageError" and meta["autoretouch-exit-code"] == "5"


# -- WriteSidecars / Revert ---------------------------------------------------------------------------


def _recipe_pb() -> pb.Recipe:
    from backend.daemon.convert import recipe_to_pb
    from backend.recipe import Recipe

    return recipe_to_pb(Recipe.from_dict({"version": 1, "steps": [{"slider": "exposure", "value": 0.5}]}))


def test_write_sidecars_with_a_recipe_streams_per_file_then_revert(
    env: dict[str, Any], stub: Any, tmp_path: Path
) -> None:
    folder = env["root"] / "batch_recipe"
    folder.mkdir()
    for name in ("x.jpg", "y.png"):
        shutil.copy(env["photos"]["jpg"], folder / name)
    (folder / "broken.jpg").write_bytes(b"")
    req = pb.WriteSidecarsRequest(
        protocol_version=V, paths=[str(folder)], hosts=[pb.HOST_DARKTABLE, pb.HOST_LIGHTROOM], recipe=_recipe_pb()
    )
    messages = list(stub.WriteSidecars(req, timeout=60))
    files = [m.file for m in messages if m.WhichOneof("event") == "file"]
    summary = messages[-1].summary
    assert messages[-1].WhichOneof("event") == "summary"
    assert [Path(f.photo).name for f in files] == ["broken.jpg", "x.jpg", "y.png"]
    assert [f.index for f in files] == [1, 2, 3] and {f.total for f in files} == {3}
    broken = files[0]
    assert broken.error.code == "INVALID_ARGUMENT" and "broken.jpg" in broken.error.message
    assert all(o.action == pb.SIDECAR_ACTION_FAILED for o in broken.outcomes)
    for f in files[1:]:
        actions = {o.host: o.action for o in f.outcomes}
        assert actions == {pb.HOST_LIGHTROOM: pb.SIDECAR_ACTION_SKIPPED, pb.HOST_DARKTABLE: pb.SIDECAR_ACTION_WRITTEN}
        sidecar = darktable_sidecar_path(Path(f.photo))
        found = find_provenance(read_sidecar(sidecar))
        assert found is not None and found[1].recipe.settings() == {"exposure": 0.5}
    assert (summary.photos, summary.changed, summary.skipped, summary.failed) == (3, 2, 2, 2)
    # again without overwrite: skipped, files untouched
    before = darktable_sidecar_path(folder / "x.jpg").read_bytes()
    again = list(stub.WriteSidecars(req, timeout=60))
    assert again[-1].summary.changed == 0
    assert darktable_sidecar_path(folder / "x.jpg").read_bytes() == before
    # revert restores the state before: the sidecars autoretouch created are gone
    rev = stub.Revert(
        pb.RevertRequest(protocol_version=V, paths=[str(folder / "x.jpg"), str(folder / "y.png")]), timeout=30
    )
    assert rev.summary.photos == 2 and rev.summary.failed == 0
    assert not darktable_sidecar_path(folder / "x.jpg").exists()
    assert {o.action for f in rev.files for o in f.outcomes if o.host == pb.HOST_DARKTABLE} == {
        pb.SIDECAR_ACTION_DELETED
    }


def test_write_sidecars_dry_run_and_style_source(env: dict[str, Any], stub: Any) -> None:
    folder = env["root"] / "batch_style"
    (folder / "deep").mkdir(parents=True)
    shutil.copy(env["photos"]["jpg"], folder / "p.jpg")
    shutil.copy(env["photos"]["png"], folder / "deep" / "q.png")
    dry = pb.WriteSidecarsRequest(
        protocol_version=V, paths=[str(folder)], hosts=[pb.HOST_DARKTABLE], style="warm", dry_run=True, recursive=True
    )
    messages = list(stub.WriteSidecars(dry, timeout=60))
    files = [m.file for m in messages if m.WhichOneof("event") == "file"]
    assert len(files) == 2 and messages[-1].model_version == "warm@1"
    assert all(f.outcomes[0].action == pb.SIDECAR_ACTION_WOULD_WRITE and f.recipe.style == "warm" for f in files)
    assert not any(p.suffix == ".xmp" for p in folder.rglob("*"))  # a dry run writes nothing
    flat = pb.WriteSidecarsRequest(protocol_version=V, paths=[str(folder)], hosts=[pb.HOST_DARKTABLE], style="warm")
    written = [m.file for m in stub.WriteSidecars(flat, timeout=60) if m.WhichOneof("event") == "file"]
    assert [Path(f.photo).name for f in written] == ["p.jpg"]  # not recursive
    assert written[0].outcomes[0].action == pb.SIDECAR_ACTION_WRITTEN
    assert darktable_sidecar_path(folder / "p.jpg").is_file()


def _files(stub: Any, req: pb.WriteSidecarsRequest) -> list[Any]:
    return [m.file for m in stub.WriteSidecars(req, timeout=60) if m.WhichOneof("event") == "file"]


def test_style_source_reports_a_missing_photo_alone_and_writes_the_others(env: dict[str, Any], stub: Any) -> None:
    folder = env["root"] / "style_missing"
    folder.mkdir()
    shutil.copy(env["photos"]["jpg"], folder / "here.jpg")
    paths = [str(folder / "gone.jpg"), str(folder / "here.jpg")]
    req = pb.WriteSidecarsRequest(protocol_version=V, paths=paths, hosts=[pb.HOST_DARKTABLE], style="warm")
    gone, here = _files(stub, req)  # no NOT_FOUND for the whole request
    assert gone.photo == paths[0] and gone.error.code == "NOT_FOUND" and "gone.jpg" in gone.error.message
    assert gone.outcomes[0].action == pb.SIDECAR_ACTION_FAILED
    assert (
        here.outcomes[0].action == pb.SIDECAR_ACTION_WRITTEN and darktable_sidecar_path(folder / "here.jpg").is_file()
    )


def test_paths_too_long_to_exist_fail_alone_as_not_found(env: dict[str, Any], stub: Any) -> None:
    folder = env["root"] / "too_long"
    folder.mkdir()
    shutil.copy(env["photos"]["jpg"], folder / "ok.jpg")
    long_name = str(folder / ("y" * 300 + ".jpg"))  # one name over 255 bytes
    long_path = str(folder / "/".join(["z" * 200] * 21))  # over 4,096 bytes in all
    paths = [long_name, long_path, str(folder / "ok.jpg")]
    for source in ({"recipe": _recipe_pb()}, {"style": "warm"}):
        req = pb.WriteSidecarsRequest(protocol_version=V, paths=paths, hosts=[pb.HOST_DARKTABLE], **source)
        files = _files(stub, req)
        assert [f.photo for f in files] == paths
        for f in files[:2]:
            assert f.error.code == "NOT_FOUND" and f.error.type == "NotFoundError", f.error
            assert f.photo[:300] in f.error.message and "too long" in f.error.message
        assert files[2].outcomes[0].action in (pb.SIDECAR_ACTION_WRITTEN, pb.SIDECAR_ACTION_SKIPPED)
    rev = stub.Revert(pb.RevertRequest(protocol_version=V, paths=paths, hosts=[pb.HOST_DARKTABLE]), timeout=30)
    assert [f.error.code for f in rev.files] == ["NOT_FOUND", "NOT_FOUND", ""]
    assert rev.files[2].outcomes[0].action == pb.SIDECAR_ACTION_DELETED


def test_concurrent_style_requests_in_one_folder_all_write_and_leave_no_journal(env: dict[str, Any], stub: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from backend.batch import DEFAULT_JOURNAL_NAME

    folder = env["root"] / "concurrent"
    folder.mkdir()
    names = [f"p{i}.jpg" for i in range(4)]
    for name in names:
        shutil.copy(env["photos"]["jpg"], folder / name)

    def one(name: str) -> Any:
        req = pb.WriteSidecarsRequest(
            protocol_version=V, paths=[str(folder / name)], hosts=[pb.HOST_DARKTABLE], style="warm"
        )
        return _files(stub, req)

    with ThreadPoolExecutor(len(names)) as pool:
        results = list(pool.map(one, names))
    for (f,) in results:
        assert not f.HasField("error") and f.outcomes[0].action == pb.SIDECAR_ACTION_WRITTEN, f
    assert all(darktable_sidecar_path(folder / n).is_file() for n in names)
    assert not (folder / DEFAULT_JOURNAL_NAME).exists()  # a list of photos keeps no journal
    # a second request for the same photos: never applied twice
    (again,) = one(names[0])
    assert again.outcomes[0].action == pb.SIDECAR_ACTION_SKIPPED
    # a folder run still keeps (and resumes from) the journal in the folder
    run = pb.WriteSidecarsRequest(protocol_version=V, paths=[str(folder)], hosts=[pb.HOST_DARKTABLE], style="warm")
    assert len(_files(stub, run)) == len(names) and (folder / DEFAULT_JOURNAL_NAME).is_file()


def test_write_sidecars_refuses_paths_outside_roots_and_symlink_escapes(env: dict[str, Any], stub: Any) -> None:
    outside = pb.WriteSidecarsRequest(
        protocol_version=V, paths=[str(env["outside"])], hosts=[pb.HOST_DARKTABLE], recipe=_recipe_pb()
    )
    with pytest.raises(grpc.RpcError) as excinfo:
        list(stub.WriteSidecars(outside, timeout=30))
    assert _code(excinfo) == grpc.StatusCode.PERMISSION_DENIED
    linked = pb.WriteSidecarsRequest(
        protocol_version=V, paths=[str(env["root"] / "escape.jpg")], hosts=[pb.HOST_DARKTABLE], recipe=_recipe_pb()
    )
    with pytest.raises(grpc.RpcError) as excinfo:
        list(stub.WriteSidecars(linked, timeout=30))
    assert _code(excinfo) == grpc.StatusCode.PERMISSION_DENIED
    # a folder inside the root holding a symlink that escapes: that file fails alone, nothing is written outside
    folder = env["root"] / "with_link"
    folder.mkdir()
    os.symlink(env["outside"] / "secret.jpg", folder / "link.jpg")
    shutil.copy(env["photos"]["jpg"], folder / "ok.jpg")
    req = pb.WriteSidecarsRequest(
        protocol_version=V, paths=[str(folder)], hosts=[pb.HOST_DARKTABLE], recipe=_recipe_pb()
    )
    files = [m.file for m in stub.WriteSidecars(req, timeout=30) if m.WhichOneof("event") == "file"]
    by_name = {Path(f.photo).name: f for f in files}
    assert by_name["link.jpg"].error.code == "PERMISSION_DENIED"
    assert by_name["ok.jpg"].outcomes[0].action == pb.SIDECAR_ACTION_WRITTEN
    assert sorted(p.name for p in env["outside"].iterdir()) == ["secret.jpg"]


def test_write_sidecars_needs_hosts_and_a_source(env: dict[str, Any], stub: Any) -> None:
    for req in (
        pb.WriteSidecarsRequest(protocol_version=V, paths=[str(env["root"])], recipe=_recipe_pb()),
        pb.WriteSidecarsRequest(protocol_version=V, paths=[str(env["root"])], hosts=[pb.HOST_DARKTABLE]),
        pb.WriteSidecarsRequest(protocol_version=V, hosts=[pb.HOST_DARKTABLE], recipe=_recipe_pb()),
        pb.WriteSidecarsRequest(
            protocol_version=V, paths=[str(env["root"])], hosts=[pb.HOST_DARKTABLE], recipe=pb.Recipe(version=7)
        ),
    ):
        with pytest.raises(grpc.RpcError) as excinfo:
            list(stub.WriteSidecars(req, timeout=30))
        assert _code(excinfo) == grpc.StatusCode.INVALID_ARGUMENT


# -- ListStyles, health, reflection -------------------------------------------------------------------


def test_list_styles(stub: Any) -> None:
    resp = stub.ListStyles(pb.ListStylesRequest(protocol_version=V), timeout=10)
    assert resp.default_style == "default" and resp.model_version == "default@1"
    styles = {s.name: s for s in resp.styles}
    assert set(styles) == {"default", "warm"}
    warm = styles["warm"]
    assert warm.loaded and warm.model == "warm@1" and warm.description == "test style warm" and not warm.error
    assert list(warm.agent.fields["sliders"].list_value.values)


def test_health_and_reflection_list_the_service(env: dict[str, Any]) -> None:
    assert health_status(env["channel"], SERVICE_NAME) == health_pb2.HealthCheckResponse.SERVING
    stub = reflection_pb2_grpc.ServerReflectionStub(env["channel"])
    responses = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10)
    names = {s.name for r in responses for s in r.list_services_response.service}
    assert {"autoretouch.v1.Retoucher", "grpc.health.v1.Health"} <= names
    files = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(file_containing_symbol="autoretouch.v1.Retoucher")]), timeout=10
    )
    protos = [b for r in files for b in r.file_descriptor_response.file_descriptor_proto]
    assert protos and any(b"autoretouch/v1/retoucher.proto" in b for b in protos)
