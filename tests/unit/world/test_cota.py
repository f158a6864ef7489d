"""Tests of the CoTA writer: the planted defects are exactly what the importer quarantines."""

from __future__ import annotations

from audioreason.datasets.cota import read as read_cota


def test_cota_defects_are_the_only_quarantined_items(world, truth):
    result = read_cota(world / "cota" / "data", on_error="quarantine")
    by_id = {t["clip"].split("#")[1]: t for t in truth if t["dataset"] == "cota"}
    assert {r.id for r in result.records} == {i for i, t in by_id.items() if not t["defect"]}
    assert len(result.quarantined) == sum(t["defect"] for t in by_id.values()) == 2
    for r in result.records:
        assert r.answer == by_id[r.id]["answer"]
