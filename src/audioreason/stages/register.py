"""Stage ``register``: each paper's best model into the MLflow Model Registry, alias ``champion``.

For every paper in ``register.models``, the candidate rows (``<stage>/<row>``) are compared
on a validation metric named in params (AVQA val accuracy of the chosen checkpoint; never a
test-set number). The best becomes a new version of the paper's registered model
(``audioreason-p02`` ...), linked to the row's MLflow run, and the ``champion`` alias moves
to it only when it beats the version holding the alias (see :mod:`audioreason.promotion`).
A candidate without the metric stops the stage with an error naming its file; nothing is
registered then. The scheduled retraining (``k8s/cronjob-retrain.yaml``) relies on this gate.

Paper 01 has no validation split in its protocol (Table 1 is test-mini and IEMOCAP session
5 only), so it registers no champion.

    dvc repro register        # or: python -m audioreason.stages.register
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from audioreason.config import RegisterConfig, TrackingConfig
from audioreason.pipeline import METRICS, OUTPUTS, stage_params
from audioreason.promotion import PromotionError, comparable, promote_champion
from audioreason.tracking import stage_run, tracking_uri


def best_candidate(candidates: list[str], metric: str, metrics_dir: Path = METRICS) -> tuple[str, float]:
    """The candidate (``<stage>/<row>``) with the highest ``metric`` (the first listed on a tie).

    Raises:
        PromotionError: a candidate's metrics file is missing, lacks the metric or holds a value
            that is not a finite number, or no candidate is given. One broken candidate stops the
            gate: a champion picked from the others would be picked from an incomplete field.
    """
    scored = []
    for c in candidates:
        path = metrics_dir / f"{c}.json"
        if not path.is_file():
            raise PromotionError(f"register: {path} does not exist (has {c} run?)")
        m = json.loads(path.read_text())
        if metric not in m:
            raise PromotionError(f"register: {path} has no {metric!r} (is it a trained row?)")
        v = m[metric]
        if not comparable(v):
            raise PromotionError(f"register: {path} gives {metric!r} = {v!r}, not a finite number")
        scored.append((v, -len(scored), c))
    if not scored:
        raise PromotionError("register: no candidates")
    value, _, best = max(scored)
    return best, value


def latest_run_id(client, experiment_names: list[str], stage: str, row: str) -> str | None:
    experiments = [e.experiment_id for e in (client.get_experiment_by_name(n) for n in experiment_names) if e]
    if not experiments:
        return None
    runs = client.search_runs(
        experiments,
        f"tags.stage = '{stage}' and tags.row = '{row}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0].info.run_id if runs else None


def model_source(
    client, uri: str, experiment: str, run_id: str | None, model_dir: Path, label: str
) -> tuple[str, str | None]:
    """Where the registry version points: ``(source, run_id)``.

    A local store (``sqlite:``, a path) shares this machine's files, so the version points at
    the model folder itself. A tracking server cannot read a pod's folders (and refuses a
    local path as a source), so the folder is uploaded as the ``model`` artifact of the row's
    run (of a new ``register`` run in the paper's experiment when the row has none) and the
    version points at that artifact.
    """
    if not uri.startswith(("http://", "https://")):
        return str(model_dir.resolve()), run_id
    if not model_dir.is_dir():
        raise PromotionError(f"register: {model_dir} does not exist; there is no model to register")
    if run_id is None:
        exp = client.get_experiment_by_name(experiment)
        exp_id = exp.experiment_id if exp else client.create_experiment(experiment)
        run_id = client.create_run(exp_id, run_name=f"register {label}", tags={"stage": "register"}).info.run_id
        client.set_terminated(run_id)
    client.log_artifacts(run_id, str(model_dir), "model")
    return f"{client.get_run(run_id).info.artifact_uri}/model", run_id


def run(cfg: RegisterConfig, tracking: TrackingConfig) -> dict:
    """Register each paper's best candidate and move its ``champion`` alias when it wins.

    Args:
        tracking: The ``tracking`` params section: the store whose Model Registry is written
            (``MLFLOW_TRACKING_URI`` overrides it); ``AUDIOREASON_TRACKING=off`` registers nothing.

    Returns:
        Per paper: the best candidate's ``value``, the registered ``version``, ``promoted`` (0 or 1).

    Raises:
        PromotionError: a candidate cannot be compared, or the model to register is missing.
    """
    metrics = {}
    if os.environ.get("AUDIOREASON_TRACKING", "on") == "off":
        print("register: tracking is off, nothing registered")
        return metrics
    import mlflow
    from mlflow import MlflowClient

    from audioreason.tracking import experiment_name

    uri = tracking_uri(tracking.uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient()
    for paper, spec in cfg.models.items():
        best, value = best_candidate(spec.candidates, spec.metric)
        stage, row = best.split("/", 1)
        experiment = experiment_name(tracking.experiment, paper)
        source, run_id = model_source(
            client, uri, experiment, latest_run_id(client, [experiment], stage, row), OUTPUTS / best / "model", best
        )
        result = promote_champion(client, spec.name, source=source, run_id=run_id, metric=spec.metric, value=value)
        metrics.update(
            {
                f"{paper}.value": value,
                f"{paper}.version": result["version"],
                f"{paper}.promoted": int(result["promoted"]),
            }
        )
        print(
            f"register: {paper} best on {spec.metric} is {best} ({value:.1f}); {spec.name} v{result['version']}"
            + (
                " is the champion"
                if result["promoted"]
                else f" did not beat the champion v{result['previous_version']} ({result['previous_value']:.1f})"
            )
        )
    return metrics


def main() -> None:
    cfg, tracking = stage_params("register", "tracking")
    try:
        # The registry gate logs no run of its own: the versions link to the rows' runs.
        with stage_run("register", cfg=cfg) as stage:
            stage.metrics = run(cfg, tracking)
    except PromotionError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
