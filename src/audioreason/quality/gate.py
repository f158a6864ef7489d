"""The quality gate over a set of manifests: expectations, audio, overlap, then the policy.

:func:`run_quality_gate` reads each manifest, runs its record type's great-expectations
suite (one GX run per manifest), checks every distinct audio file once (decoding it once
for the checks and, for manifests in an overlap pair, the fingerprint), looks for
train/evaluation overlaps, and gives every finding the action the policy names. It
returns the report and, per manifest, the records that passed every check; the
``validate`` stage only reads params and writes files around it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from audioreason.datasets.records import RECORD_TYPES, RecordError, read_manifest
from audioreason.quality.audio_checks import AudioJob, AudioLimits, run_audio_jobs
from audioreason.quality.checks import CHECKS, TABLE_CHECKS, Policy
from audioreason.quality.expectations import ManifestRules, validate_manifest
from audioreason.quality.findings import Finding, ManifestSummary, QualityReport, audio_sources, record_source
from audioreason.quality.overlap import OverlapPair, Side, find_overlaps, parse_side

__all__ = ["GateResult", "ManifestSpec", "run_quality_gate"]

#: Evaluation-side records named per overlap finding.
_MAX_OTHER = 5


@dataclass(frozen=True)
class ManifestSpec:
    """One manifest to validate and what its records and audio must satisfy.

    Attributes:
        name: The manifest's name (``avqa_train`` ...).
        record_type: A key of :data:`audioreason.datasets.records.RECORD_TYPES`.
        path: The JSON Lines file.
        expected_n: Record count the ingest index states (``None``: not checked).
        rules: Allowed sets and bounds for the expectation suite.
        limits: What its audio files must satisfy.
        check_audio: Whether to check the audio files the records point at.
    """

    name: str
    record_type: str
    path: Path
    expected_n: int | None = None
    rules: ManifestRules = field(default_factory=ManifestRules)
    limits: AudioLimits = field(default_factory=AudioLimits)
    check_audio: bool = True


@dataclass
class GateResult:
    """What :func:`run_quality_gate` found.

    Attributes:
        report: Every finding with its action, the counts, the overlaps.
        records: All records read, per manifest (empty when unreadable).
        kept: Per manifest, the records without any finding, in manifest order.
    """

    report: QualityReport
    records: dict[str, list[Any]]
    kept: dict[str, list[Any]]


def run_quality_gate(
    specs: Sequence[ManifestSpec],
    *,
    policy: Policy,
    overlap: Sequence[Sequence[str]] = (),
    max_bit_error_rate: float = 0.1,
    min_compared_bits: int = 256,
    workers: int = 1,
) -> GateResult:
    """Validate every manifest and apply the policy.

    Args:
        specs: The manifests.
        policy: ``fail`` / ``quarantine`` per check key.
        overlap: ``(train, eval)`` selector pairs (``name`` or ``name:split``).
        max_bit_error_rate: Fingerprint match threshold.
        min_compared_bits: Fewest reliable bits for a fingerprint decision.
        workers: Threads for the audio pass (0: one per core).

    Returns:
        A :class:`GateResult`.

    Raises:
        ValueError: an overlap side names a manifest not among ``specs``, or two specs
            share a name.
    """
    by_name = {s.name: s for s in specs}
    if len(by_name) != len(specs):
        raise ValueError("manifest names must be unique")
    pairs = [(str(a), str(b)) for a, b in overlap]
    for pair in pairs:
        for selector in pair:
            if parse_side(selector)[0] not in by_name:
                raise ValueError(
                    f"overlap pair {list(pair)}: no manifest named {parse_side(selector)[0]!r} "
                    f"(known: {', '.join(by_name)})"
                )
    in_overlap = {parse_side(s)[0] for pair in pairs for s in pair}

    findings: list[tuple[Finding, bool]] = []  # (finding without action, forced fail)
    records: dict[str, list[Any]] = {}
    stats: dict[str, dict[str, Any]] = {}

    def add(
        check: str,
        spec: ManifestSpec,
        row: int | None,
        problem: str,
        *,
        audio: str = "",
        other: tuple = (),
        force_fail: bool = False,
    ) -> None:
        if row is None:
            rid, source = "", str(spec.path)
        else:
            rec = records[spec.name][row]
            rid, source = _text(getattr(rec, "id", "")), record_source(rec, f"row {row}")
        findings.append((Finding(check, "", spec.name, row, rid, source, problem, audio, other), force_fail))

    # 1. read + expectation suites
    for spec in specs:
        records[spec.name] = []
        cls = RECORD_TYPES.get(spec.record_type)
        if cls is None:
            add(
                "manifest.readable",
                spec,
                None,
                f"unknown record type {spec.record_type!r} (known: {', '.join(RECORD_TYPES)})",
            )
            continue
        try:
            records[spec.name] = read_manifest(spec.path, cls)
        except (RecordError, OSError) as e:
            add("manifest.readable", spec, None, str(e))
            continue
        n = len(records[spec.name])
        if spec.expected_n is not None and n != spec.expected_n:
            add(
                "manifest.index_count",
                spec,
                None,
                f"the ingest index says {spec.expected_n} records, the manifest holds {n}",
            )
        report = validate_manifest(records[spec.name], name=spec.name, record_type=cls, rules=spec.rules)
        stats[spec.name] = report.gx_statistics
        for f in report.failures:
            if not f["rows"]:
                # Manifest-level, or a row check that GX could not evaluate: nothing to set aside.
                text = f["description"] + (f" ({f['detail']})" if f["detail"] else "")
                add(f["check"], spec, None, text, force_fail=True)
            for row, problem in zip(f["rows"], f["problems"]):
                add(f["check"], spec, row, problem)

    # 2. audio: each distinct (file, limits) once, fingerprinted where an overlap pair needs it
    users: dict[tuple[str, AudioLimits], list[tuple[ManifestSpec, int]]] = {}
    want_fp: dict[tuple[str, AudioLimits], bool] = {}
    for spec in specs:
        if not spec.check_audio:
            continue
        for row, rec in enumerate(records[spec.name]):
            audio = getattr(rec, "audio", None)
            if not isinstance(audio, str):
                continue  # reported by manifest.field_types
            if not audio:
                # A text-only record (ARC) where audio is checked: the manifest wants ``audio: false``.
                add("audio.missing", spec, row, "no audio file (a text-only record) in a manifest with audio checks")
                continue
            key = (audio, spec.limits)
            users.setdefault(key, []).append((spec, row))
            want_fp[key] = want_fp.get(key, False) or spec.name in in_overlap
    jobs = [AudioJob(path, limits, want_fp[(path, limits)]) for path, limits in users]
    audio_reports = run_audio_jobs(jobs, workers=workers)
    fingerprints: dict[str, Any] = {}
    for job, ar in zip(jobs, audio_reports):
        if ar.fingerprint is not None:
            fingerprints[job.path] = ar.fingerprint
        for check, problem in zip(ar.checks, ar.problems):
            for spec, row in users[(job.path, job.limits)]:
                add(check, spec, row, problem, audio=job.path)

    # 3. train/evaluation overlap
    overlaps: list[OverlapPair] = []
    for train_sel, eval_sel in pairs:
        train, evals = _side(train_sel, records), _side(eval_sel, records)
        found = find_overlaps(
            train, evals, fingerprints, max_bit_error_rate=max_bit_error_rate, min_compared_bits=min_compared_bits
        )
        overlaps.extend(found)
        for p in found:
            other = tuple(
                {
                    "manifest": p.eval_manifest,
                    "id": _text(getattr(evals.records[r], "id", "")),
                    "source": record_source(evals.records[r], f"row {r}"),
                }
                for r in p.eval_rows[:_MAX_OTHER]
            )
            if p.check == "overlap.clip_id":
                problem = f"clip {p.train_clip} is also in {p.eval} ({len(p.eval_rows)} row(s))"
            else:
                problem = (
                    f"audio matches {p.eval_audio} (clip {p.eval_clip} in {p.eval}; "
                    f"fingerprint bit error rate {p.bit_error_rate:.3f})"
                )
            for row in p.train_rows:
                add(p.check, by_name[p.train_manifest], row, problem, audio=p.train_audio, other=other)

    # 4. policy
    resolved: list[Finding] = []
    for f, force_fail in findings:
        action = "fail" if force_fail or f.row is None or f.check in TABLE_CHECKS else policy.action(f.check)
        resolved.append(Finding(f.check, action, f.manifest, f.row, f.id, f.source, f.problem, f.audio, f.other))
    order = {k: i for i, k in enumerate(CHECKS)}
    manifest_order = {s.name: i for i, s in enumerate(specs)}
    resolved.sort(
        key=lambda f: (manifest_order[f.manifest], order.get(f.check, len(order)), -1 if f.row is None else f.row)
    )

    summaries, kept = [], {}
    for spec in specs:
        mine = [f for f in resolved if f.manifest == spec.name]
        failed_rows = {f.row for f in mine if f.action == "fail" and f.row is not None}
        flagged_rows = {f.row for f in mine if f.row is not None}
        table_fail = any(f.row is None for f in mine)
        recs = records[spec.name]
        kept[spec.name] = [] if table_fail else [r for i, r in enumerate(recs) if i not in flagged_rows]
        summaries.append(
            ManifestSummary(
                name=spec.name,
                record_type=spec.record_type,
                n_in=len(recs),
                n_kept=len(kept[spec.name]),
                n_quarantined=len(flagged_rows - failed_rows),
                n_failed=len(failed_rows),
                path=str(spec.path),
                gx_statistics=stats.get(spec.name, {}),
            )
        )
    all_records = [r for spec in specs if spec.check_audio for r in records[spec.name]]
    report = QualityReport(
        manifests=summaries,
        findings=resolved,
        audio=audio_reports,
        audio_records=audio_sources(all_records),
        overlaps=overlaps,
        policy=policy.to_json(),
    )
    return GateResult(report, records, kept)


def _side(selector: str, records: dict[str, list[Any]]) -> Side:
    name, split = parse_side(selector)
    recs = records[name]
    rows = [i for i, r in enumerate(recs) if split is None or getattr(r, "split", None) == split]
    return Side(selector, name, recs, rows)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)
