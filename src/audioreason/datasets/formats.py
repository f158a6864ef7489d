"""Every dataset format the importers read, by name, and where each expects its files.

``read_dataset(format, path)`` dispatches to the format's importer module, whose
``read(path, *, on_error, check_audio_exists) -> ImportResult`` takes the path a user
has on disk (below). ``audioreason data inspect --format FORMAT PATH`` and the
``ingest`` stage both go through here, so a user's copy and the synthetic world pass
the same code.

=============  ==============  ==========================================================================
format         record type     PATH (and where the audio is looked up)
=============  ==============  ==========================================================================
avqa           QARecord        ``train_qa.json`` / ``val_qa.json``; audio ``<dir>/audio/<video_name>.wav``
mmau           QARecord        the test-mini or test(-full) JSON; audio ``<dir>/<audio_id>``
music_avqa     OpenQARecord    ``json_update/avqa-{train,val,test}.json``; audio ``<root>/audio/<video_id>.wav``
                               where ``<root>`` holds ``json_update/``
iemocap        Utterance       ``IEMOCAP_full_release/`` (``Session{1..5}/dialog/EmoEvaluation/*.txt``,
                               ``Session{n}/sentences/wav/<dialog>/<utt>.wav``)
fau_aibo       Utterance       the corpus root (``labels/IS2009EmotionChallenge/chunk_labels_5cl_corpus.txt``,
                               ``wav/<chunk_id>.wav``)
vctk           Utterance       the VCTK 0.92 root (``speaker-info.txt``, ``txt/``, ``wav48_silence_trimmed/``)
desed          Soundscape      DESED's ``dataset/`` root: every TSV under ``metadata/`` (strong or weak by
                               header); audio ``audio/<same path without .tsv>[_16k]/<filename>``
maestro        Soundscape      the MAESTRO-Real root (``development_audio/<scene>/<scene>_NN.wav``,
                               ``development_annotation/**/<scene>_NN.txt``)
vggsound       LabelledClip    ``vggsound.csv``; audio ``<dir>/audio/<ytid>_<start:06d>.wav``
audiosetcaps   Caption         a caption CSV (``id,caption``)
cota           CotaRecord      a parquet file or a folder of them (searched recursively)
arc            QARecord        ``ARC-Easy-Train.jsonl`` (or Dev / Test, a folder of them, or the HF parquet);
                               text only: no audio (``audio`` is ``""``)
=============  ==============  ==========================================================================
"""

from __future__ import annotations

import importlib
from pathlib import Path

from audioreason.datasets.records import ImportResult

#: format name -> (importer module, record type name)
FORMATS: dict[str, tuple[str, str]] = {
    "avqa": ("audioreason.datasets.avqa", "QARecord"),
    "mmau": ("audioreason.datasets.mmau", "QARecord"),
    "music_avqa": ("audioreason.datasets.music_avqa", "OpenQARecord"),
    "iemocap": ("audioreason.datasets.iemocap", "Utterance"),
    "fau_aibo": ("audioreason.datasets.fau_aibo", "Utterance"),
    "vctk": ("audioreason.datasets.vctk", "Utterance"),
    "desed": ("audioreason.datasets.desed", "Soundscape"),
    "maestro": ("audioreason.datasets.maestro", "Soundscape"),
    "vggsound": ("audioreason.datasets.vggsound", "LabelledClip"),
    "audiosetcaps": ("audioreason.datasets.audiosetcaps", "Caption"),
    "cota": ("audioreason.datasets.cota", "CotaRecord"),
    "arc": ("audioreason.datasets.arc", "QARecord"),
}


def read_dataset(
    fmt: str, path: str | Path, *, on_error: str = "raise", check_audio_exists: bool = True, **options
) -> ImportResult:
    """Read the dataset at ``path`` in format ``fmt`` (``options`` go to the importer, e.g. AVQA's ``audio_variant``).

    Raises:
        ValueError: for an unknown format (the message lists the known ones).
        FileNotFoundError: when ``path`` does not exist.
        RecordError: for a malformed record when ``on_error="raise"``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown dataset format {fmt!r}; known: {', '.join(FORMATS)}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{fmt}: {path} does not exist")
    module = importlib.import_module(FORMATS[fmt][0])
    return module.read(path, on_error=on_error, check_audio_exists=check_audio_exists, **options)
