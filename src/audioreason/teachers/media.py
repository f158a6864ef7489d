"""Clips and videos as the serving backends want them.

A request's clip is a file path, or ``<parquet>#<row>`` for CoTA's audio held inside the
parquet. :func:`openai_messages` turns a :class:`~audioreason.teachers.base.ChatRequest`
into OpenAI chat-completions messages whose last user turn carries the clip as an
``input_audio`` part (base64 WAV, what OpenAI's audio models and ``vllm serve`` accept)
and the video as a ``video_url`` part (``file://`` URL, which vLLM reads when local media
are allowed). The HTTP and the vLLM backends both build their requests with it.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from audioreason.audio.io import load_audio, resample


def load_clip(ref: str, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Decode a request's clip to float32 mono; ``sample_rate`` resamples (``None`` keeps the file's rate).

    Raises:
        audioreason.audio.io.AudioError: a missing or undecodable file.
    """
    file, sep, row = str(ref).rpartition("#")
    if sep and row.isdigit() and file.endswith(".parquet"):
        from audioreason.datasets.cota import load_cota_audio

        x, sr = load_cota_audio(ref)
        return (resample(x, sr, sample_rate), sample_rate) if sample_rate else (x, sr)
    if sample_rate is None:
        sample_rate = sf.info(str(ref)).samplerate
    return load_audio(ref, sample_rate), sample_rate


def wav_base64(ref: str, sample_rate: int | None = 16000) -> str:
    """The clip as a base64-encoded 16-bit WAV (16 kHz by default: what audio chat models ingest)."""
    x, sr = load_clip(ref, sample_rate)
    buf = io.BytesIO()
    sf.write(buf, x, sr, subtype="PCM_16", format="WAV")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def openai_messages(request, *, audio_sample_rate: int | None = 16000) -> list[dict[str, Any]]:
    """Chat-completions ``messages`` for ``request``: text turns, media on the last user turn.

    A text-only request keeps plain string contents (every server accepts those).
    """
    messages: list[dict[str, Any]] = [dict(m) for m in request.messages]
    if request.audio is None and request.video is None:
        return messages
    parts: list[dict[str, Any]] = []
    if request.video is not None:
        parts.append({"type": "video_url", "video_url": {"url": Path(request.video).resolve().as_uri()}})
    if request.audio is not None:
        parts.append(
            {
                "type": "input_audio",
                "input_audio": {"data": wav_base64(request.audio, audio_sample_rate), "format": "wav"},
            }
        )
    parts.append({"type": "text", "text": messages[-1]["content"]})
    messages[-1] = {"role": messages[-1]["role"], "content": parts}
    return messages
