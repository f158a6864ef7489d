"""Prompt building shared by training and evaluation (one place, so they cannot drift)."""

from __future__ import annotations

from audioreason.datasets.records import QARecord


def format_prompt(template: str, record: QARecord) -> str:
    """Fill ``{question}`` and ``{choices}`` (the Python list repr, as R1-AQA and Omni-R1 do; ``[]`` for open questions).

    >>> from audioreason.datasets.records import QARecord
    >>> r = QARecord("1", "avqa", "train", "a.wav", "Which sound?", ("dog", "cat"), "dog")
    >>> format_prompt("{question} Options: {choices}.", r)
    "Which sound? Options: ['dog', 'cat']."
    """
    return template.format(question=record.question, choices=str(list(getattr(record, "choices", ()))))


def audio_messages(prompt: str) -> list[dict]:
    """One user turn holding the clip, then the text (the Qwen2-Audio chat layout)."""
    return [{"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": prompt}]}]
