"""The paper-vs-reproduction report: every row of every table of the five papers, beside this run.

The papers' numbers are data (``paper_tables.yaml``, transcribed from ``papers/``, each
table naming its source). A table names the pipeline stage whose runs fill it; a run's
numbers are read from ``metrics/<stage>/<row>.json`` under the metric keys the table's
columns name. Every row of every table is shown: a row this project runs but has not run
yet says so, and rows of other works' systems are marked as such.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PAPER_TABLES = Path(__file__).with_name("paper_tables.yaml")
NO_RUN = "no run yet"
OTHER_WORK = "not run here"


@dataclass
class Row:
    row: str
    label: str
    paper: list[float | None]
    run: list[float | None] | None
    """``None``: no metrics file (``status`` says why)."""
    status: str
    """``run``, ``no run yet`` or ``not run here``."""
    group: str = ""


@dataclass
class Table:
    paper: str
    title: str
    id: str
    source: str
    caption: str
    unit: str
    columns: list[dict]
    rows: list[Row] = field(default_factory=list)
    note: str = ""


def load_paper_tables(path: str | Path = PAPER_TABLES) -> dict[str, Any]:
    """The papers' tables, checked: every row has one value per column.

    Raises:
        ValueError: a row's values do not match its table's columns (named by paper, table, row).
    """
    data = yaml.safe_load(Path(path).read_text())
    for paper, spec in data.items():
        for t in spec["tables"]:
            for r in t["rows"]:
                if len(r["values"]) != len(t["columns"]):
                    raise ValueError(
                        f"{path}: {paper} {t['id']} row {r['row']}: {len(r['values'])} values for "
                        f"{len(t['columns'])} columns"
                    )
    return data


def fill(tables: dict[str, Any], metrics_dir: str | Path) -> list[Table]:
    """Pair every paper row with this run's metrics (``metrics/<stage>/<row>.json``)."""
    metrics_dir = Path(metrics_dir)
    out = []
    for paper, spec in tables.items():
        for t in spec["tables"]:
            table = Table(
                paper,
                spec["title"],
                t["id"],
                t["source"],
                t.get("caption", ""),
                t.get("metric_unit", ""),
                t["columns"],
                note=t.get("note", ""),
            )
            for r in t["rows"]:
                stage = r.get("stage", t.get("stage", "none"))
                path = metrics_dir / stage / f"{r['row']}.json"
                if stage == "none":
                    run, status = None, OTHER_WORK
                elif path.is_file():
                    m = json.loads(path.read_text())
                    run, status = [m.get(c["key"]) for c in t["columns"]], "run"
                else:
                    run, status = None, NO_RUN
                table.rows.append(Row(r["row"], r.get("label", r["row"]), r["values"], run, status, r.get("group", "")))
            out.append(table)
    return out


def _num(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}".rstrip("0").rstrip(".") if isinstance(v, float) else str(v)


def _cells(row: Row) -> list[str]:
    if row.run is None:
        return [f"{_num(p)} / *{row.status}*" if row.status == NO_RUN else _num(p) for p in row.paper]
    return [f"{_num(p)} / **{_num(r)}**" for p, r in zip(row.paper, row.run)]


def render_markdown(tables: list[Table], scale: str, scale_note: str = "") -> str:
    """The report as Markdown: one section per paper, one table per paper table, cells "paper / this run"."""
    lines = [
        "# The papers' tables beside this run",
        "",
        f"Scale of this run: **{scale}**. {scale_note}".rstrip(),
        "",
        "Each cell: the paper's number / **this run's** (bold). Rows of other works' systems carry the paper's "
        f"number only ({OTHER_WORK}); a row this project runs but has not run yet says *{NO_RUN}*.",
        "",
    ]
    paper = None
    for t in tables:
        if t.paper != paper:
            paper = t.paper
            lines += [f"## {t.paper}: {t.title}", ""]
        ran = sum(r.status == "run" for r in t.rows)
        lines += [
            f"### {t.paper} {t.source} ({scale} scale; {ran} of {len(t.rows)} rows run here)",
            "",
            f"{t.caption}" + (f" Unit: {t.unit}." if t.unit else ""),
            "",
        ]
        lines.append("| row | " + " | ".join(c["label"] for c in t.columns) + " |")
        lines.append("|---|" + "---|" * len(t.columns))
        for r in t.rows:
            label = f"{r.label} (`{r.row}`)" + ("" if r.status != OTHER_WORK else f", {OTHER_WORK}")
            lines.append(f"| {label} | " + " | ".join(_cells(r)) + " |")
        if t.note:
            lines += ["", f"Note: {t.note}"]
        lines.append("")
    return "\n".join(lines)


def render_html(tables: list[Table], scale: str, scale_note: str = "") -> str:
    """The same report as a standalone HTML page (no external assets)."""
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>audioreason report</title><style>",
        "body{font-family:sans-serif;max-width:1200px;margin:2em auto}table{border-collapse:collapse;margin:1em 0}",
        "td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}td.run{font-weight:bold}",
        ".none{color:#999}.missing{color:#b55;font-style:italic}</style></head><body>",
        "<h1>The papers' tables beside this run</h1>",
        f"<p>Scale of this run: <b>{e(scale)}</b>. {e(scale_note)}</p>",
        "<p>Each cell: the paper's number, then this run's in bold.</p>",
    ]
    paper = None
    for t in tables:
        if t.paper != paper:
            paper = t.paper
            parts.append(f"<h2>{e(t.paper)}: {e(t.title)}</h2>")
        parts.append(
            f"<h3>{e(t.paper)} {e(t.source)} ({e(scale)} scale)</h3><p>{e(t.caption)}</p><table><tr><th>row</th>"
        )
        parts += [f"<th>{e(c['label'])}</th>" for c in t.columns]
        parts.append("</tr>")
        for r in t.rows:
            parts.append(f"<tr><td>{e(r.label)} <code>{e(r.row)}</code></td>")
            for i, p in enumerate(r.paper):
                if r.run is not None:
                    parts.append(f"<td>{e(_num(p))} / <b>{e(_num(r.run[i]))}</b></td>")
                elif r.status == NO_RUN:
                    parts.append(f"<td>{e(_num(p))} / <span class='missing'>{NO_RUN}</span></td>")
                else:
                    parts.append(f"<td class='none'>{e(_num(p))}</td>")
            parts.append("</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def comparison_points(tables: list[Table]) -> list[dict]:
    """One point per cell that has both numbers: ``{cell, paper, run}`` (the DVC plot and the scatter PNG)."""
    points = []
    for t in tables:
        for r in t.rows:
            if r.run is None:
                continue
            for c, p, v in zip(t.columns, r.paper, r.run):
                if p is not None and v is not None:
                    points.append(
                        {
                            "cell": f"{t.paper}.{t.id}.{r.row}.{c['key']}",
                            "paper": p,
                            "run": v,
                            "table": f"{t.paper}.{t.id}",
                        }
                    )
    return points


def paper_numbers(paper: str, row: str, measured: Any = None, tables: dict[str, Any] | None = None) -> dict[str, float]:
    """The paper's numbers of ``row`` across that paper's tables, as ``{"paper.<metric>": value}``.

    The form in which a stage puts them beside its own metrics (``metrics/<stage>/<row>.json``).
    Cells the paper leaves empty are skipped.

    Args:
        paper: ``p01`` … ``p05``.
        measured: When given, only metrics among these keys (what this run measured).
        tables: :func:`load_paper_tables` (read when not given).
    """
    found: dict[str, float] = {}
    for table in (tables or load_paper_tables())[paper]["tables"]:
        for r in table["rows"]:
            if r["row"] == row:
                found.update(
                    {
                        f"paper.{c['key']}": v
                        for c, v in zip(table["columns"], r["values"])
                        if v is not None and (measured is None or c["key"] in measured)
                    }
                )
    return found
