"""Prompt building shared by training and evaluation (one place, so they cannot drift).

The papers 02-03 templates are params (``{question}``, ``{choices}``); CoTA's system prompt and
its question / trace layout (paper 01 §3.1, FORMATS.md "CoTA") are fixed by the dataset.
"""

from __future__ import annotations

from audioreason.datasets.records import QARecord


def format_prompt(template: str, record: QARecord) -> str:
    """Fill ``{question}`` and ``{choices}`` (the list repr, as R1-AQA and Omni-R1 do; ``[]`` for open questions).

    >>> from audioreason.datasets.records import QARecord
    >>> r = QARecord("1", "avqa", "train", "a.wav", "Which sound?", ("dog", "cat"), "dog")
    >>> format_prompt("{question} Options: {choices}.", r)
    "Which sound? Options: ['dog', 'cat']."
    """
    return template.format(question=record.question, choices=str(list(getattr(record, "choices", ()))))


def audio_messages(prompt: str) -> list[dict]:
    """One user turn holding the clip, then the text (the Qwen2-Audio chat layout)."""
    return [{"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": prompt}]}]


#: CoTA's system prompt (FORMATS.md, "CoTA").
COTA_SYSTEM = (
    "You are an audio deep-thinking model. Upon receiving a question, please respond in two parts: <THINK> "
    "and <RESPONSE>. The <THINK> section should be further divided into four parts: <PLANNING>, <CAPTION>, "
    "<REASONING>, and <SUMMARY>."
)


def cota_response(row: dict) -> str:
    """y = (r, a) as CoTA's assistant turn writes it."""
    t = row["trace"]
    return (
        f"<THINK>\n<PLANNING>{t['planning']}</PLANNING>\n<CAPTION>{t['caption']}</CAPTION>\n"
        f"<REASONING>{t['reasoning']}</REASONING>\n<SUMMARY>{t['summary']}</SUMMARY>\n</THINK>\n"
        f"<RESPONSE>{row['response']}</RESPONSE>"
    )


def cota_question(question: str, choices) -> str:
    """q as CoTA's user turn holds it: the question and its options ``(a) … (b) …``."""
    return " ".join([question, *(f"({chr(ord('a') + i)}) {c}" for i, c in enumerate(choices))]).strip()
