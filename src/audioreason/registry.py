"""The Model Registry: each paper's best model under the alias ``champion``, chosen on validation.

A challenger becomes a new version of the paper's registered model, tagged with the
validation metric it was chosen by and its value; the ``champion`` alias moves to it only
when it is strictly better than the version the alias points at (or when no version has
the alias yet). Test-set metrics never decide.
"""

from __future__ import annotations

from typing import Any

CHAMPION = "champion"


def promote_champion(client, name: str, *, source: str, run_id: str | None, metric: str, value: float,
                     higher_is_better: bool = True, alias: str = CHAMPION) -> dict[str, Any]:
    """Register ``source`` as a version of ``name``; move ``alias`` to it when it beats the current holder.

    Args:
        client: An ``mlflow.MlflowClient``.
        source: Where the model lives (a local directory or an artifact URI).
        run_id: The MLflow run that produced it (linked from the version).
        metric, value: The validation metric and the challenger's value.

    Returns:
        ``{"version", "promoted", "previous_version", "previous_value"}``.
    """
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description="Best model of this paper, chosen on a validation metric.")
    version = client.create_model_version(name, source=source, run_id=run_id,
                                          tags={"selection_metric": metric, "selection_value": repr(float(value))})
    try:
        current = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        current = None
    previous = float(current.tags["selection_value"]) if current is not None else None
    better = previous is None or (value > previous if higher_is_better else value < previous)
    if better:
        client.set_registered_model_alias(name, alias, version.version)
    return {"version": int(version.version), "promoted": better,
            "previous_version": int(current.version) if current is not None else None, "previous_value": previous}
