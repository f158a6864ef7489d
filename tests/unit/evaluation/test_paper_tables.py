"""The paper-vs-run report: the papers' numbers as data, every row present, runs filled from metrics files."""

from __future__ import annotations

import json

import pytest

from audioreason.evaluation.paper_tables import (
    NO_RUN,
    OTHER_WORK,
    comparison_points,
    fill,
    load_paper_tables,
    render_html,
    render_markdown,
)


def test_paper_tables_hold_all_five_papers_with_their_key_numbers():
    tables = load_paper_tables()
    assert sorted(tables) == ["p01", "p02", "p03", "p04", "p05"]
    by_id = {(p, t["id"]): t for p, spec in tables.items() for t in spec["tables"]}
    p01 = {r["row"]: r["values"] for r in by_id["p01", "table1"]["rows"]}
    assert p01["layer_ac_kd"][3] == 73.30  # paper 01's best average
    p03 = {r["row"]: r["values"] for r in by_id["p03", "table1"]["rows"]}
    assert p03["grpo_vggs_gpt"][3] == 71.3  # Omni-R1 on VGGS-GPT, test-mini average
    p02 = {r["row"]: r["values"] for r in by_id["p02", "table2"]["rows"]}
    assert p02["sightsound_r1"] == [66.1, 49.8, 52.7, 56.2, 62.7, 63.3, 60.1, 59.7, 59.5]


def test_rows_are_filled_from_metrics_or_say_why_not(tmp_path):
    (tmp_path / "distill").mkdir()
    (tmp_path / "distill" / "layer_ac_kd.json").write_text(
        json.dumps({"mmau.sound": 20.0, "mmau.music": 21.0, "mmau.speech": 22.0, "mmau.average": 21.0, "ser.ua": 30.0})
    )
    tables = fill(load_paper_tables(), tmp_path)
    t1 = next(t for t in tables if (t.paper, t.id) == ("p01", "table1"))
    rows = {r.row: r for r in t1.rows}
    assert rows["layer_ac_kd"].status == "run" and rows["layer_ac_kd"].run == [20.0, 21.0, 22.0, 21.0, 30.0]
    assert rows["baseline"].status == NO_RUN and rows["baseline"].run is None
    omni = next(t for t in tables if (t.paper, t.id) == ("p03", "table1"))
    assert {r.row: r.status for r in omni.rows}["audio_flamingo_2_direct"] == OTHER_WORK
    md = render_markdown(tables, "tiny")
    assert "### p01 Table 1 (tiny scale; 1 of 6 rows run here)" in md
    assert "75.38 / **20**" in md and f"74.47 / *{NO_RUN}*" in md
    for paper in ("p01", "p02", "p03", "p04", "p05"):
        assert f"## {paper}: " in md
    html = render_html(tables, "tiny")
    assert html.count("<table>") == len(tables) and "<b>20</b>" in html
    points = comparison_points(tables)
    assert {"cell": "p01.table1.layer_ac_kd.mmau.average", "paper": 73.3, "run": 21.0, "table": "p01.table1"} in points


def test_a_row_with_the_wrong_number_of_values_is_named(tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text(
        "p09:\n  title: x\n  tables:\n    - id: t\n      source: T\n      columns: [{key: a, label: A}]\n"
        "      rows:\n        - {row: r1, values: [1, 2]}\n"
    )
    with pytest.raises(ValueError, match="p09 t row r1: 2 values for 1 columns"):
        load_paper_tables(bad)
