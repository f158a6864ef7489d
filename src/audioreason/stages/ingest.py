"""Stage ``ingest``: real on-disk formats -> normalised JSON Lines manifests.

Reads the AVQA splits (papers 02 §4, 03 §III) and the MMAU test-mini (every paper's
evaluation) from ``ingest.data_dir`` with the importers in :mod:`audioreason.datasets`,
and writes ``outputs/ingest/{avqa_train,avqa_val,mmau_test_mini}.jsonl`` plus counts in
``metrics/ingest.json``. A malformed record stops the stage with a message naming the
file and the record.

    dvc repro ingest          # or: python -m audioreason.stages.ingest
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from audioreason.config import IngestConfig
from audioreason.datasets.avqa import read_avqa
from audioreason.datasets.mmau import file_sha256, read_mmau
from audioreason.datasets.records import RecordError, write_manifest
from audioreason.stages.common import METRICS, OUTPUTS, sections
from audioreason.tracking import write_metrics

OUT = OUTPUTS / "ingest"


def run(cfg: IngestConfig, out_dir: Path = OUT) -> dict:
    root = Path(cfg.data_dir)
    manifests = {
        "avqa_train": read_avqa(root / cfg.avqa.train, root / cfg.avqa.audio_dir, "train", audio_variant=cfg.audio_variant).records,
        "avqa_val": read_avqa(root / cfg.avqa.val, root / cfg.avqa.audio_dir, "val", audio_variant=cfg.audio_variant).records,
        "mmau_test_mini": read_mmau(root / cfg.mmau.test_mini, root / cfg.mmau.audio_root).records,
    }
    metrics: dict = {"mmau_test_mini_sha256": file_sha256(root / cfg.mmau.test_mini)}
    for name, records in manifests.items():
        metrics[f"{name}.n"] = write_manifest(records, out_dir / f"{name}.jsonl")
    for task, n in sorted(Counter(r.task for r in manifests["mmau_test_mini"]).items()):
        metrics[f"mmau_test_mini.task.{task}"] = n
    return metrics


def main() -> None:
    cfg = sections("ingest")
    try:
        metrics = run(cfg)
    except RecordError as e:
        sys.exit(f"ingest failed: {e}")
    write_metrics(metrics, METRICS / "ingest.json")
    print(f"ingest: {metrics}")


if __name__ == "__main__":
    main()
