"""MLflow as users run it: a real tracking server on loopback, and `mlflow run` on the MLproject."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def report_workspace(root: Path, repo_root: Path, uri: str) -> Path:
    """What the report stage needs: params (report, tracking) and one row's metrics."""
    ws = root / "ws"
    (ws / "metrics" / "grpo").mkdir(parents=True)
    (ws / "metrics" / "grpo" / "grpo_avqa.json").write_text(
        '{"mmau.sound": 1.0, "mmau.music": 2.0, "mmau.speech": 3.0, "mmau.average": 2.0}'
    )
    params = yaml.safe_load((repo_root / "params.yaml").read_text())
    params["tracking"]["uri"] = uri
    (ws / "params.yaml").write_text(yaml.safe_dump({k: params[k] for k in ("report", "tracking")}, sort_keys=False))
    return ws


def test_a_stage_logs_to_a_tracking_server_and_reads_back_over_rest(server, tmp_path, repo_root):
    ws = report_workspace(tmp_path, repo_root, server)
    subprocess.run(
        [sys.executable, "-m", "audioreason.stages.report"],
        cwd=ws,
        check=True,
        capture_output=True,
        env={**os.environ, "AUDIOREASON_TRACKING": "on"},
    )
    exp = requests.get(
        f"{server}/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": "audioreason"}, timeout=10
    ).json()["experiment"]
    runs = requests.post(
        f"{server}/api/2.0/mlflow/runs/search", json={"experiment_ids": [exp["experiment_id"]]}, timeout=10
    ).json()["runs"]
    assert len(runs) == 1
    run = runs[0]
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
    assert tags["mlflow.runName"] == "all.report.report.report"
    assert (tags["stage"], tags["scale"]) == ("report", "tiny")
    assert metrics["p03.rows_run"] == 2 and metrics["rows"] > 100  # grpo_avqa is a row of Tables I and II
    listed = requests.get(
        f"{server}/api/2.0/mlflow/artifacts/list",
        params={"run_id": run["info"]["run_id"], "path": "report"},
        timeout=10,
    ).json()
    assert {"report/report.md", "report/report.html", "report/run_vs_paper.png"} <= {f["path"] for f in listed["files"]}


def test_mlflow_run_of_a_stage_entry_point(tmp_path, repo_root):
    db = tmp_path / "ws" / "mlflow.db"
    ws = report_workspace(tmp_path, repo_root, f"sqlite:///{db}")
    (ws / "MLproject").write_text((repo_root / "MLproject").read_text())
    proc = subprocess.run(
        [str(BIN / "mlflow"), "run", ".", "-e", "report", "--env-manager", "local"],
        cwd=ws,
        capture_output=True,
        text=True,
        timeout=600,
        env={
            **os.environ,
            "MLFLOW_TRACKING_URI": f"sqlite:///{db}",
            "AUDIOREASON_TRACKING": "on",
            "PATH": f"{BIN}:{os.environ['PATH']}",
        },
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (ws / "outputs" / "report" / "report.md").is_file()
    with sqlite3.connect(db) as c:
        runs = c.execute("select run_uuid, status from runs").fetchall()
        tags = dict(c.execute("select key, value from tags where run_uuid=?", (runs[0][0],)).fetchall())
    # The run `mlflow run` opened is the stage's run: one run, with the project's and the stage's tags.
    assert len(runs) == 1 and runs[0][1] == "FINISHED"
    assert tags["mlflow.project.entryPoint"] == "report" and tags["stage"] == "report" and tags["paper"] == "all"
