"""The world's own account of what it wrote: ``world/metadata.json``.

For every dataset the world writes, the summary the importers must report on it
(``audioreason data inspect`` keys: records, quarantined, labels, gender, types, tasks),
computed from the writers' own bookkeeping, never by running an importer. A test
compares the two.
"""

from __future__ import annotations

from pathlib import Path

from audioreason.config import WorldConfig

#: name -> (format, path under data/): every dataset of the world, as ``ingest`` reads it.
WORLD_DATASETS: dict[str, tuple[str, str]] = {
    "avqa_train": ("avqa", "avqa/train_qa.json"),
    "avqa_val": ("avqa", "avqa/val_qa.json"),
    "mmau_test_mini": ("mmau", "mmau/mmau-test-mini.json"),
    "music_avqa_train": ("music_avqa", "music_avqa/json_update/avqa-train.json"),
    "music_avqa_val": ("music_avqa", "music_avqa/json_update/avqa-val.json"),
    "music_avqa_test": ("music_avqa", "music_avqa/json_update/avqa-test.json"),
    "iemocap": ("iemocap", "iemocap/IEMOCAP_full_release"),
    "fau_aibo": ("fau_aibo", "fau_aibo"),
    "vctk": ("vctk", "vctk"),
    "desed": ("desed", "desed/dataset"),
    "maestro": ("maestro", "maestro"),
    "vggsound": ("vggsound", "vggsound/vggsound.csv"),
    "audiosetcaps": ("audiosetcaps", "audiosetcaps/VGGSound_AudioSetCaps_caption.csv"),
    "audiosetcaps_audioset": ("audiosetcaps", "audiosetcaps/AudioSetCaps_caption.csv"),
    "cota": ("cota", "cota/data"),
    "arc_easy": ("arc", "ARC-V1-Feb2018-2/ARC-Easy/ARC-Easy-Train.jsonl"),
    "mmau_test": ("mmau", "mmau/mmau-test.json"),
}


def expected_counts(out: Path, cfg: WorldConfig, w: dict) -> dict:
    """Expected inspect summaries per dataset name (see :data:`WORLD_DATASETS`).

    Args:
        out: The world's root folder.
        cfg: The world's config.
        w: What each writer returned, by writer name (``mmau``, ``iemocap``, ...).
    """
    iem = w["iemocap"]
    exp = {
        "avqa_train": {"records": cfg.n_train},
        "avqa_val": {"records": cfg.n_val},
        "mmau_test_mini": {"records": cfg.n_test_mini, "tasks": w["mmau"]},
        "iemocap": {
            "records": iem["records"],
            "labels": dict(sorted(iem["labels"].items())),
            "gender": _count(iem["speakers"].values()),
        },
        "fau_aibo": {"records": w["fau_aibo"]["records"], "labels": dict(sorted(w["fau_aibo"]["labels"].items()))},
        "vctk": {"records": w["vctk"]["records"], "gender": dict(sorted(w["vctk"]["gender"].items()))},
        "desed": {
            "records": w["desed"]["strong"] + w["desed"]["weak"],
            "labels": dict(sorted(w["desed"]["labels"].items())),
        },
        "maestro": {"records": w["maestro"]["records"], "labels": dict(sorted(w["maestro"]["labels"].items()))},
        "vggsound": {"records": w["vggsound"]["records"], "labels": dict(sorted(w["vggsound"]["labels"].items()))},
        "audiosetcaps": {"records": w["audiosetcaps"]["vggsound_captions"]},
        "audiosetcaps_audioset": {"records": w["audiosetcaps"]["audioset_captions"]},
        "cota": {"records": w["cota"]["records"], "quarantined": w["cota"]["quarantined"]},
        "arc_easy": {"records": w["arc"]["train"]["records"]},
        "mmau_test": {"records": cfg.n_test_full, "tasks": w["mmau_test"]},
    }
    for split in ("train", "val", "test"):
        types = dict(sorted(w["music_avqa"].get(split, {}).items()))
        exp[f"music_avqa_{split}"] = {"records": sum(types.values()), "types": types}
    result = {}
    for name, (fmt, path) in WORLD_DATASETS.items():
        entry = {"format": fmt, "path": path, "quarantined": 0, **exp[name]}
        result[name] = entry
    return {
        "datasets": result,
        "caption_hallucinations": w["audiosetcaps"]["hallucinated"],
        "iemocap_outside_4way": iem["filtered"],
    }


def _count(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))
