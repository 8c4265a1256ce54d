"""Daemon logs: client-controlled strings cannot fill the disk (bounded fields and records)."""

from __future__ import annotations

import json
import logging
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from backend.daemon.logs import MAX_FIELD_CHARS, MAX_RECORD_CHARS, KeyValueFormatter, log_request
from testing.daemon import config_for, make_photos, make_style_dir, start_daemon


def test_a_huge_path_in_a_bridge_request_leaves_a_short_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "root"
    make_photos(root)
    daemon, ports = start_daemon(config_for(root, make_style_dir(tmp_path / "styles")))
    assert daemon.wait_until_serving(30)
    try:
        huge = str(root / ("x" * 900_000 + ".jpg"))  # a request within the 1 MiB limit
        body = json.dumps({"protocol_version": 1, "path": huge}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{ports.http}/v1/suggest", data=body, headers={"Content-Type": "application/json"}
        )
        with caplog.at_level(logging.DEBUG, logger="autoretouch"), pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, timeout=30)
        assert err.value.code == 400
        err.value.close()
    finally:
        daemon.stop(0.5)
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("autoretouch")]
    assert any("rpc=Suggest" in m and "chars)" in m for m in logged)
    assert sum(len(m) for m in logged) < 20 * MAX_FIELD_CHARS  # not the 1.8 MB the path would have taken


def test_fields_and_records_are_cut_with_a_note(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="autoretouch.daemon.access"):
        log_request(transport="http", rpc="Suggest", code="NOT_FOUND", photo="p" * 10_000)
    (record,) = caplog.records
    assert len(record.getMessage()) < MAX_FIELD_CHARS + 200 and "(+9488 chars)" in record.getMessage()
    assert len(record.fields["photo"]) < MAX_FIELD_CHARS + 32  # type: ignore[attr-defined]
    try:
        raise ValueError("q" * 1_000_000)
    except ValueError:
        big = logging.LogRecord("autoretouch.daemon", logging.ERROR, __file__, 1, "internal error", (), sys.exc_info())
    for as_json in (False, True):
        text = KeyValueFormatter(as_json).format(big)
        assert len(text) <= MAX_RECORD_CHARS + 32 and text.endswith("chars)")
