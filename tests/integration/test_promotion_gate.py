"""The retraining's promotion gate (stage ``register``) against a real ``mlflow server`` on loopback.

What the scheduled retraining relies on: a better challenger moves the ``champion`` alias, a
worse one is registered but does not, and a candidate without the validation metric stops the
stage with an error that names the file, before anything is registered.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from audioreason.promotion import CHAMPION, PromotionError, promote_champion

pytestmark = pytest.mark.slow
METRIC = "selection.avqa_val.accuracy"
NAME = "audioreason-p03"


def workspace(root: Path, repo_root: Path) -> Path:
    """params (register: two GRPO candidates; tracking) and the candidates' model folders."""
    ws = root / "ws"
    params = yaml.safe_load((repo_root / "params.yaml").read_text())
    params["register"] = {
        "models": {"p03": {"name": NAME, "metric": METRIC, "candidates": ["grpo/grpo_avqa", "grpo/grpo_avqa_gpt"]}}
    }
    for row in ("grpo_avqa", "grpo_avqa_gpt"):
        (ws / "outputs" / "grpo" / row / "model").mkdir(parents=True)
        (ws / "outputs" / "grpo" / row / "model" / "weights.txt").write_text(row)
    (ws / "metrics" / "grpo").mkdir(parents=True)
    (ws / "params.yaml").write_text(yaml.safe_dump({k: params[k] for k in ("register", "tracking")}, sort_keys=False))
    return ws


def run_gate(ws: Path, server: str, **scores: float | None) -> subprocess.CompletedProcess:
    """Write each row's validation metric (``None``: the file lacks it), then run the stage."""
    for row, value in scores.items():
        metrics = {"mmau.average": 50.0} if value is None else {METRIC: value, "mmau.average": 50.0}
        (ws / "metrics" / "grpo" / f"{row}.json").write_text(json.dumps(metrics))
    return subprocess.run(
        [sys.executable, "-m", "audioreason.stages.register"],
        cwd=ws,
        capture_output=True,
        text=True,
        env={**os.environ, "AUDIOREASON_TRACKING": "on", "MLFLOW_TRACKING_URI": server},
    )


def champion(server: str) -> tuple[int, str, int]:
    """(champion version, its selection value, number of versions) read back from the server."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=server, registry_uri=server)
    held = client.get_model_version_by_alias(NAME, CHAMPION)
    return int(held.version), held.tags["selection_value"], len(client.search_model_versions(f"name='{NAME}'"))


def test_better_moves_the_alias_worse_does_not_missing_metric_fails(server, tmp_path, repo_root):
    ws = workspace(tmp_path, repo_root)

    first = run_gate(ws, server, grpo_avqa=40.0, grpo_avqa_gpt=42.5)
    assert first.returncode == 0, first.stderr
    assert champion(server) == (1, "42.5", 1)
    assert "is the champion" in first.stdout and "grpo/grpo_avqa_gpt" in first.stdout
    from mlflow import MlflowClient

    v1 = MlflowClient(tracking_uri=server, registry_uri=server).get_model_version(NAME, "1")
    assert v1.source.startswith("mlflow-artifacts:/") and v1.source.endswith("/model") and v1.run_id
    listed = requests.get(
        f"{server}/api/2.0/mlflow/artifacts/list", params={"run_id": v1.run_id, "path": "model"}, timeout=10
    ).json()
    assert [f["path"] for f in listed["files"]] == ["model/weights.txt"]

    better = run_gate(ws, server, grpo_avqa=47.0, grpo_avqa_gpt=42.5)
    assert better.returncode == 0, better.stderr
    assert champion(server) == (2, "47.0", 2)
    assert json.loads((ws / "metrics" / "register.json").read_text()) == {
        "p03.promoted": 1,
        "p03.value": 47.0,
        "p03.version": 2,
    }

    worse = run_gate(ws, server, grpo_avqa=45.0, grpo_avqa_gpt=44.0)
    assert worse.returncode == 0, worse.stderr
    assert champion(server) == (2, "47.0", 3)  # registered as v3, the alias stays on v2
    assert "did not beat the champion v2 (47.0)" in worse.stdout
    assert json.loads((ws / "metrics" / "register.json").read_text())["p03.promoted"] == 0

    missing = run_gate(ws, server, grpo_avqa=None, grpo_avqa_gpt=90.0)
    assert missing.returncode == 1
    assert f"metrics/grpo/grpo_avqa.json has no '{METRIC}'" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert champion(server) == (2, "47.0", 3)  # nothing registered, nothing moved


def test_a_champion_chosen_by_another_metric_stops_the_gate(server):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=server, registry_uri=server)
    promote_champion(client, NAME, source="s3://models/a", run_id=None, metric="avqa_val.loss", value=0.7)
    with pytest.raises(PromotionError, match="chosen by 'avqa_val.loss'"):
        promote_champion(client, NAME, source="s3://models/b", run_id=None, metric=METRIC, value=99.0)
    with pytest.raises(PromotionError, match="not a finite number"):
        promote_champion(client, NAME, source="s3://models/c", run_id=None, metric=METRIC, value=float("nan"))
    assert len(client.search_model_versions(f"name='{NAME}'")) == 1
