"""MLflow conventions: one run per training or evaluation stage, named ``paper.table.row.stage``.

Every run carries the flattened params it read, the git commit, the DVC hashes of its
inputs (hashed as DVC hashes them), the tags ``paper`` (``p01``..``p05`` or ``common``), ``table``
and ``row``, and whatever the stage logs (metrics per category, the scorer name, the
test-set sha256, plots). :class:`NullTracker` has the same methods and records in memory,
for unit tests and non-zero ranks.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml

MAX_PARAM_CHARS = 6000  # MLflow's param value limit; longer values go in as artifacts


def git_commit(repo: str | Path = ".") -> str:
    """HEAD commit, with ``-dirty`` when tracked files changed; ``unknown`` outside git."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (subprocess.CalledProcessError, FileNotFoundError):
        return "unknown"


def dvc_hash(path: str | Path) -> str:
    """The md5 DVC records for ``path`` (a file's content md5, or a directory's ``<md5>.dir``).

    Computed with DVC's own hashing (``dvc_data``) at run time, because ``dvc.lock`` is
    written only after the stage finishes.
    """
    import tempfile

    from dvc_data.hashfile import build
    from dvc_data.hashfile.db import HashFileDB
    from dvc_objects.fs.local import LocalFileSystem

    fs = LocalFileSystem()
    with tempfile.TemporaryDirectory() as tmp:
        _, _, obj = build.build(HashFileDB(fs, tmp), str(path), fs, "md5", dry_run=True)
    return obj.hash_info.value


def dvc_tracked_hash(dvc_file: str | Path = "data.dvc") -> str:
    """md5 of the output a ``.dvc`` file tracks (``data.dvc`` -> the raw ``data/`` tree)."""
    p = Path(dvc_file)
    if not p.exists():
        return ""
    outs = (yaml.safe_load(p.read_text()) or {}).get("outs") or [{}]
    return str(outs[0].get("md5", ""))


class NullTracker:
    """Same surface as :class:`MlflowTracker`; keeps everything in memory."""

    def __init__(self):
        self.params: dict[str, Any] = {}
        self.metrics: dict[str, list[tuple[int | None, float]]] = {}
        self.tags: dict[str, str] = {}
        self.artifacts: list[str] = []
        self.run_id = "null"

    def log_params(self, params: Mapping[str, Any]) -> None:
        self.params.update(params)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        for k, v in metrics.items():
            self.metrics.setdefault(k, []).append((step, float(v)))

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self.tags.update({k: str(v) for k, v in tags.items()})

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        self.artifacts.append(str(path))

    def log_dict(self, d: Mapping[str, Any], name: str) -> None:
        self.artifacts.append(name)


class MlflowTracker(NullTracker):
    """Thin wrapper over the active MLflow run that applies the conventions above."""

    def __init__(self, run):
        super().__init__()
        import mlflow

        self._mlflow = mlflow
        self.run_id = run.info.run_id

    def log_params(self, params: Mapping[str, Any]) -> None:
        short, long = {}, {}
        for k, v in params.items():
            (long if len(str(v)) > MAX_PARAM_CHARS else short)[k] = v
        if short:
            self._mlflow.log_params({k: str(v) for k, v in short.items()})
        for k, v in long.items():
            self._mlflow.log_text(str(v), f"params/{k}.txt")
        super().log_params(params)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self._mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=step)
        super().log_metrics(metrics, step)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self._mlflow.set_tags({k: str(v) for k, v in tags.items()})
        super().set_tags(tags)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        p = Path(path)
        if p.is_dir():
            self._mlflow.log_artifacts(str(p), artifact_path)
        else:
            self._mlflow.log_artifact(str(p), artifact_path)
        super().log_artifact(path, artifact_path)

    def log_dict(self, d: Mapping[str, Any], name: str) -> None:
        self._mlflow.log_dict(dict(d), name)
        super().log_dict(d, name)


def run_name(paper: str, table: str, row: str, stage: str) -> str:
    """``p02.table2.sft_gt_label.evaluate`` style run names."""
    return f"{paper}.{table}.{row}.{stage}"


def experiment_name(base: str, paper: str) -> str:
    """One experiment per paper (``audioreason-p01`` ...); runs of no single paper go to ``base``.

    >>> experiment_name("audioreason", "p03"), experiment_name("audioreason", "all")
    ('audioreason-p03', 'audioreason')
    """
    return f"{base}-{paper}" if re.fullmatch(r"p\d\d", paper) else base


def tracking_uri(configured: str) -> str:
    """Where runs go: ``MLFLOW_TRACKING_URI`` from the environment when set, else params ``tracking.uri``.

    The server is a property of the machine the pipeline runs on (the cluster's tracking
    service, a team's compose stack), not of a stage's result, so changing it must not
    change what ``dvc repro`` considers stale.
    """
    return os.environ.get("MLFLOW_TRACKING_URI") or configured


@contextmanager
def start_run(
    *,
    uri: str,
    experiment: str,
    stage: str,
    paper: str,
    table: str,
    row: str,
    params: Mapping[str, Any],
    deps: list[str | Path] = (),
    repo: str | Path = ".",
    resume_run_id: str | None = None,
    scale: str = "",
) -> Iterator[NullTracker]:
    """Open one MLflow run for a stage, tagged and with its lineage logged.

    The run goes to the paper's experiment (:func:`experiment_name` of ``experiment``) in the
    store :func:`tracking_uri` names (``MLFLOW_TRACKING_URI`` overrides ``uri``).
    Set ``AUDIOREASON_TRACKING=off`` to get a :class:`NullTracker` instead (tests, non-zero ranks).
    ``resume_run_id`` reopens that run (an interrupted training resumed from its checkpoint
    continues the same run) when the store still has it; otherwise a new run starts.
    Under ``mlflow run`` (``MLFLOW_RUN_ID`` set) the project's run is the stage's run, in the
    store and experiment ``mlflow run`` chose.
    """
    identity = {"paper": paper, "table": table, "row": row, "stage": stage, "scale": scale}
    if os.environ.get("AUDIOREASON_TRACKING", "on") == "off" or not is_main_process():
        t = NullTracker()
        t.set_tags(identity)
        t.log_params(params)
        yield t
        return
    import mlflow

    project_run = os.environ.get("MLFLOW_RUN_ID")
    if project_run:
        resume_run_id = project_run
    else:
        mlflow.set_tracking_uri(tracking_uri(uri))
        mlflow.set_experiment(experiment_name(experiment, paper))
    if resume_run_id:
        try:
            mlflow.get_run(resume_run_id)
        except mlflow.exceptions.MlflowException:
            resume_run_id = None
    with (
        mlflow.start_run(run_id=resume_run_id)
        if resume_run_id
        else mlflow.start_run(run_name=run_name(paper, table, row, stage))
    ) as run:
        t = MlflowTracker(run)
        if project_run:
            t.set_tags({"mlflow.runName": run_name(paper, table, row, stage)})
        lineage = {f"dvc.dep.{d}": dvc_hash(d) for d in deps}
        t.set_tags(
            {
                **identity,
                "git_commit": git_commit(repo),
                "data_md5": dvc_tracked_hash(Path(repo) / "data.dvc"),
                **lineage,
            }
        )
        t.log_params(params)
        yield t


def is_main_process() -> bool:
    """Rank 0 of a ``torchrun`` / ``accelerate`` launch (or a single process): the one that logs and writes."""
    return int(os.environ.get("RANK", "0")) == 0


@dataclass
class StageRun:
    """What a stage's ``main()`` holds inside :func:`stage_run`: the tracker to pass to ``run`` and its result."""

    tracker: NullTracker
    metrics: dict[str, Any] = field(default_factory=dict)
    """Set to what ``run`` returns; logged and written when the context closes."""


def _numeric(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float))}


_DEFAULT = object()


@contextmanager
def stage_run(
    stage: str,
    tracking=None,
    *,
    cfg: Any = None,
    paper: str = "common",
    table: str = "data",
    row: str | None = None,
    deps: list[str | Path] = (),
    params: Mapping[str, Any] | None = None,
    metrics_path: str | Path | None = _DEFAULT,
    resume_run_id: str | None = None,
) -> Iterator[StageRun]:
    """The one context every stage's ``main()`` opens around ``run``.

    Opens the stage's MLflow run (:func:`start_run`: ``<paper>.<table>.<row>.<stage>``, tags,
    git commit, DVC hashes of ``deps``) or, with ``tracking=None`` or off rank 0, a
    :class:`NullTracker`. When the block ends without an error, the numeric values of
    ``StageRun.metrics`` are logged to the run and rank 0 writes them all to ``metrics_path``.

    Args:
        stage: The DVC stage (``dvc.yaml`` key, module ``audioreason.stages.<stage>``).
        tracking: The ``tracking`` params section; ``None`` for a stage that logs no run
            (data preparation, the registry gate).
        cfg: The stage's params section, logged flattened under ``<stage>.`` unless ``params`` is given.
        row: The run's row; defaults to ``stage``.
        deps: Inputs whose DVC hashes the run records.
        metrics_path: Where the metrics go; default ``metrics/<stage>.json``; ``None`` writes none.
        resume_run_id: Reopen this run (an interrupted training resumed from its checkpoint).

    Example::

        with stage_run("report", tracking, cfg=cfg, paper="all", table="report") as run_:
            run_.metrics = run(cfg, run_.tracker)
    """
    from audioreason.config import flatten
    from audioreason.pipeline import METRICS

    if params is None:
        params = flatten(cfg, stage) if cfg is not None else {}
    row = row or stage
    if tracking is None:
        tracker = NullTracker()
        tracker.set_tags({"paper": paper, "table": table, "row": row, "stage": stage})
        tracker.log_params(params)
        result = StageRun(tracker)
        yield result
        tracker.log_metrics(_numeric(result.metrics))
    else:
        with start_run(
            uri=tracking.uri,
            experiment=tracking.experiment,
            scale=tracking.scale,
            stage=stage,
            paper=paper,
            table=table,
            row=row,
            params=params,
            deps=list(deps),
            resume_run_id=resume_run_id,
        ) as tracker:
            result = StageRun(tracker)
            yield result
            tracker.log_metrics(_numeric(result.metrics))
    if metrics_path is _DEFAULT:
        metrics_path = METRICS / f"{stage}.json"
    if metrics_path is not None and is_main_process():
        write_metrics(result.metrics, metrics_path)


def write_metrics(metrics: Mapping[str, Any], path: str | Path) -> None:
    """``metrics/<stage>.json`` for ``dvc metrics show``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
