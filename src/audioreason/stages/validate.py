"""Stage ``validate``: data-layer quality gates between ``ingest`` and everything that trains or scores.

Reads ``outputs/ingest/index.json`` (``{"manifests": {name: {"record_type", "format",
"path", "n"}}}``, paths relative to ``outputs/ingest/``) and, per manifest, with the
settings of ``validate.manifests.<name>`` over ``validate.defaults``:

- a great-expectations suite for its record type (ids unique, answers among choices or in
  the MUSIC-AVQA vocabulary, labels in the allowed set, event times sane, ...);
- audio checks on every distinct file, decoded once (missing, undecodable, truncated,
  sample rate, channels, duration, non-finite, silent, clipping), with the fingerprint
  computed in the same pass for manifests named in ``validate.overlap``;
- no train/eval overlap for each ``validate.overlap`` pair, by clip id and by audio
  fingerprint (a re-encoded copy under another name).

``validate.policy`` says per check key whether offending rows ``fail`` the stage or are
``quarantine``-d (set aside, counted, listed, left out). Writes ``outputs/validate/``:
``<name>.jsonl`` (the kept records, same type and order; only when nothing failed),
``index.json`` (same shape as ingest's), ``quarantine.jsonl`` (one line per set-aside
row), ``report.{json,txt,html}``; and ``metrics/validate.json``.

    dvc repro validate        # or: python -m audioreason.stages.validate
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from audioreason.config import ConfigError, ValidateConfig
from audioreason.datasets.records import RECORD_TYPES, write_manifest
from audioreason.pipeline import OUTPUTS, stage_params
from audioreason.quality.audio_checks import AudioLimits
from audioreason.quality.checks import Policy
from audioreason.quality.expectations import ManifestRules
from audioreason.quality.findings import QualityReport
from audioreason.quality.gate import GateResult, ManifestSpec, run_quality_gate
from audioreason.quality.overlap import parse_side
from audioreason.tracking import stage_run

INGEST = OUTPUTS / "ingest"
OUT = OUTPUTS / "validate"
INDEX = "index.json"


class ValidateError(ValueError):
    """The stage cannot start: a broken ingest index or params that do not match it."""


def read_index(path: Path) -> dict[str, dict[str, Any]]:
    """Read ingest's ``index.json``; every entry needs ``record_type`` and ``path``.

    Raises:
        ValidateError: naming the file and the entry.
    """
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ValidateError(f"{path}: cannot read the ingest index ({e})") from e
    manifests = raw.get("manifests") if isinstance(raw, dict) else None
    if not isinstance(manifests, dict) or not manifests:
        raise ValidateError(f'{path}: expected {{"manifests": {{name: {{record_type, path, n}}}}}}')
    for name, entry in manifests.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise ValidateError(f"{path}: manifest {name!r}: expected an object with a string 'path', got {entry!r}")
        if entry.get("record_type") not in RECORD_TYPES:
            raise ValidateError(
                f"{path}: manifest {name!r}: record_type {entry.get('record_type')!r} is not one "
                f"of {', '.join(RECORD_TYPES)}"
            )
    return manifests


def music_avqa_vocabulary() -> tuple[str, ...]:
    """MUSIC-AVQA's official answer vocabulary (:data:`audioreason.datasets.music_avqa.ANSWER_VOCAB`)."""
    from audioreason.datasets.music_avqa import ANSWER_VOCAB

    return tuple(ANSWER_VOCAB)


def manifest_specs(cfg: ValidateConfig, index: dict[str, dict[str, Any]], ingest_dir: Path) -> list[ManifestSpec]:
    """One :class:`ManifestSpec` per index entry, with its settings from params.

    Raises:
        ValidateError: ``validate.manifests`` names a manifest the index does not hold.
    """
    unknown = sorted(set(cfg.manifests) - set(index))
    if unknown:
        raise ValidateError(
            f"validate.manifests: {', '.join(unknown)} not in the ingest index (it holds: {', '.join(index)})"
        )
    specs = []
    for name, entry in index.items():
        try:
            s = cfg.settings(name)
        except ConfigError as e:
            raise ValidateError(f"validate: {e}") from e
        labels, vocab = s.labels, None
        if entry["record_type"] == "OpenQARecord":
            vocab, labels = (tuple(labels) if labels is not None else music_avqa_vocabulary()), None
        n = entry.get("n")
        specs.append(
            ManifestSpec(
                name=name,
                record_type=entry["record_type"],
                path=ingest_dir / entry["path"],
                expected_n=n if isinstance(n, int) and not isinstance(n, bool) else None,
                rules=ManifestRules(
                    splits=tuple(s.splits),
                    tasks=tuple(s.tasks),
                    difficulties=tuple(s.difficulties),
                    labels=None if labels is None else tuple(labels),
                    answer_vocab=vocab,
                ),
                limits=AudioLimits(
                    sample_rates=tuple(s.sample_rates),
                    max_channels=s.max_channels,
                    min_duration_s=s.min_duration_s,
                    max_duration_s=s.max_duration_s,
                    silence_dbfs=s.silence_dbfs,
                    clipping_fraction=s.clipping_fraction,
                ),
                check_audio=s.audio,
            )
        )
    return specs


def write_outputs(result: GateResult, index: dict[str, dict[str, Any]], out_dir: Path) -> None:
    """Reports and quarantine always; the validated manifests and their index only on success."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in list(out_dir.glob("*.jsonl")) + [out_dir / INDEX]:
        stale.unlink(missing_ok=True)
    report = result.report
    if report.success:
        kept_index = {}
        for name, entry in index.items():
            n = write_manifest(result.kept[name], out_dir / f"{name}.jsonl")
            kept_index[name] = {**entry, "path": f"{name}.jsonl", "n": n}
        (out_dir / INDEX).write_text(json.dumps({"manifests": kept_index}, indent=2, sort_keys=True) + "\n")
    with (out_dir / "quarantine.jsonl").open("w", encoding="utf-8") as f:
        for line in report.quarantine_lines():
            f.write(json.dumps(line, sort_keys=True, ensure_ascii=False) + "\n")
    (out_dir / "report.json").write_text(json.dumps(report.to_json(), indent=2, default=str) + "\n")
    (out_dir / "report.txt").write_text(report.to_text() + "\n")
    (out_dir / "report.html").write_text(report.to_html(), encoding="utf-8")


def stage_metrics(report: QualityReport) -> dict[str, Any]:
    """``metrics/validate.json``: success, records in/kept/quarantined per manifest, rows per check."""
    return {
        "success": report.success,
        "records": sum(m.n_in for m in report.manifests),
        "records_kept": sum(m.n_kept for m in report.manifests),
        "records_quarantined": sum(m.n_quarantined for m in report.manifests),
        "audio_checked": len(report.audio),
        "audio_failed": len(report.failed_audio),
        "overlap_pairs": len(report.overlaps),
        "manifests": {
            m.name: {"in": m.n_in, "kept": m.n_kept, "quarantined": m.n_quarantined, "failed": m.n_failed}
            for m in report.manifests
        },
        "checks": {key: c["rows"] for key, c in sorted(report.check_counts().items())},
    }


def run(cfg: ValidateConfig, ingest_dir: Path = INGEST, out_dir: Path = OUT) -> QualityReport:
    """Run the gate over ingest's manifests and write ``out_dir``.

    Returns:
        The report, whose :func:`stage_metrics` are the stage's metrics: ``main`` also needs
        the report itself, to print it and to name what failed once the metrics are written.

    Raises:
        ValidateError: the ingest index is broken or the params name what it does not hold.
    """
    index = read_index(ingest_dir / INDEX)
    specs = manifest_specs(cfg, index, ingest_dir)
    for pair in cfg.overlap:
        for selector in pair:
            if parse_side(selector)[0] not in index:
                raise ValidateError(
                    f"validate.overlap: {list(pair)} names {selector!r}, which is not in the "
                    f"ingest index (it holds: {', '.join(index)})"
                )
    result = run_quality_gate(
        specs,
        policy=Policy(cfg.policy),
        overlap=cfg.overlap,
        max_bit_error_rate=cfg.fingerprint.max_bit_error_rate,
        min_compared_bits=cfg.fingerprint.min_compared_bits,
        workers=cfg.workers,
    )
    write_outputs(result, index, out_dir)
    return result.report


def main() -> None:
    cfg = stage_params("validate")
    try:
        with stage_run("validate", cfg=cfg) as stage:  # data preparation: no MLflow run
            report = run(cfg)
            stage.metrics = stage_metrics(report)
    except ValidateError as e:
        sys.exit(f"validate failed: {e}")
    print(report.to_text())
    if not report.success:  # after the metrics are written: a failed gate is reported, not hidden
        sys.exit(f"validate failed: {report.summary_line()}; see {OUT / 'report.txt'} or {OUT / 'report.html'}")


if __name__ == "__main__":
    main()
