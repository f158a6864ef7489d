"""What the stage tests share: run a stage as DVC runs it, edit a workspace's params, read its MLflow
runs, and build a workspace (shrunk params.yaml, a fresh world, the upstream stages)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from audioreason import warm
from helpers import shrink_world

BIN = Path(sys.executable).parent
STAGE_TIMEOUT_S = 900
_warm_socket: list[str] = []  # the session's warm server (audioreason.warm), once a stage test asks for one


def _run_stage(
    ws: Path, stage: str, *args: str, launcher: Sequence[str] | None = None, check: bool = True, **env: str
) -> subprocess.CompletedProcess:
    """``python -m audioreason.stages.<stage> ARGS`` in ``ws`` (or ``LAUNCHER audioreason.stages.<stage> ARGS``,
    e.g. ``torchrun --nproc_per_node=1 -m``), the virtualenv's bin first on PATH and ``env`` added.

    Without a launcher the stage is forked from the session's warm server, as ``make repro`` runs it
    (``python -m audioreason.warm -m ...``; a plain process where the environment differs from the server's).
    With ``check`` a non-zero exit fails the test with the ends of stdout and stderr.
    """
    plain = [sys.executable, "-m", "audioreason.warm", "-m"] if _warm_socket else [sys.executable, "-m"]
    cmd = [*(launcher or plain), f"audioreason.stages.{stage}", *args]
    server = {warm.ENV: _warm_socket[0]} if _warm_socket and not launcher else {}
    proc = subprocess.run(
        cmd,
        cwd=ws,
        capture_output=True,
        text=True,
        timeout=STAGE_TIMEOUT_S,
        env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", **env, **server},
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


def _set_params(ws: Path, edit: Callable[[dict], object]) -> dict:
    """Apply ``edit`` to the workspace's params.yaml in place; returns the edited params."""
    params = yaml.safe_load((ws / "params.yaml").read_text())
    edit(params)
    (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return params


@dataclass(frozen=True)
class MlflowRun:
    """One run of a workspace's MLflow store (``mlflow.db``), read with plain SQL."""

    run_id: str
    tags: dict[str, str]
    metrics: dict[str, float]  # the latest value of every metric key
    params: dict[str, str]


def _mlflow_run(ws: Path, name: str) -> MlflowRun:
    """The run named ``name`` in ``ws/mlflow.db`` (the first one, where a name was reused)."""
    with sqlite3.connect(ws / "mlflow.db") as db:
        (run_id,) = db.execute("select run_uuid from runs where name=?", (name,)).fetchone()

        def mapping(table: str) -> dict:
            return dict(db.execute(f"select key, value from {table} where run_uuid=?", (run_id,)).fetchall())

        return MlflowRun(run_id, mapping("tags"), mapping("latest_metrics"), mapping("params"))


@pytest.fixture(scope="session")
def warm_server() -> Iterator[str | None]:
    """One warm interpreter for the session's stage processes (torch, transformers ... imported once)."""
    with warm.server({**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}) as path:
        _warm_socket[:] = [path] if path else []
        yield path
        _warm_socket.clear()


@pytest.fixture(scope="session")
def run_stage(warm_server) -> Callable[..., subprocess.CompletedProcess]:
    """``run_stage(ws, stage, *args, launcher=None, check=True, **env)``: one stage, as DVC runs it."""
    return _run_stage


@pytest.fixture(scope="session")
def set_params() -> Callable[[Path, Callable[[dict], object]], dict]:
    """``set_params(ws, edit)``: edit the workspace's params.yaml in place."""
    return _set_params


@pytest.fixture(scope="session")
def mlflow_run() -> Callable[[Path, str], MlflowRun]:
    """``mlflow_run(ws, name)``: the tags, latest metrics and params of one run of the workspace."""
    return _mlflow_run


@pytest.fixture(scope="session")
def make_workspace(tmp_path_factory, repo_root, warm_server) -> Callable[..., Path]:
    """``make_workspace(name, edit_params, stages=(), links=())``: a fresh stage workspace.

    The workspace's params.yaml is the repository's with the world shrunk (:func:`helpers.shrink_world`),
    then ``edit_params`` applied, and MLflow in the workspace's own ``mlflow.db``; ``links`` are
    repository folders linked in (``docker`` for the DeepSpeed configs). The world is generated
    under ``data/`` and ``stages`` run in order.
    """

    def make(
        name: str, edit_params: Callable[[dict], object], stages: Sequence[str] = (), links: Sequence[str] = ()
    ) -> Path:
        ws = tmp_path_factory.mktemp(name)
        params = yaml.safe_load((repo_root / "params.yaml").read_text())
        shrink_world(params["world"])
        edit_params(params)
        params["tracking"]["uri"] = f"sqlite:///{ws / 'mlflow.db'}"
        (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        for link in links:
            (ws / link).symlink_to(repo_root / link)
        subprocess.run(
            [sys.executable, "-m", "audioreason.cli", "world", "--out", "data"], cwd=ws, check=True, capture_output=True
        )
        for stage in stages:
            _run_stage(ws, stage)
        return ws

    return make
