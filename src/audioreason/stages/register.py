"""Stage ``register``: each paper's best model into the MLflow Model Registry, alias ``champion``.

For every paper in ``register.models``, the candidate rows (``<stage>/<row>``) are compared
on a validation metric named in params (AVQA val accuracy of the chosen checkpoint; never a
test-set number). The best becomes a new version of the paper's registered model
(``audioreason-p02`` ...), linked to the row's MLflow run, and the ``champion`` alias moves
to it only when it beats the version holding the alias (see :mod:`audioreason.registry`).

Paper 01 has no validation split in its protocol (Table 1 is test-mini and IEMOCAP session
5 only), so it registers no champion.

    dvc repro register        # or: python -m audioreason.stages.register
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from audioreason.stages.common import METRICS, OUTPUTS, sections
from audioreason.tracking import write_metrics


def best_candidate(candidates: list[str], metric: str, metrics_dir: Path = METRICS) -> tuple[str, float]:
    """The candidate (``<stage>/<row>``) with the highest ``metric`` (the first listed on a tie).

    Raises:
        ValueError: a candidate's metrics file lacks the metric, or none is given.
    """
    scored = []
    for c in candidates:
        m = json.loads((metrics_dir / f"{c}.json").read_text())
        if metric not in m:
            raise ValueError(f"register: {metrics_dir / c}.json has no {metric!r} (is it a trained row?)")
        scored.append((m[metric], -len(scored), c))
    if not scored:
        raise ValueError("register: no candidates")
    value, _, best = max(scored)
    return best, value


def latest_run_id(client, experiment_names: list[str], stage: str, row: str) -> str | None:
    experiments = [e.experiment_id for e in (client.get_experiment_by_name(n) for n in experiment_names) if e]
    if not experiments:
        return None
    runs = client.search_runs(experiments, f"tags.stage = '{stage}' and tags.row = '{row}' and "
                                           "attributes.status = 'FINISHED'", order_by=["attributes.start_time DESC"],
                              max_results=1)
    return runs[0].info.run_id if runs else None


def main() -> None:
    cfg, tracking = sections("register", "tracking").values()
    metrics = {}
    if os.environ.get("AUDIOREASON_TRACKING", "on") == "off":
        print("register: tracking is off, nothing registered")
    else:
        import mlflow
        from mlflow import MlflowClient

        from audioreason.registry import promote_champion
        from audioreason.tracking import experiment_name

        mlflow.set_tracking_uri(tracking.uri)
        mlflow.set_registry_uri(tracking.uri)
        client = MlflowClient()
        for paper, spec in cfg.models.items():
            best, value = best_candidate(spec.candidates, spec.metric)
            stage, row = best.split("/", 1)
            run_id = latest_run_id(client, [experiment_name(tracking.experiment, paper)], stage, row)
            source = str((OUTPUTS / best / "model").resolve())
            result = promote_champion(client, spec.name, source=source, run_id=run_id, metric=spec.metric, value=value)
            metrics.update({f"{paper}.value": value, f"{paper}.version": result["version"],
                            f"{paper}.promoted": int(result["promoted"])})
            print(f"register: {paper} best on {spec.metric} is {best} ({value:.1f}); {spec.name} v{result['version']}"
                  + (" is the champion" if result["promoted"] else
                     f" did not beat the champion v{result['previous_version']} ({result['previous_value']:.1f})"))
    write_metrics(metrics, METRICS / "register.json")


if __name__ == "__main__":
    main()
