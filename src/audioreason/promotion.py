"""The Model Registry: each paper's best model under the alias ``champion``, chosen on validation.

A challenger becomes a new version of the paper's registered model, tagged with the
validation metric it was chosen by and its value; the ``champion`` alias moves to it only
when it is strictly better than the version the alias points at (or when no version has
the alias yet). Test-set metrics never decide.

The gate refuses rather than guesses: a challenger value that is not a finite number, or a
champion that was not chosen by the same metric (no ``selection_value`` tag, another
``selection_metric``), is a :class:`PromotionError` before anything is registered.
"""

from __future__ import annotations

import math
from typing import Any

CHAMPION = "champion"


class PromotionError(ValueError):
    """The gate cannot compare challenger and champion; nothing was registered or moved."""


def comparable(value: Any) -> bool:
    """Whether ``value`` can take part in the comparison: a finite number (``True`` is not one)."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def promote_champion(
    client,
    name: str,
    *,
    source: str,
    run_id: str | None,
    metric: str,
    value: float,
    higher_is_better: bool = True,
    alias: str = CHAMPION,
) -> dict[str, Any]:
    """Register ``source`` as a version of ``name``; move ``alias`` to it when it beats the current holder.

    Args:
        client: An ``mlflow.MlflowClient``.
        source: Where the model lives (a local directory or an artifact URI).
        run_id: The MLflow run that produced it (linked from the version).
        metric, value: The validation metric and the challenger's value.

    Returns:
        ``{"version", "promoted", "previous_version", "previous_value"}``.

    Raises:
        PromotionError: ``value`` is missing or not finite, or the current champion carries no
            ``selection_value`` for the same ``metric``.
    """
    from mlflow.exceptions import MlflowException

    if not comparable(value):
        raise PromotionError(
            f"{name}: the challenger's {metric!r} is {value!r}, not a finite number; nothing registered"
        )
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description="Best model of this paper, chosen on a validation metric.")
    try:
        current = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        current = None
    previous = None
    if current is not None:
        held = current.tags.get("selection_metric")
        if held != metric or "selection_value" not in current.tags:
            raise PromotionError(
                f"{name}: the {alias!r} alias is on version {current.version}, which was chosen by "
                f"{held!r} (selection_value {current.tags.get('selection_value')!r}), not by "
                f"{metric!r}; compare by hand or move the alias before promoting"
            )
        previous = float(current.tags["selection_value"])
    version = client.create_model_version(
        name, source=source, run_id=run_id, tags={"selection_metric": metric, "selection_value": repr(float(value))}
    )
    better = previous is None or (value > previous if higher_is_better else value < previous)
    if better:
        client.set_registered_model_alias(name, alias, version.version)
    return {
        "version": int(version.version),
        "promoted": better,
        "previous_version": int(current.version) if current is not None else None,
        "previous_value": previous,
    }
