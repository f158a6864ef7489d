"""Stage ``validate``: quality gates on the ingested manifests and the audio they point at.

A great-expectations suite per manifest (ids unique, 2-8 choices, the answer among
them, known task/difficulty/split) and audio checks per clip (exists, decodable,
expected sample rate, duration bounds, not silent, finite). Any failure stops the
pipeline with a report naming the failing records (``outputs/validate/report.txt``,
also printed); the JSON report and counts are written either way.

    dvc repro validate        # or: python -m audioreason.stages.validate
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from audioreason.config import ValidateConfig
from audioreason.datasets.records import read_manifest
from audioreason.quality.audio_checks import check_audio_files
from audioreason.quality.expectations import validate_manifest
from audioreason.quality.report import QualityReport
from audioreason.stages.common import METRICS, OUTPUTS, sections
from audioreason.tracking import write_metrics

MANIFESTS = ("avqa_train", "avqa_val", "mmau_test_mini")
OUT = OUTPUTS / "validate"


def run(cfg: ValidateConfig, manifest_dir: Path = OUTPUTS / "ingest", out_dir: Path = OUT) -> QualityReport:
    reports, records = [], []
    for name in MANIFESTS:
        recs = read_manifest(manifest_dir / f"{name}.jsonl")
        records += recs
        # AVQA has no MMAU task/difficulty: empty is allowed there only.
        empty_ok = [""] if name.startswith("avqa") else []
        reports.append(validate_manifest(recs, name=name, allowed_tasks=["sound", "music", "speech", *empty_ok],
                                         allowed_difficulties=["easy", "medium", "hard", *empty_ok]))
    audio = check_audio_files(sorted({r.audio for r in records}), expected_sample_rates=cfg.expected_sample_rates,
                              min_duration_s=cfg.min_duration_s, max_duration_s=cfg.max_duration_s,
                              silence_dbfs=cfg.silence_dbfs)
    report = QualityReport.from_checks(reports, audio, records)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report.to_json(), indent=2, default=str) + "\n")
    (out_dir / "report.txt").write_text(report.to_text() + "\n")
    return report


def main() -> None:
    report = run(sections("validate"))
    summary = report.to_json()
    write_metrics({"success": report.success, "records": sum(m.n_records for m in report.manifests),
                   "audio_checked": len(report.audio), "audio_failed": len(report.failed_audio),
                   "manifest_checks_failed": sum(len(m.failures) for m in report.manifests)},
                  METRICS / "validate.json")
    print(report.to_text())
    if not report.success:
        sys.exit("validate failed: see outputs/validate/report.txt")


if __name__ == "__main__":
    main()
