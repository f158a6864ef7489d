"""Where the runs go: the MLflow tracking server named by the environment, or params' own URI."""

from __future__ import annotations

from audioreason.tracking import tracking_uri


def test_the_tracking_server_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking_uri("sqlite:///mlflow.db") == "sqlite:///mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.audioreason.svc.cluster.local:5000")
    assert tracking_uri("sqlite:///mlflow.db") == "http://mlflow.audioreason.svc.cluster.local:5000"
