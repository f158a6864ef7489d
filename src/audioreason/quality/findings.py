"""One report over all quality gates: manifest expectations, audio checks, train/eval overlap.

Every problem is a :class:`Finding` on one row of one manifest (or on a whole manifest,
``row=None``) with a check key (:mod:`audioreason.quality.checks`) and the action the
policy gave it. The ``validate`` stage writes :meth:`QualityReport.to_json`,
:meth:`QualityReport.to_text` and :meth:`QualityReport.to_html`, and stops when
:attr:`QualityReport.success` is false (a finding whose action is ``fail``);
``quarantine`` findings are counted, listed and left out of the validated manifests.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from audioreason.quality.audio_checks import AudioReport
from audioreason.quality.checks import CHECKS
from audioreason.quality.overlap import OverlapPair

__all__ = ["Finding", "ManifestSummary", "QualityError", "QualityReport", "audio_sources"]

#: Rows (or files) listed by name per check and manifest in the text and HTML reports.
MAX_LISTED = 20
#: Rows listed per check and manifest in the JSON report; counts are always complete.
MAX_JSON_ROWS = 1000


def audio_sources(records: Iterable[Any]) -> dict[str, tuple[str, ...]]:
    """Map each audio path to the ``source`` strings of the records that use it.

    Args:
        records: Manifest records (any number of manifests).

    Returns:
        ``{audio path: (source, ...)}`` in first-seen order, without repeats.
    """
    out: dict[str, dict[str, None]] = {}
    for r in records:
        audio = getattr(r, "audio", None)
        if isinstance(audio, str):
            out.setdefault(audio, {})[record_source(r)] = None
    return {path: tuple(sources) for path, sources in out.items()}


def record_source(record: Any, fallback: str | None = None) -> str:
    """The record's ``source`` (``<file>#<index>``), else ``fallback``, else ``<dataset>/<split> id <id>``."""
    source = getattr(record, "source", "")
    if isinstance(source, str) and source:
        return source
    if fallback is not None:
        return fallback
    return f"{getattr(record, 'dataset', '?')}/{getattr(record, 'split', '?')} id {getattr(record, 'id', '?')}"


@dataclass(frozen=True)
class Finding:
    """One problem on one row (or a whole manifest).

    Attributes:
        check: The check key (``manifest.answer_in_choices``, ``audio.silent`` ...).
        action: ``fail`` or ``quarantine`` (from the policy).
        manifest: The manifest's name.
        row: The row's position in the manifest, or ``None`` for a manifest-level problem.
        id: The record's id (``""`` for manifest-level problems).
        source: The record's ``source`` (``<file>#<index>``), or the manifest path.
        problem: What is wrong, in words.
        audio: The audio file, for ``audio.*`` and fingerprint overlap findings.
        other: For overlaps, the records on the evaluation side
            (``{"manifest", "id", "source"}`` dicts).
    """

    check: str
    action: str
    manifest: str
    row: int | None
    id: str
    source: str
    problem: str
    audio: str = ""
    other: tuple[Mapping[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["other"] = [dict(o) for o in self.other]
        if not d["audio"]:
            del d["audio"]
        if not d["other"]:
            del d["other"]
        return d


@dataclass
class ManifestSummary:
    """Counts for one manifest.

    Attributes:
        name: The manifest's name (a key of ``outputs/ingest/index.json``).
        record_type: Its record type name.
        n_in: Records read.
        n_kept: Records that passed every check (written when the run succeeds).
        n_quarantined: Records set aside by a ``quarantine`` check (and no ``fail`` check).
        n_failed: Records with at least one ``fail`` finding.
        path: The manifest file read.
        gx_statistics: Great Expectations' counts for the manifest's suite.
    """

    name: str
    record_type: str
    n_in: int
    n_kept: int
    n_quarantined: int
    n_failed: int
    path: str = ""
    gx_statistics: dict[str, Any] = field(default_factory=dict)


@dataclass
class QualityReport:
    """All quality results of one ``validate`` run.

    Attributes:
        manifests: One summary per manifest, in index order.
        findings: Every problem found, in manifest then check order.
        audio: One report per audio file checked.
        audio_records: ``{audio path: sources of the records using it}``.
        overlaps: Every train/eval overlap pair.
        policy: The resolved ``{check key: action}``.
    """

    manifests: Sequence[ManifestSummary] = ()
    findings: Sequence[Finding] = ()
    audio: Sequence[AudioReport] = ()
    audio_records: Mapping[str, Sequence[str]] = field(default_factory=dict)
    overlaps: Sequence[OverlapPair] = ()
    policy: Mapping[str, str] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        """``True`` when no finding's action is ``fail``."""
        return not any(f.action == "fail" for f in self.findings)

    @property
    def failed_audio(self) -> list[AudioReport]:
        """The audio reports with problems, in check order."""
        return [a for a in self.audio if not a.ok]

    def quarantined_rows(self) -> dict[tuple[str, int], list[Finding]]:
        """``{(manifest, row): findings}`` of rows set aside (quarantine findings only, no fail)."""
        failing = {(f.manifest, f.row) for f in self.findings if f.action == "fail"}
        out: dict[tuple[str, int], list[Finding]] = {}
        for f in self.findings:
            if f.action == "quarantine" and f.row is not None and (f.manifest, f.row) not in failing:
                out.setdefault((f.manifest, f.row), []).append(f)
        return out

    def quarantine_lines(self) -> list[dict[str, Any]]:
        """One JSON object per quarantined row (manifest, row, id, source, check, problem, checks), in row order."""
        lines = []
        manifest_order = {m.name: i for i, m in enumerate(self.manifests)}
        rows = sorted(self.quarantined_rows().items(), key=lambda kv: (manifest_order.get(kv[0][0], 0), kv[0][1]))
        for (manifest, row), fs in rows:
            first = fs[0]
            lines.append(
                {
                    "manifest": manifest,
                    "row": row,
                    "id": first.id,
                    "source": first.source,
                    "check": first.check,
                    "problem": first.problem,
                    "checks": [{"check": f.check, "problem": f.problem} for f in fs],
                    **({"overlaps_with": [dict(o) for o in first.other]} if first.other else {}),
                }
            )
        return lines

    def check_counts(self) -> dict[str, dict[str, Any]]:
        """``{check key: {"action", "rows", "manifests": {name: rows}}}`` for checks that found something."""
        out: dict[str, dict[str, Any]] = {}
        seen: set[tuple[str, str, int | None]] = set()
        for f in self.findings:
            entry = out.setdefault(f.check, {"action": f.action, "rows": 0, "manifests": {}})
            key = (f.check, f.manifest, f.row)
            if key in seen:
                continue
            seen.add(key)
            entry["rows"] += 1
            entry["manifests"][f.manifest] = entry["manifests"].get(f.manifest, 0) + 1
        return out

    # ----------------------------------------------------------------- renderings

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable summary: counts per manifest and check, the rows (capped), overlaps, audio."""
        failed = self.failed_audio
        listed: dict[tuple[str, str, str], int] = {}
        rows = []
        for f in self.findings:
            k = (f.action, f.check, f.manifest)
            listed[k] = listed.get(k, 0) + 1
            if listed[k] <= MAX_JSON_ROWS:
                rows.append(f.to_json())
        return {
            "success": self.success,
            "manifests": {
                m.name: {
                    "record_type": m.record_type,
                    "path": m.path,
                    "n_in": m.n_in,
                    "n_kept": m.n_kept,
                    "n_quarantined": m.n_quarantined,
                    "n_failed": m.n_failed,
                    "success": not any(f.action == "fail" and f.manifest == m.name for f in self.findings),
                    "gx_statistics": dict(m.gx_statistics),
                }
                for m in self.manifests
            },
            "checks": self.check_counts(),
            "findings": rows,
            "findings_listed_per_check": MAX_JSON_ROWS,
            "overlaps": [self._overlap_json(p) for p in self.overlaps],
            "audio": {
                "n_checked": len(self.audio),
                "n_failed": len(failed),
                "failures": [
                    {
                        "path": a.path,
                        "checks": list(a.checks),
                        "problems": list(a.problems),
                        "records": list(self.audio_records.get(a.path, ())),
                    }
                    for a in failed
                ],
            },
            "policy": dict(self.policy),
        }

    def _overlap_json(self, p: OverlapPair) -> dict[str, Any]:
        d = asdict(p)
        d["train_rows"], d["eval_rows"] = list(p.train_rows), list(p.eval_rows)
        return d

    def summary_line(self) -> str:
        n_in = sum(m.n_in for m in self.manifests)
        n_q = sum(m.n_quarantined for m in self.manifests)
        n_kept = sum(m.n_kept for m in self.manifests)
        if self.success:
            return (
                f"Quality checks passed: {len(self.manifests)} manifest(s), {n_in} records "
                f"({n_kept} kept, {n_q} quarantined), {len(self.audio)} audio file(s)."
            )
        failing = [f for f in self.findings if f.action == "fail"]
        checks = sorted({f.check for f in failing})
        manifests = sorted({f.manifest for f in failing})
        n_rows = len({(f.manifest, f.row) for f in failing if f.row is not None})
        parts = [
            f"{len(checks)} check(s) failed in {len(manifests)} of {len(self.manifests)} manifest(s) "
            f"({n_rows} row(s)): {', '.join(checks)}"
        ]
        if n_q:
            parts.append(f"{n_q} row(s) would be quarantined")
        if self.failed_audio:
            parts.append(f"{len(self.failed_audio)} of {len(self.audio)} audio file(s) with problems")
        return "Quality checks FAILED: " + "; ".join(parts)

    def _groups(self) -> list[dict[str, Any]]:
        """Findings grouped by (action, check, manifest), fail first; audio findings by file."""
        groups: dict[tuple[str, str, str], dict[str, Any]] = {}
        for f in self.findings:
            key = (f.action, f.check, f.manifest)
            g = groups.setdefault(
                key,
                {
                    "action": f.action,
                    "check": f.check,
                    "manifest": f.manifest,
                    "description": CHECKS.get(f.check, f.check),
                    "rows": [],
                    "files": {},
                },
            )
            if f.check.startswith("audio.") and f.audio:
                entry = g["files"].setdefault(f.audio, {"path": f.audio, "problem": f.problem, "used_by": []})
                entry["used_by"].append(f.source)
            else:
                g["rows"].append(f)
        ordered = sorted(groups.values(), key=lambda g: (g["action"] != "fail", g["manifest"], g["check"]))
        for g in ordered:
            g["files"] = list(g["files"].values())
            g["n"] = len({f.row for f in g["rows"]}) + sum(len(e["used_by"]) for e in g["files"])
        return ordered

    def to_text(self) -> str:
        """A multi-line, human-readable report naming every failing or quarantined row and file."""
        lines = [self.summary_line(), ""]
        header = f"{'manifest':<22} {'type':<13} {'in':>7} {'kept':>7} {'quarant.':>8} {'failed':>7}"
        lines.append(header)
        for m in self.manifests:
            lines.append(
                f"{m.name:<22} {m.record_type:<13} {m.n_in:>7} {m.n_kept:>7} {m.n_quarantined:>8} {m.n_failed:>7}"
            )
        for g in self._groups():
            lines.append("")
            verb = "FAILED" if g["action"] == "fail" else "QUARANTINED"
            lines.append(f"{verb} {g['check']} in {g['manifest']} ({g['n']} row(s)): {g['description']}")
            for f in g["rows"][:MAX_LISTED]:
                where = f"{f.source} (id {f.id})" if f.row is not None else f.source
                lines.append(f"  {where}: {f.problem}")
                for o in f.other[:3]:
                    lines.append(f"    overlaps {o['manifest']}: {o['source']} (id {o['id']})")
            if len(g["rows"]) > MAX_LISTED:
                lines.append(f"  ... and {len(g['rows']) - MAX_LISTED} more")
            for e in g["files"][:MAX_LISTED]:
                lines.append(f"  {e['path']}: {e['problem']}")
                shown = ", ".join(e["used_by"][:5])
                more = len(e["used_by"]) - 5
                lines.append(f"    used by: {shown}" + (f" ... and {more} more" if more > 0 else ""))
            if len(g["files"]) > MAX_LISTED:
                lines.append(f"  ... and {len(g['files']) - MAX_LISTED} more file(s)")
        if self.overlaps:
            lines.append("")
            lines.append(f"overlaps: {len(self.overlaps)} pair(s)")
            for p in self.overlaps[:MAX_LISTED]:
                lines.append("  " + _overlap_text(p))
            if len(self.overlaps) > MAX_LISTED:
                lines.append(f"  ... and {len(self.overlaps) - MAX_LISTED} more")
        return "\n".join(lines)

    def to_html(self) -> str:
        """A self-contained HTML page (inline CSS, no scripts); every value is escaped."""
        import jinja2

        env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
        return env.from_string(_HTML).render(
            summary=self.summary_line(),
            success=self.success,
            manifests=self.manifests,
            checks=sorted(self.check_counts().items()),
            descriptions=CHECKS,
            groups=self._groups(),
            max_listed=MAX_LISTED,
            overlaps=[(p, _overlap_text(p)) for p in self.overlaps],
            n_audio=len(self.audio),
            n_audio_failed=len(self.failed_audio),
        )

    def raise_for_failure(self) -> None:
        """Raise :class:`QualityError` when any check's action is ``fail``.

        Raises:
            QualityError: With :meth:`to_text` as its message.
        """
        if not self.success:
            raise QualityError(self)


def _overlap_text(p: OverlapPair) -> str:
    how = f"fingerprint BER {p.bit_error_rate:.3f}, " if p.bit_error_rate is not None else ""
    clips = p.train_clip if p.train_clip == p.eval_clip else f"{p.train_clip} ~ {p.eval_clip}"
    return (
        f"{p.check}: {p.train} x {p.eval}: clip {clips} ({how}{len(p.train_rows)} train row(s), "
        f"{len(p.eval_rows)} eval row(s))"
    )


class QualityError(Exception):
    """A quality gate failed; the message is the full text report.

    Attributes:
        report: The failing :class:`QualityReport`.
    """

    def __init__(self, report: QualityReport):
        self.report = report
        super().__init__(report.to_text())


_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>validate: data quality report</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.fail{color:#a00;font-weight:bold}.quarantine{color:#a60;font-weight:bold}.ok{color:#070;font-weight:bold}
code{font-size:90%}li{margin:.15em 0}
</style></head><body>
<h1>Data quality report</h1>
<p class="{{ 'ok' if success else 'fail' }}">{{ summary }}</p>
<h2>Manifests</h2>
<table><tr><th>manifest</th><th>record type</th><th>in</th><th>kept</th><th>quarantined</th><th>failed</th><th>file</th></tr>
{% for m in manifests %}<tr><td>{{ m.name }}</td><td>{{ m.record_type }}</td><td class="n">{{ m.n_in }}</td>
<td class="n">{{ m.n_kept }}</td><td class="n">{{ m.n_quarantined }}</td><td class="n">{{ m.n_failed }}</td>
<td><code>{{ m.path }}</code></td></tr>
{% endfor %}</table>
<p>{{ n_audio }} audio file(s) checked, {{ n_audio_failed }} with problems.</p>
<h2>Checks that found something</h2>
{% if checks %}<table><tr><th>check</th><th>what</th><th>action</th><th>rows</th><th>per manifest</th></tr>
{% for key, c in checks %}<tr><td><code>{{ key }}</code></td><td>{{ descriptions.get(key, key) }}</td>
<td class="{{ c.action }}">{{ c.action }}</td><td class="n">{{ c.rows }}</td>
<td>{% for name, n in c.manifests.items() %}{{ name }}: {{ n }}{% if not loop.last %}, {% endif %}{% endfor %}</td></tr>
{% endfor %}</table>{% else %}<p>None: every check passed.</p>{% endif %}
{% for g in groups %}
<h3><span class="{{ g.action }}">{{ 'FAILED' if g.action == 'fail' else 'QUARANTINED' }}</span>
<code>{{ g.check }}</code> in {{ g.manifest }} ({{ g.n }} row(s))</h3>
<ul>
{% for f in g.rows[:max_listed] %}<li>{% if f.row is not none %}<code>{{ f.source }}</code> (id {{ f.id }}){% else %}<code>{{ f.source }}</code>{% endif %}: {{ f.problem }}
{% if f.other %}<br>overlaps {% for o in f.other[:3] %}{{ o.manifest }} <code>{{ o.source }}</code> (id {{ o.id }}){% if not loop.last %}, {% endif %}{% endfor %}{% endif %}</li>
{% endfor %}{% if g.rows|length > max_listed %}<li>... and {{ g.rows|length - max_listed }} more</li>{% endif %}
{% for e in g.files[:max_listed] %}<li><code>{{ e.path }}</code>: {{ e.problem }}<br>used by: {{ e.used_by[:5]|join(', ') }}{% if e.used_by|length > 5 %} ... and {{ e.used_by|length - 5 }} more{% endif %}</li>
{% endfor %}{% if g.files|length > max_listed %}<li>... and {{ g.files|length - max_listed }} more file(s)</li>{% endif %}
</ul>
{% endfor %}
{% if overlaps %}<h2>Train/evaluation overlaps</h2><ul>
{% for p, text in overlaps %}<li>{{ text }}{% if p.train_audio %}<br><code>{{ p.train_audio }}</code> ~ <code>{{ p.eval_audio }}</code>{% endif %}</li>
{% endfor %}</ul>{% endif %}
</body></html>
"""
