"""Training metrics, checkpoints, evaluations and artifacts of a run, over a live server."""

from __future__ import annotations

import datetime as dt

import httpx

from rltrack.tracking.store import Store
from rltrack.training.events import ArtifactSaved, EvaluationRecorded, MetricsLogged
from tests.api.conftest import T0, run_events


def test_metric_keys_and_downsampled_series(api: httpx.Client, store: Store) -> None:
    store.write(run_events("m", episodes=3))
    spikes = {1234: 50.0, 3000: -50.0}
    store.write(
        [
            MetricsLogged(
                "m",
                timestep=10 * t,
                episodes=t // 10,
                values={"losses/td_loss": spikes.get(t, float(t % 5)), "charts/SPS": 100.0}
                | ({"rollout/ep_rew_mean": 1.5} if t % 100 == 0 else {}),
                time=T0 + dt.timedelta(seconds=t),
            )  # fmt: skip
            for t in range(4000)
        ]
    )
    r = api.get("/api/training-runs/m/metrics")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "keys": ["charts/SPS", "losses/td_loss", "rollout/ep_rew_mean"],
        "series": {},
    }

    r = api.get(
        "/api/training-runs/m/metrics",
        params={"keys": "losses/td_loss,rollout/ep_rew_mean,nope", "max_points": 200},
    )
    assert r.status_code == 200, r.text
    series = r.json()["series"]
    assert set(series) == {"losses/td_loss", "rollout/ep_rew_mean", "nope"}
    loss = series["losses/td_loss"]
    assert loss["total"] == 4000 and loss["sampled"] is True
    assert 0 < len(loss["points"]) <= 200
    steps = [p["timestep"] for p in loss["points"]]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    by_step = {p["timestep"]: p for p in loss["points"]}
    assert by_step[12340]["value"] == 50.0 and by_step[12340]["episodes"] == 123
    assert by_step[30000]["value"] == -50.0  # the min of its bucket survives too
    assert steps[0] < 1000 and steps[-1] > 38000
    rew = series["rollout/ep_rew_mean"]
    assert rew["sampled"] is False and rew["total"] == 40 and len(rew["points"]) == 40
    assert rew["points"][1] == {"timestep": 1000, "value": 1.5, "episodes": 10}
    assert series["nope"] == {"points": [], "total": 0, "sampled": False}

    assert api.get("/api/training-runs/zz/metrics").status_code == 404
    for params in ({"max_points": 1}, {"keys": ",".join(f"k{i}" for i in range(60))}):
        r = api.get("/api/training-runs/m/metrics", params=params)
        assert r.status_code == 422 and r.json()["detail"]


def test_checkpoints_and_evaluations(api: httpx.Client, store: Store) -> None:
    store.write(run_events("ck", episodes=60, checkpoints=(50, 10)))
    store.write(
        [
            EvaluationRecorded(
                "ck", checkpoint_path="/ck/ck/ep10.zip", episodes=5, mean_reward=3.5,
                std_reward=0.5, win_rate=0.6, mean_length=200.0, opponent="agent",
                metrics={"pnl": 1.0}, time=T0 + dt.timedelta(minutes=1),
            ),
            EvaluationRecorded(
                "ck", checkpoint_path=None, episodes=5, mean_reward=1.0, std_reward=0.0,
                opponent="random", time=T0 + dt.timedelta(minutes=2),
            ),
        ]
    )  # fmt: skip
    r = api.get("/api/training-runs/ck/checkpoints")
    assert r.status_code == 200, r.text
    cks = r.json()
    assert [c["path"] for c in cks] == ["/ck/ck/ep10.zip", "/ck/ck/ep50.zip"]  # by timestep
    assert set(cks[0]) == {
        "id", "path", "episode_index", "timestep", "kind", "sha256", "size", "created_at",
        "metrics",
    }  # fmt: skip
    assert cks[0]["episode_index"] == 10 and cks[0]["timestep"] == 100 and cks[0]["size"] == 123

    r = api.get("/api/training-runs/ck/evaluations")
    assert r.status_code == 200, r.text
    evals = r.json()
    assert [e["opponent"] for e in evals] == ["agent", "random"]
    assert evals[0]["checkpoint_id"] == cks[0]["id"]
    assert evals[0]["checkpoint_path"] == "/ck/ck/ep10.zip"
    assert evals[0]["mean_reward"] == 3.5 and evals[0]["win_rate"] == 0.6
    assert evals[0]["metrics"] == {"pnl": 1.0}
    assert evals[1]["checkpoint_id"] is None and evals[1]["win_rate"] is None
    assert api.get("/api/training-runs/zz/checkpoints").status_code == 404
    assert api.get("/api/training-runs/zz/evaluations").status_code == 404


def test_artifacts_are_listed_once_per_path(api: httpx.Client, store: Store) -> None:
    store.write(run_events("art", episodes=2))
    video = ArtifactSaved(
        "art", kind="video", path="videos/art/progress.mp4", size=10, media_type="video/mp4",
        created_at=T0, metadata={"episodes": [0, 1]},
    )  # fmt: skip
    report = ArtifactSaved(
        "art", kind="report", path="/data/report.html", size=5, created_at=T0,
        media_type="text/html", metadata={"format": "html", "checkpoint": 3},
    )  # fmt: skip
    store.write([video, report])
    # Written again (a replay), then re-rendered: still one record per path, the newest.
    store.write([video])
    store.write([ArtifactSaved("art", "video", video.path, size=20, created_at=T0)])
    r = api.get("/api/training-runs/art/artifacts")
    assert r.status_code == 200, r.text
    items = r.json()
    assert [a["name"] for a in items] == ["progress.mp4", "report.html"]
    first = items[0]
    assert first["kind"] == "video" and first["size"] == 20
    assert first["url"] == f"/api/artifacts/{first['id']}/download"
    assert set(first) == {
        "id", "kind", "name", "size", "media_type", "created_at", "metadata", "url",
    }  # fmt: skip
    assert items[1]["metadata"] == {"format": "html", "checkpoint": 3}
    assert items[1]["media_type"] == "text/html" and items[1]["kind"] == "report"
    assert api.get("/api/training-runs/zz/artifacts").status_code == 404
