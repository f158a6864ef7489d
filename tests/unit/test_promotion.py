"""The champion alias moves only to a better challenger (a real MLflow registry on SQLite)."""

from __future__ import annotations

import pytest

from audioreason.promotion import CHAMPION, promote_champion


@pytest.fixture
def client(tmp_path):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_champion_moves_only_when_the_challenger_is_better(client, tmp_path):
    first = promote_champion(
        client,
        "audioreason-p03",
        source=str(tmp_path / "a"),
        run_id=None,
        metric="selection.avqa_val.accuracy",
        value=13.1,
    )
    assert first == {"version": 1, "promoted": True, "previous_version": None, "previous_value": None}
    worse = promote_champion(
        client,
        "audioreason-p03",
        source=str(tmp_path / "b"),
        run_id=None,
        metric="selection.avqa_val.accuracy",
        value=8.3,
    )
    assert worse["promoted"] is False and worse["previous_version"] == 1
    assert int(client.get_model_version_by_alias("audioreason-p03", CHAMPION).version) == 1
    tie = promote_champion(
        client,
        "audioreason-p03",
        source=str(tmp_path / "c"),
        run_id=None,
        metric="selection.avqa_val.accuracy",
        value=13.1,
    )
    assert tie["promoted"] is False  # strictly better only
    better = promote_champion(
        client,
        "audioreason-p03",
        source=str(tmp_path / "d"),
        run_id=None,
        metric="selection.avqa_val.accuracy",
        value=20.0,
    )
    assert better == {"version": 4, "promoted": True, "previous_version": 1, "previous_value": 13.1}
    champion = client.get_model_version_by_alias("audioreason-p03", CHAMPION)
    assert int(champion.version) == 4 and champion.source == str(tmp_path / "d")
    assert champion.tags["selection_metric"] == "selection.avqa_val.accuracy"


def test_lower_is_better_metrics(client, tmp_path):
    promote_champion(client, "wer-model", source="a", run_id=None, metric="wer", value=20.0, higher_is_better=False)
    r = promote_champion(client, "wer-model", source="b", run_id=None, metric="wer", value=15.0, higher_is_better=False)
    assert r["promoted"] is True
