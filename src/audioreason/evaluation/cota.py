"""Reading a CoTA-style answer, and unweighted accuracy for speech emotion recognition.

A CoTA-trained model ends its turn with ``<RESPONSE>… The answer is C.</RESPONSE>``; paper
01 §4.3 "standardize[s] the final answer … to fit MMAU's evaluation script" and discards
the trace, without saying how. :func:`extract_cota_answer` is this package's rule (the
option the response states, else the letter's option, else the response text, left to
the official MMAU rule); :func:`extract_letter_answer` reads the letter alone, and the
evaluation reports both.
"""

from __future__ import annotations

import re
from typing import Sequence

from audioreason.evaluation.mmau import mmau_is_correct

_LETTER = re.compile(r"answer is \(?([A-Ha-h])\)?(?![A-Za-z])")
_LETTER_SENTENCE = re.compile(r"[^.]*answer is \(?[A-Ha-h]\)?(?![A-Za-z])[^.]*\.?")
_RESPONSE = re.compile(r"<response>(.*?)(?:</response>|$)", re.IGNORECASE | re.DOTALL)
EXTRACTOR_NAME = "cota-stated-option-then-letter-v1"


def named_option(text: str, choices: Sequence[str]) -> str | None:
    """The one option ``text`` names by the official MMAU rule (:func:`~audioreason.evaluation.mmau.mmau_is_correct`:
    all its tokens present, none that only another option has), or ``None``."""
    named = [c for c in choices if mmau_is_correct(text, c, choices)]
    return named[0] if len(named) == 1 else None


def extract_cota_answer(text: str, choices: Sequence[str]) -> str:
    """The option a CoTA-format output chooses.

    The ``<RESPONSE>`` text is read first without its "The answer is X." sentence: when it
    names exactly one option, that option; otherwise the letter's option; otherwise the
    response text itself, left to the official rule. (CoTA responses state both, "it is
    blender. The answer is A."; the stated option is what MMAU's content-based rule would
    credit, the letter is the fallback.) :func:`extract_letter_answer` reads the letter only.

    >>> extract_cota_answer("<THINK>…</THINK> <RESPONSE>It barks. The answer is B.</RESPONSE>", ["cat", "dog"])
    'dog'
    >>> extract_cota_answer("<RESPONSE>It is a dog. The answer is A.</RESPONSE>", ["cat", "dog"])
    'dog'
    >>> extract_cota_answer("<RESPONSE>a bird</RESPONSE>", ["cat", "dog"])
    'a bird'
    """
    response = _RESPONSE.search(text or "")
    body = response.group(1) if response else (text or "")
    stated = named_option(_LETTER_SENTENCE.sub(" ", body), choices)
    if stated is not None:
        return stated
    letter = extract_letter_answer(body, choices)
    return letter if letter is not None else body.strip()


def extract_letter_answer(text: str, choices: Sequence[str]) -> str | None:
    """The option of the last "answer is X" letter, or ``None``.

    >>> extract_letter_answer("It is a dog. The answer is A.", ["cat", "dog"])
    'cat'
    """
    found = _LETTER.findall(text or "")
    if found:
        k = ord(found[-1].upper()) - ord("A")
        if k < len(choices):
            return choices[k]
    return None
