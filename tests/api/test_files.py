"""Artifact and checkpoint downloads: HTTP Range, and nothing served outside the data root."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from rltrack.tracking.store import Store
from rltrack.training.events import ArtifactSaved, CheckpointSaved
from tests.api.conftest import T0, run_events

CONTENT = bytes(range(256)) * 40  # 10240 bytes


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """RLTRACK_HOME of the (in-process) server, read at every request."""
    root = tmp_path / "home"
    root.mkdir()
    monkeypatch.setenv("RLTRACK_HOME", str(root))
    return root


def _artifacts(api: httpx.Client, store: Store, paths: list[str]) -> list[int]:
    store.write(run_events("files", episodes=1))
    store.write(
        [
            ArtifactSaved("files", "video", p, size=len(CONTENT), media_type="video/mp4",
                          created_at=T0)
            for p in paths
        ]
    )  # fmt: skip
    by_path = {a["name"]: a for a in api.get("/api/training-runs/files/artifacts").json()}
    return [by_path[Path(p).name]["id"] for p in paths]


def test_download_with_ranges(api: httpx.Client, store: Store, home: Path) -> None:
    (home / "videos").mkdir()
    (home / "videos" / "relative.mp4").write_bytes(CONTENT)
    (home / "absolute.mp4").write_bytes(CONTENT)
    rel, absolute = _artifacts(api, store, ["videos/relative.mp4", str(home / "absolute.mp4")])

    for artifact_id in (rel, absolute):
        r = api.get(f"/api/artifacts/{artifact_id}/download")
        assert r.status_code == 200, r.text
        assert r.content == CONTENT
        assert r.headers["content-type"] == "video/mp4"
        assert r.headers["accept-ranges"] == "bytes"
        assert r.headers["content-length"] == str(len(CONTENT))
        assert "attachment" in r.headers["content-disposition"]

    url = f"/api/artifacts/{rel}/download"
    cases = {
        "bytes=10-19": (10, 19), "bytes=10000-": (10000, 10239), "bytes=-100": (10140, 10239),
        "bytes=10200-99999": (10200, 10239), "bytes=0-0": (0, 0),
    }  # fmt: skip
    for header, (first, last) in cases.items():
        r = api.get(url, headers={"Range": header})
        assert r.status_code == 206, header
        assert r.content == CONTENT[first : last + 1], header
        assert r.headers["content-range"] == f"bytes {first}-{last}/10240"
        assert r.headers["content-length"] == str(last - first + 1)

    for header in ("bytes=10240-", "bytes=99999-100000", "bytes=-0"):
        r = api.get(url, headers={"Range": header})
        assert r.status_code == 416, header
        assert r.headers["content-range"] == "bytes */10240"
        assert r.json()["detail"]
    # Ranges this server does not honour are ignored: the whole file (RFC 9110 allows it).
    for header in (
        "bytes=0-1,5-6",
        "items=0-5",
        "bytes=9-3",
        "nonsense",
        "bytes=" + "9" * 5000 + "-",
    ):
        r = api.get(url, headers={"Range": header})
        assert r.status_code == 200 and r.content == CONTENT, header

    # If-Range: a stale validator gets the whole (changed) file, a current one the range.
    etag = api.get(url).headers["etag"]
    r = api.get(url, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert r.status_code == 206 and r.content == CONTENT[:10]
    r = api.get(url, headers={"Range": "bytes=0-9", "If-Range": '"something-else"'})
    assert r.status_code == 200 and len(r.content) == len(CONTENT)


def test_only_registered_files_inside_the_data_root(
    api: httpx.Client, store: Store, home: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("not for the API")
    (home / "link.mp4").symlink_to(outside)
    (home / "folder").mkdir()
    (home / "ok.mp4").write_bytes(CONTENT)
    paths = [
        str(outside), "../secret.txt", "link.mp4", "missing.mp4", "folder",
        str(home / "folder" / ".." / ".." / "secret.txt"), "ok.mp4",
    ]  # fmt: skip
    ids = _artifacts(api, store, paths)
    for path, artifact_id in zip(paths[:-1], ids[:-1], strict=True):
        r = api.get(f"/api/artifacts/{artifact_id}/download")
        assert r.status_code == 404, path
        assert "not for the API" not in r.text and r.json()["detail"]
    assert api.get(f"/api/artifacts/{ids[-1]}/download").content == CONTENT
    assert api.get("/api/artifacts/987654321/download").status_code == 404
    assert api.get("/api/artifacts/-1/download").status_code == 422
    assert api.get("/api/artifacts/abc/download").status_code == 422


def test_checkpoint_download(api: httpx.Client, store: Store, home: Path) -> None:
    folder = home / "runs" / "cks"
    folder.mkdir(parents=True)
    (folder / "final.zip").write_bytes(CONTENT[:1000])
    store.write(run_events("cks", episodes=5, checkpoints=(2,)))  # its path is /ck/...: outside
    store.write(
        [
            CheckpointSaved("cks", str(folder / "final.zip"), timestep=50, episode_index=4,
                            sha256="1" * 64, size=1000, kind="final", time=T0)
        ]
    )  # fmt: skip
    cks = {c["kind"]: c for c in api.get("/api/training-runs/cks/checkpoints").json()}
    r = api.get(f"/api/checkpoints/{cks['final']['id']}/download")
    assert r.status_code == 200 and r.content == CONTENT[:1000]
    assert r.headers["content-type"] == "application/zip"
    r = api.get(f"/api/checkpoints/{cks['final']['id']}/download", headers={"Range": "bytes=-10"})
    assert r.status_code == 206 and r.content == CONTENT[990:1000]
    assert api.get(f"/api/checkpoints/{cks['periodic']['id']}/download").status_code == 404
    assert api.get("/api/checkpoints/987654321/download").status_code == 404


def test_relative_data_root(
    api: httpx.Client, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RLTRACK_HOME may be relative (the default is ./rltrack-data): it is the server's."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "v.mp4").write_bytes(b"video")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RLTRACK_HOME", "data")
    (artifact_id,) = _artifacts(api, store, ["v.mp4"])
    assert api.get(f"/api/artifacts/{artifact_id}/download").content == b"video"
    assert os.getcwd() == str(tmp_path)


def test_media_types_are_the_documented_ones(api: httpx.Client, store: Store, home: Path) -> None:
    """Checkpoints are zip archives or bytes; an artifact has its record's media type when that
    is one, else the one its name suggests, else bytes."""
    for name in ("model.pt", "report.json", "a.csv", "blob.weird", "v.mp4"):
        (home / name).write_bytes(b"x")
    store.write(run_events("media", episodes=1))
    store.write(
        [
            CheckpointSaved("media", str(home / "model.pt"), timestep=10, episode_index=0,
                            sha256="1" * 64, size=1, kind="final", time=T0),
            ArtifactSaved("media", "report", "report.json", size=1, media_type="not a type",
                          created_at=T0),
            ArtifactSaved("media", "export", "a.csv", size=1,
                          media_type='text/csv; charset="utf-8"', created_at=T0),
            ArtifactSaved("media", "blob", "blob.weird", size=1, created_at=T0),
            ArtifactSaved("media", "video", "v.mp4", size=1, media_type="video/mp4/x",
                          created_at=T0),
        ]
    )  # fmt: skip
    (checkpoint,) = api.get("/api/training-runs/media/checkpoints").json()
    r = api.get(f"/api/checkpoints/{checkpoint['id']}/download")
    assert r.headers["content-type"] == "application/octet-stream"
    types = {
        a["name"]: api.get(a["url"]).headers["content-type"]
        for a in api.get("/api/training-runs/media/artifacts").json()
    }
    assert types == {
        "report.json": "application/json",
        "a.csv": 'text/csv; charset="utf-8"',
        "blob.weird": "application/octet-stream",
        "v.mp4": "video/mp4",
    }
