"""Stage ``ingest``: every dataset in its real on-disk format -> normalised JSON Lines manifests.

Reads each dataset of ``ingest.datasets`` (AVQA and MMAU for every paper's training and
evaluation, MUSIC-AVQA for paper 02 Table 2, IEMOCAP and FAU-Aibo for papers 01 and 04,
VCTK / DESED / MAESTRO-Real for paper 05, VGGSound + AudioSetCaps for paper 03 §III.C,
CoTA for paper 01 §3.1) through the importers in :mod:`audioreason.datasets`, the same
code ``audioreason data inspect`` runs, and writes

- ``outputs/ingest/<name>.jsonl``: one normalised record per line;
- ``outputs/ingest/index.json``: record type, format, source path and counts per manifest
  (what ``validate`` reads);
- ``outputs/ingest/quarantine.jsonl``: every malformed raw record set aside (with
  ``ingest.on_error: quarantine``), naming its file and record and what is wrong;
- ``metrics/ingest.json``: records, quarantined and filtered counts per manifest, and the
  sha256 of the MMAU test set.

With ``ingest.on_error: raise`` the first malformed record stops the stage with a message
naming the file and the record.

    dvc repro ingest          # or: python -m audioreason.stages.ingest
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from audioreason.config import IngestConfig
from audioreason.datasets.formats import FORMATS, read_dataset
from audioreason.datasets.mmau import file_sha256
from audioreason.datasets.records import RecordError, write_manifest
from audioreason.pipeline import OUTPUTS, stage_params
from audioreason.tracking import stage_run

OUT = OUTPUTS / "ingest"


def run(cfg: IngestConfig, out_dir: Path = OUT) -> dict:
    root = Path(cfg.data_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    index, metrics, quarantine = {}, {}, []
    for name, src in cfg.datasets.items():
        path = root / src.path
        options = {"audio_variant": cfg.audio_variant} if src.format == "avqa" else {}
        result = read_dataset(src.format, path, on_error=cfg.on_error, **options)
        n = write_manifest(result.records, out_dir / f"{name}.jsonl")
        index[name] = {
            "record_type": FORMATS[src.format][1],
            "format": src.format,
            "source": str(path),
            "path": f"{name}.jsonl",
            "n": n,
            "quarantined": len(result.quarantined),
            "filtered": result.filtered,
        }
        metrics[f"{name}.records"] = n
        metrics[f"{name}.quarantined"] = len(result.quarantined)
        metrics[f"{name}.filtered"] = sum(result.filtered.values())
        quarantine += [
            {"manifest": name, "file": e.source, "record": str(e.record), "problem": e.problem}
            for e in result.quarantined
        ]
        if src.format == "mmau":
            metrics[f"{name}.sha256"] = file_sha256(path)
        print(
            f"ingest: {name:<24} {n:>6} records  {len(result.quarantined):>4} quarantined  "
            f"{sum(result.filtered.values()):>4} filtered by protocol"
        )
    (out_dir / "index.json").write_text(json.dumps({"manifests": index}, indent=1) + "\n")
    with (out_dir / "quarantine.jsonl").open("w") as f:
        for q in quarantine:
            f.write(json.dumps(q, sort_keys=True) + "\n")
    metrics["quarantined"] = len(quarantine)
    return metrics


def main() -> None:
    cfg = stage_params("ingest")
    try:
        with stage_run("ingest", cfg=cfg) as stage:  # data preparation: no MLflow run
            stage.metrics = run(cfg)
    except (RecordError, FileNotFoundError) as e:
        sys.exit(f"ingest failed: {e}")
    if stage.metrics["quarantined"]:
        print(f"ingest: {stage.metrics['quarantined']} malformed record(s) quarantined: see {OUT / 'quarantine.jsonl'}")


if __name__ == "__main__":
    main()
