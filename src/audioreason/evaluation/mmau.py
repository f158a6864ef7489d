"""Official MMAU scoring rule and its aggregation.

The rule reproduces ``string_match`` of the official MMAU ``evaluation.py``
(January 2025): a prediction is correct when it carries every word of the
answer and no word that only a wrong choice carries. Accuracies are reported
in percent, overall and per task, difficulty and sub-category.

Typical use::

    from audioreason.evaluation.mmau import extract_answer, score_mmau

    for item in items:
        item["model_output"] = extract_answer(generated_text[item["id"]])
    metrics = score_mmau(items)
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "with_predictions",
    "EXTRACTOR_NAME",
    "PREDICTION_KEYS",
    "SCORER_NAME",
    "extract_answer",
    "mmau_is_correct",
    "mmau_test_set_sha256",
    "mmau_tokens",
    "score_mmau",
    "score_mmau_file",
    "write_submission",
]

SCORER_NAME = "mmau-official-2025-01"
"""Version of the scoring rule, logged with every evaluation."""

EXTRACTOR_NAME = "answer-tag-else-text-v1"
"""Version of :func:`extract_answer`, logged with every evaluation."""

PREDICTION_KEYS: tuple[str, ...] = ("model_output", "model_prediction")
"""Item keys read for the prediction, in order of preference.

``model_prediction`` is the name used by older versions of the official script.
"""

_TOKEN_RE = re.compile(r"\b\w+\b")
_OPEN_TAG_RE = re.compile(r"<\s*answer\s*>", re.IGNORECASE)
_CLOSE_TAG_RE = re.compile(r"<\s*/\s*answer\s*>", re.IGNORECASE)


def mmau_tokens(text: str) -> set[str]:
    """Return the set of lower-cased word tokens of ``text``, as the official script does.

    Args:
        text: Any string.

    Returns:
        The set of matches of ``\\b\\w+\\b`` in ``text.lower()``.

    Examples:
        >>> sorted(mmau_tokens("The answer is (A) Man."))
        ['a', 'answer', 'is', 'man', 'the']
    """
    return set(_TOKEN_RE.findall(text.lower()))


def mmau_is_correct(prediction: str, answer: str, choices: Sequence[str]) -> bool:
    """Apply the official MMAU string-match rule to one prediction.

    Let ``P`` and ``A`` be the token sets of the prediction and the answer, and
    ``W`` the union, over the choices whose token set differs from ``A``, of
    their tokens not in ``A``. The prediction is correct iff ``P`` is not empty,
    ``A`` is a subset of ``P`` and ``P`` and ``W`` are disjoint.

    Args:
        prediction: The extracted model prediction.
        answer: The reference answer (one of the choices).
        choices: All choices of the question, the answer included.

    Returns:
        Whether the prediction counts as correct.

    Examples:
        >>> mmau_is_correct("The answer is (A) Man", "Man", ["Man", "Woman"])
        True
        >>> mmau_is_correct("Man or Woman", "Man", ["Man", "Woman"])
        False
    """
    predicted = mmau_tokens(prediction)
    if not predicted:
        return False
    expected = mmau_tokens(answer)
    wrong: set[str] = set()
    for choice in choices:
        choice_tokens = mmau_tokens(choice)
        if choice_tokens != expected:
            wrong |= choice_tokens - expected
    return expected <= predicted and predicted.isdisjoint(wrong)


def extract_answer(text: str) -> str:
    """Return the part of a model's generated text that goes to the scorer.

    The content of the last ``<answer>`` tag (case-insensitive, spanning lines,
    stripped) is returned when there is one; a last ``<answer>`` that is never
    closed yields everything after it. Without any ``<answer>`` tag the whole
    text, stripped, is returned.

    Args:
        text: The generated text.

    Returns:
        The prediction string; may be empty (an empty prediction scores wrong).

    Examples:
        >>> extract_answer("<think>it barks</think> <answer> Dog </answer>")
        'Dog'
        >>> extract_answer("<answer>Cat</answer> wait... <ANSWER>Dog</ANSWER>")
        'Dog'
        >>> extract_answer("  A dog barking.\\n")
        'A dog barking.'
        >>> extract_answer("<think>hmm</think><answer>Dog")
        'Dog'
        >>> extract_answer("<answer></answer>")
        ''
    """
    # The last opening tag rather than the last matched pair, so that a reopened
    # or unclosed final answer wins over an earlier closed one.
    last_open = None
    for last_open in _OPEN_TAG_RE.finditer(text):  # noqa: B007 (the loop keeps the last match)
        pass
    if last_open is None:
        return text.strip()
    rest = text[last_open.end() :]
    close = _CLOSE_TAG_RE.search(rest)
    return (rest[: close.start()] if close else rest).strip()


def _item_label(item: Mapping[str, Any], index: int) -> str:
    item_id = item.get("id")
    return f"item {index} (id {item_id!r})" if item_id is not None else f"item {index}"


def _prediction_of(item: Mapping[str, Any], index: int) -> str | None:
    for key in PREDICTION_KEYS:
        if key in item:
            prediction = item[key]
            if not isinstance(prediction, str):
                raise ValueError(
                    f"{_item_label(item, index)}: prediction {key!r} must be a string, got {type(prediction).__name__}"
                )
            return prediction
    return None


def _question_of(item: Mapping[str, Any], index: int) -> tuple[str, list[str]]:
    answer = item.get("answer")
    choices = item.get("choices")
    if not isinstance(answer, str):
        raise ValueError(f"{_item_label(item, index)}: 'answer' must be a string, got {type(answer).__name__}")
    # A bare string would be iterated character by character.
    if (
        isinstance(choices, (str, bytes))
        or not isinstance(choices, Sequence)
        or not all(isinstance(choice, str) for choice in choices)
    ):
        raise ValueError(f"{_item_label(item, index)}: 'choices' must be a list of strings, got {choices!r}")
    return answer, list(choices)


def _group_of(item: Mapping[str, Any], key: str, index: int) -> str:
    if key not in item:
        raise ValueError(f"{_item_label(item, index)}: missing {key!r}")
    return str(item[key])


def _percent(counts: Mapping[str, list[int]]) -> dict[str, float]:
    return {name: 100.0 * right / total for name, (right, total) in sorted(counts.items())}


def score_mmau(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Score MMAU items carrying a prediction and aggregate the accuracies.

    The prediction is read from ``model_output``, else ``model_prediction``.
    Items with neither key are skipped: they leave the denominator and are
    counted under ``skipped``.

    Args:
        items: MMAU items (``answer``, ``choices``, ``task``, ``difficulty``,
            optionally ``sub-category``), each with or without a prediction.

    Returns:
        A dict with ``n`` (items scored), ``skipped``, ``correct``, ``overall``
        (percent), ``task``, ``difficulty`` and ``sub_category`` (percent per
        group present among the scored items), and ``counts`` (items scored per
        ``task`` and per ``difficulty``). Percentages are unrounded floats in
        [0, 100].

    Raises:
        ValueError: If no item carries a prediction, a prediction is not a
            string, or an item lacks a well-formed answer, choices, task or
            difficulty.
    """
    n = skipped = correct = 0
    by_task: dict[str, list[int]] = {}
    by_difficulty: dict[str, list[int]] = {}
    by_sub_category: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        prediction = _prediction_of(item, index)
        if prediction is None:
            skipped += 1
            continue
        answer, choices = _question_of(item, index)
        hit = int(mmau_is_correct(prediction, answer, choices))
        groups = [
            (by_task, _group_of(item, "task", index)),
            (by_difficulty, _group_of(item, "difficulty", index)),
        ]
        if item.get("sub-category") is not None:
            groups.append((by_sub_category, str(item["sub-category"])))
        for table, name in groups:
            tally = table.setdefault(name, [0, 0])
            tally[0] += hit
            tally[1] += 1
        n += 1
        correct += hit
    if n == 0:
        raise ValueError(
            f"no item carries a prediction (keys tried: {', '.join(PREDICTION_KEYS)}; {skipped} items skipped)"
        )
    return {
        "n": n,
        "skipped": skipped,
        "correct": correct,
        "overall": 100.0 * correct / n,
        "task": _percent(by_task),
        "difficulty": _percent(by_difficulty),
        "sub_category": _percent(by_sub_category),
        "counts": {
            "task": {name: total for name, (_, total) in sorted(by_task.items())},
            "difficulty": {name: total for name, (_, total) in sorted(by_difficulty.items())},
        },
    }


def mmau_test_set_sha256(items: Sequence[Mapping[str, Any]]) -> str:
    """Fingerprint the questions of a prediction file, ignoring the predictions.

    The hash covers ``json.dumps(items, sort_keys=True, ensure_ascii=False)``
    with the prediction keys removed from every item, so two prediction files
    over the same test set share it whatever the model answered.

    Args:
        items: MMAU items, with or without predictions.

    Returns:
        The hex sha256 digest.
    """
    questions = [{key: value for key, value in item.items() if key not in PREDICTION_KEYS} for item in items]
    canonical = json.dumps(questions, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def with_predictions(
    items: Sequence[Mapping[str, Any]], outputs: Mapping[str, str], raw: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """The MMAU list with ``model_output`` (and ``raw_completion``) set for every item whose id
    (``id``, or ``audio_id`` in older versions) is in ``outputs``; other items stay without
    a prediction (the official script skips them).

    >>> with_predictions([{"id": "a"}, {"id": "b"}], {"a": "dog"})
    [{'id': 'a', 'model_output': 'dog'}, {'id': 'b'}]
    """
    out = []
    for item in items:
        item = dict(item)
        key = str(item.get("id", item.get("audio_id")))
        if key in outputs:
            item["model_output"] = outputs[key]
            if raw is not None:
                item["raw_completion"] = raw[key]
        out.append(item)
    return out


def score_mmau_file(path: str | Path) -> dict[str, Any]:
    """Score an MMAU prediction file (the test list with a prediction per item).

    Args:
        path: A JSON file holding a list of MMAU items.

    Returns:
        The result of :func:`score_mmau` plus ``test_set_sha256``
        (see :func:`mmau_test_set_sha256`).

    Raises:
        ValueError: If the file is not JSON, not a list of objects, or fails
            :func:`score_mmau`; the message names the file.
    """
    path = Path(path)
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from error
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ValueError(f"{path}: expected a JSON list of objects (MMAU items), got {type(items).__name__}")
    try:
        result = score_mmau(items)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error
    result["test_set_sha256"] = mmau_test_set_sha256(items)
    return result


#: The published item fields of MMAU, in the order of the released files.
_PUBLISHED_FIELDS = (
    "id",
    "audio_id",
    "question",
    "choices",
    "answer",
    "dataset",
    "task",
    "split",
    "category",
    "sub-category",
    "difficulty",
)


def _published_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """The item as MMAU publishes it: a raw item as it is; a ``mmau_test`` manifest record mapped back."""
    if "audio_id" in item:
        return dict(item)
    extra = item.get("extra") or {}
    if "audio_id" not in extra:
        raise ValueError(f"item {item.get('id')!r}: neither an MMAU item (audio_id) nor an MMAU manifest record")
    mapped = {
        "id": item["id"],
        "audio_id": extra["audio_id"],
        "question": item["question"],
        "choices": list(item["choices"]),
        "answer": item["answer"],
        "dataset": extra.get("dataset", ""),
        "task": item["task"],
        "split": item["split"],
        "category": item["category"],
        "sub-category": item["sub_category"],
        "difficulty": item["difficulty"],
    }
    return {key: mapped[key] for key in _PUBLISHED_FIELDS}


def write_submission(
    test_items: Sequence[Mapping[str, Any]],
    predictions: Mapping[str, str],
    path: str | Path,
    *,
    key: str = "model_output",
) -> Path:
    """Write the prediction file for MMAU test-full, whose answers are withheld (paper 03 Table I, Test-full).

    The official README (https://github.com/Sakshi113/MMAU, commit 010c734, "Evaluation") says
    the scorer's input is "the original MMAU benchmark file with an additional key" holding the
    model's prediction per question, and that test-set predictions are submitted to the
    benchmark's evaluation server (EvalAI challenge 2391 in the README at commit 473c0f9; the
    Hugging Face Space ``sonalkum/MMAU-Eval`` since 30 January 2026). The upload format of that server is not
    published in the repository, so the file written here is what the official
    ``evaluation.py`` scores: the test JSON list, in its order, every item once with ``key``
    added. The README names the key ``model_prediction``; the script reads ``model_output``
    (the default here; :data:`PREDICTION_KEYS`).

    Args:
        test_items: The items of the test JSON as published (``json.load`` of
            ``mmau-test.json``), or the records of the ``mmau_test`` manifest
            (``QARecord.to_json()``), which are mapped back to the published fields.
        predictions: Item id -> the extracted prediction (:func:`extract_answer`).
        path: Where to write the JSON (parent folders are created).
        key: The prediction key.

    Returns:
        ``path``.

    Raises:
        ValueError: an item without an id or with an id seen before, a prediction for an id
            the test set does not hold, an item without a prediction, or a prediction that is
            not a string (each message names the ids, at most five).
    """
    items = [_published_item(item) for item in test_items]
    ids: list[str] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        if item.get("id") is None:
            raise ValueError(f"{_item_label(item, index)}: no id (the submission is matched by id)")
        item_id = str(item["id"])
        if item_id in seen:
            raise ValueError(f"{_item_label(item, index)}: id appears more than once in the test items")
        seen.add(item_id)
        ids.append(item_id)
    unknown = sorted(set(predictions) - seen)
    if unknown:
        raise ValueError(
            f"{len(unknown)} prediction(s) for ids not in the test set ({len(items)} items): {', '.join(unknown[:5])}"
        )
    missing = [i for i in ids if i not in predictions]
    if missing:
        raise ValueError(f"{len(missing)} of {len(items)} test item(s) have no prediction: {', '.join(missing[:5])}")
    wrong = [i for i in ids if not isinstance(predictions[i], str)]
    if wrong:
        raise ValueError(f"predictions must be strings; not for id(s) {', '.join(wrong[:5])}")
    out = [{**item, key: predictions[item_id]} for item, item_id in zip(items, ids)]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=4, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
