"""Stage ``report``: every paper's tables with the paper's numbers beside this run's.

Reads the papers' tables (``evaluation/paper_tables.yaml``, entered as data with the table
each comes from) and this run's metrics (``metrics/<stage>/<row>.json``), and writes
``outputs/report/report.md`` and ``report.html`` (each table's heading states the scale, ``tracking.scale``),
a scatter of this run against the paper over every cell that has both numbers
(``run_vs_paper.png`` and the DVC plot ``plots/report/run_vs_paper.json``), and counts of
rows run / not run yet. All of it is logged to one MLflow run, ``all.report.report.report``.

    dvc repro report          # or: python -m audioreason.stages.report
"""

from __future__ import annotations

import json
from pathlib import Path

from audioreason.config import ReportConfig
from audioreason.evaluation.paper_tables import (
    NO_RUN,
    comparison_points,
    fill,
    load_paper_tables,
    render_html,
    render_markdown,
)
from audioreason.pipeline import OUTPUTS, PLOTS, stage_params
from audioreason.plots import figure, save_figure
from audioreason.tracking import NullTracker, stage_run

OUT = OUTPUTS / "report"


def on_percent_axis(points: list[dict], tables) -> list[dict]:
    """Cells of tables reported as fractions (paper 04's UAR, 0-1) scaled to the 0-100 axis of the others.

    >>> from audioreason.evaluation.paper_tables import Table
    >>> t = Table("p04", "", "table2", "", "", "UAR (fraction 0-1)", [])
    >>> on_percent_axis([{"table": "p04.table2", "paper": 0.24, "run": 0.5}], [t])[0]["run"]
    50.0
    """
    fractions = {f"{t.paper}.{t.id}" for t in tables if "fraction" in t.unit}
    return [{**p, "paper": 100 * p["paper"], "run": 100 * p["run"]} if p["table"] in fractions else p for p in points]


def plot_run_vs_paper(points: list[dict], png: Path, scale: str) -> Path:
    fig, ax = figure().subplots(figsize=(5, 5))
    for table in sorted({p["table"] for p in points}):
        xs = [(p["paper"], p["run"]) for p in points if p["table"] == table]
        ax.scatter(*zip(*xs), s=14, label=table)
    ax.plot([0, 100], [0, 100], ls="--", color="#888")
    ax.set(
        xlabel="paper",
        ylabel=f"this run ({scale})",
        title="Every reported cell: this run vs the paper",
        xlim=(0, 100),
        ylim=(0, 100),
    )
    ax.legend(fontsize=7)
    return save_figure(fig, png)


def run(
    cfg: ReportConfig, scale: str, tracker: NullTracker, out_dir: Path = OUT, plots_dir: Path = PLOTS / "report"
) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = fill(load_paper_tables(), cfg.metrics_dir)
    (out_dir / "report.md").write_text(render_markdown(tables, scale, cfg.scale_note) + "\n")
    (out_dir / "report.html").write_text(render_html(tables, scale, cfg.scale_note) + "\n")
    points = comparison_points(tables)
    plots_dir.mkdir(parents=True, exist_ok=True)
    (plots_dir / "run_vs_paper.json").write_text(json.dumps(points, indent=1) + "\n")
    png = plot_run_vs_paper(on_percent_axis(points, tables), out_dir / "run_vs_paper.png", scale)
    for path in (out_dir / "report.md", out_dir / "report.html", png):
        tracker.log_artifact(path, "report")
    metrics = {
        "rows": sum(len(t.rows) for t in tables),
        "rows_run": sum(r.status == "run" for t in tables for r in t.rows),
        "rows_no_run_yet": sum(r.status == NO_RUN for t in tables for r in t.rows),
        "cells_compared": len(points),
        "tables": len(tables),
    }
    for paper in sorted({t.paper for t in tables}):
        metrics[f"{paper}.rows_run"] = sum(r.status == "run" for t in tables if t.paper == paper for r in t.rows)
    return metrics


def main() -> None:
    cfg, tracking = stage_params("report", "tracking")
    with stage_run("report", tracking, cfg=cfg, paper="all", table="report", deps=[cfg.metrics_dir]) as stage:
        stage.metrics = run(cfg, tracking.scale, stage.tracker)
    print(
        f"report: {stage.metrics['rows_run']} of {stage.metrics['rows']} rows run, "
        f"{stage.metrics['cells_compared']} cells compared -> {OUT / 'report.md'}"
    )


if __name__ == "__main__":
    main()
