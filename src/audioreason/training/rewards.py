"""GRPO reward functions for the audio reasoning papers, hardened against reward hacking.

TRL's ``GRPOTrainer`` calls every reward as ``fn(completions=..., prompts=...,
completion_ids=..., **columns)``, the dataset columns given as lists with one entry per
completion; each function here returns one float per completion and ignores the
arguments it does not use. A completion is a string or a conversation (a list of
``{"role", "content"}`` messages), whose last assistant message is read.

* Omni-R1 (paper 03 §III.B): "r_acc is an accuracy reward: it is 1 if the model's
  response contains the correct answer, and 0 otherwise. We do not include any other
  rewards such as formatting rewards." The prompt is ``<question> Please choose the
  answer from the following options: <choices>`` and the model answers with the choice
  text, so :func:`omni_r1_accuracy` reads the whole response (the ``<answer>`` block
  instead when the response has answer tags).
* SightSound-R1 (paper 02 §3.3): "Accuracy reward (+1): if the answer matches the
  teacher's prediction. Format reward (+1): if the output correctly uses <think>
  ...</think> and <answer> ...</answer> tags. Otherwise, the reward is 0."
  :func:`sightsound_accuracy` compares with the ``teacher_answer`` column (the vision
  teacher's label), not with the ground truth; :func:`sightsound_format` is the strict
  format check.
* R1-AQA (the public recipe on Qwen2-Audio): the ``<answer>`` content against the
  ground-truth ``answer`` (:func:`r1_aqa_accuracy`), and a separate reward for having an
  ``<answer>`` block (:func:`r1_aqa_format`).

"Contains the correct answer" taken literally pays a policy that lists every option, so
an answer is correct only when the set of choices it names (:func:`named_choices`) is
exactly the label: an empty, repeated, unclosed or misplaced ``<answer>`` block, an
answer naming two choices, the echoed choice list, and a wrong choice that contains the
right one ("dog barking" for "dog") all score 0. A label that is not one of the choices
raises :class:`ValueError` rather than scoring 0.

Typical use::

    from audioreason.training.rewards import reward_functions

    trainer = GRPOTrainer(..., reward_funcs=reward_functions(["sightsound_accuracy", "sightsound_format"]))
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from audioreason.teachers.parsing import match_choice

__all__ = [
    "REWARDS",
    "answer_block",
    "completion_text",
    "named_choices",
    "omni_r1_accuracy",
    "r1_aqa_accuracy",
    "r1_aqa_format",
    "reward_functions",
    "sightsound_accuracy",
    "sightsound_format",
]

# The tokenisation of ``audioreason.evaluation.mmau.mmau_tokens``, kept in order and with
# positions because a choice is matched as a run of consecutive words.
_TOKEN = re.compile(r"\b\w+\b")
_ANSWER_OPEN = re.compile(r"<\s*answer\s*>", re.IGNORECASE)
_ANSWER_CLOSE = re.compile(r"<\s*/\s*answer\s*>", re.IGNORECASE)
_THINK_TAG = re.compile(r"<\s*(/?)\s*think\s*>", re.IGNORECASE)
_ANY_TAG = re.compile(r"<\s*/?\s*(?:think|answer)\s*>", re.IGNORECASE)
_LETTER_MARK = re.compile(r"\(\s*([a-z])\s*\)")
# Exact lowercase tags: the format reward pays for the layout the prompt asks for.
_SIGHTSOUND_LAYOUT = re.compile(r"<think>(.*?)</think>\s*<answer>(.*?)</answer>", re.DOTALL)

Completion = str | Sequence[Mapping[str, Any]]


def completion_text(completion: Completion) -> str:
    """The text of a completion: the string itself, or the last assistant message's content.

    Args:
        completion: A string, or a conversation (messages with ``role`` and ``content``;
            a content given as parts contributes its ``text`` parts).

    Returns:
        The completion text.

    Raises:
        ValueError: If a conversation has no assistant message.
        TypeError: If the completion is neither a string nor a list of messages.

    Examples:
        >>> completion_text("<answer>dog</answer>")
        '<answer>dog</answer>'
        >>> completion_text([{"role": "assistant", "content": "dog"}])
        'dog'
        >>> completion_text([{"role": "assistant", "content": [{"type": "text", "text": "dog"}]}])
        'dog'
    """
    if isinstance(completion, str):
        return completion
    if not isinstance(completion, Sequence) or not all(isinstance(m, Mapping) for m in completion):
        raise TypeError(f"a completion must be a string or a list of messages, got {type(completion).__name__}")
    for message in reversed(completion):
        if message.get("role") == "assistant":
            content = message.get("content")
            if content is None:
                return ""
            if isinstance(content, str):
                return content
            return "".join(part.get("text", "") for part in content if part.get("type") == "text")
    raise ValueError(f"conversation without an assistant message: {list(completion)!r}")


def answer_block(text: str) -> str | None:
    """The stripped content of the one ``<answer>`` block, or ``None`` when it is not usable.

    Usable means: exactly one ``<answer>`` and one ``</answer>``, in that order, with
    non-blank content, and, when the text has ``<think>`` tags, after the last of them,
    which must be a ``</think>`` (an answer inside or before the reasoning is not an
    answer). Tags are case-insensitive and may hold spaces (``< /Answer >``).

    Args:
        text: A completion text.

    Returns:
        The answer content, or ``None``.

    Examples:
        >>> answer_block("<think>barks</think> <answer> dog </answer>")
        'dog'
        >>> answer_block("<answer>dog</answer><answer>dog</answer>") is None
        True
        >>> answer_block("<think><answer>dog</answer></think>") is None
        True
        >>> answer_block("<answer>dog") is None
        True
    """
    opens = list(_ANSWER_OPEN.finditer(text))
    closes = list(_ANSWER_CLOSE.finditer(text))
    if len(opens) != 1 or len(closes) != 1:
        return None
    start, end = opens[0], closes[0]
    if end.start() < start.end():
        return None
    think_tags = list(_THINK_TAG.finditer(text))
    if think_tags:
        last = think_tags[-1]
        if last.group(1) != "/" or last.end() > start.start():
            return None
    content = text[start.end() : end.start()].strip()
    return content or None


def _key(text: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(text.lower()))


def named_choices(text: str, choices: Sequence[str]) -> list[str]:
    """The choices that ``text`` names, in the order of ``choices``.

    A text that is exactly one choice (case, spacing and punctuation ignored) or a bare
    option letter (``B``, ``(b)``) names that choice, as
    :func:`audioreason.teachers.parsing.match_choice` reads it. Otherwise a choice is
    named where its words occur as a run of whole words; longer choices are matched
    first and their words are then taken, so "dog barking" does not also name "dog". A
    parenthesised letter such as ``(B)`` outside the matched words names its choice too.
    Every mention counts, a negated one included ("not cat").

    Args:
        text: The answer text.
        choices: The question's choices.

    Returns:
        The named choices; several when the text hedges or lists the options.

    Examples:
        >>> named_choices("It is a dog barking.", ["dog", "dog barking"])
        ['dog barking']
        >>> named_choices("dog or cat", ["cat", "dog", "bird"])
        ['cat', 'dog']
        >>> named_choices("(B)", ["cat", "dog"])
        ['dog']
        >>> named_choices("a bird", ["cat", "dog"])
        []
    """
    whole = match_choice(text, choices)
    if whole is not None:
        return [whole]
    lowered = text.lower()
    spans = [(m.group(), m.start()) for m in _TOKEN.finditer(lowered)]
    words = [w for w, _ in spans]
    # One entry per distinct wording; dict order keeps the order of ``choices``.
    by_key: dict[tuple[str, ...], str] = {}
    for choice in choices:
        key = _key(choice)
        if key and key not in by_key:
            by_key[key] = choice
    taken = [False] * len(words)
    found: set[tuple[str, ...]] = set()
    for key in sorted(by_key, key=len, reverse=True):
        n, i = len(key), 0
        while i + n <= len(words):
            if tuple(words[i : i + n]) == key and not any(taken[i : i + n]):
                taken[i : i + n] = [True] * n
                found.add(key)
                i += n
            else:
                i += 1
    index_at = {start: i for i, (_, start) in enumerate(spans)}
    for mark in _LETTER_MARK.finditer(lowered):
        i = index_at.get(mark.start(1))
        option = ord(mark.group(1)) - ord("a")
        if i is not None and not taken[i] and option < len(choices) and _key(choices[option]):
            found.add(_key(choices[option]))
    return [choice for key, choice in by_key.items() if key in found]


def _columns(completions: Sequence[Completion], **columns: Sequence[Any]) -> None:
    for name, values in columns.items():
        if len(values) != len(completions):
            raise ValueError(f"{len(completions)} completions but {len(values)} values in {name!r}")


def _choice_list(choices: Any) -> list[str]:
    # A bare string would be read character by character.
    if (
        isinstance(choices, (str, bytes))
        or not isinstance(choices, Sequence)
        or not all(isinstance(c, str) for c in choices)
    ):
        raise ValueError(f"choices must be a list of strings, got {choices!r}")
    return list(choices)


def _is_label(text: str | None, label: Any, choices: Any, column: str) -> bool:
    options = _choice_list(choices)
    if not isinstance(label, str) or not _key(label) or _key(label) not in {_key(c) for c in options}:
        raise ValueError(f"{column} {label!r} is not among the choices {options!r}")
    if text is None:
        return False
    named = named_choices(text, options)
    return len(named) == 1 and _key(named[0]) == _key(label)


def omni_r1_accuracy(
    completions: Sequence[Completion], answer: Sequence[str], choices: Sequence[Sequence[str]], **kwargs: Any
) -> list[float]:
    """Omni-R1's r_acc (paper 03 §III.B): 1 when the response names the answer and no other choice.

    The whole response is read, or, when it has ``<answer>`` tags, the content of its one
    usable ``<answer>`` block (:func:`answer_block`; a malformed block scores 0).

    Args:
        completions: The generated completions.
        answer: The ground-truth choice, per completion.
        choices: The question's choices, per completion.
        **kwargs: Other trainer arguments and dataset columns, ignored.

    Returns:
        1.0 or 0.0 per completion.

    Raises:
        ValueError: If an answer is not among its choices, or the columns' lengths differ.

    Examples:
        >>> omni_r1_accuracy(["The sound is a dog.", "dog or cat", "['cat', 'dog']"],
        ...                  answer=["dog"] * 3, choices=[["cat", "dog"]] * 3)
        [1.0, 0.0, 0.0]
    """
    _columns(completions, answer=answer, choices=choices)
    rewards = []
    for completion, label, options in zip(completions, answer, choices):
        text = completion_text(completion)
        if _ANSWER_OPEN.search(text) or _ANSWER_CLOSE.search(text):
            text = answer_block(text)
        rewards.append(float(_is_label(text, label, options, "answer")))
    return rewards


def sightsound_accuracy(
    completions: Sequence[Completion], teacher_answer: Sequence[str], choices: Sequence[Sequence[str]], **kwargs: Any
) -> list[float]:
    """SightSound-R1's accuracy reward (paper 02 §3.3): the ``<answer>`` names the teacher's choice.

    The label is the vision teacher's prediction (``teacher_answer``), not the ground
    truth; the ``answer`` column, when present, is ignored. Only the one usable
    ``<answer>`` block after the reasoning counts (:func:`answer_block`), and it must name
    that choice and no other (:func:`named_choices`).

    Args:
        completions: The generated completions.
        teacher_answer: The teacher's choice, per completion.
        choices: The question's choices, per completion.
        **kwargs: Other trainer arguments and dataset columns, ignored.

    Returns:
        1.0 or 0.0 per completion.

    Raises:
        ValueError: If a teacher answer is not among its choices, or the columns' lengths differ.

    Examples:
        >>> sightsound_accuracy(["<think>barks</think><answer>dog</answer>", "<think>dog</think><answer>cat</answer>"],
        ...                     teacher_answer=["dog", "dog"], choices=[["cat", "dog"]] * 2, answer=["cat", "cat"])
        [1.0, 0.0]
    """
    _columns(completions, teacher_answer=teacher_answer, choices=choices)
    return [
        float(_is_label(answer_block(completion_text(c)), label, options, "teacher_answer"))
        for c, label, options in zip(completions, teacher_answer, choices)
    ]


def sightsound_format(completions: Sequence[Completion], **kwargs: Any) -> list[float]:
    """SightSound-R1's format reward (paper 02 §3.3): exactly ``<think>…</think><answer>…</answer>``.

    The stripped completion must be one ``<think>`` block then, after optional
    whitespace, one ``<answer>`` block, both non-blank, with nothing before, between or
    after them and no other ``think`` / ``answer`` tag anywhere (tags in lowercase).

    Args:
        completions: The generated completions.
        **kwargs: Other trainer arguments and dataset columns, ignored.

    Returns:
        1.0 or 0.0 per completion.

    Examples:
        >>> sightsound_format(["<think>it barks</think>\\n<answer>dog</answer>", "<answer>dog</answer>",
        ...                    "<think>it barks</think><answer>dog</answer> Done."])
        [1.0, 0.0, 0.0]
    """
    rewards = []
    for completion in completions:
        text = completion_text(completion).strip()
        layout = _SIGHTSOUND_LAYOUT.fullmatch(text)
        ok = (
            layout is not None
            and len(_ANY_TAG.findall(text)) == 4
            and bool(layout.group(1).strip())
            and bool(layout.group(2).strip())
        )
        rewards.append(float(ok))
    return rewards


def r1_aqa_accuracy(
    completions: Sequence[Completion], answer: Sequence[str], choices: Sequence[Sequence[str]], **kwargs: Any
) -> list[float]:
    """R1-AQA's accuracy reward: the ``<answer>`` content is the ground-truth choice.

    Only the one usable ``<answer>`` block counts (:func:`answer_block`); it must name the
    answer and no other choice (:func:`named_choices`).

    Args:
        completions: The generated completions.
        answer: The ground-truth choice, per completion.
        choices: The question's choices, per completion.
        **kwargs: Other trainer arguments and dataset columns, ignored.

    Returns:
        1.0 or 0.0 per completion.

    Raises:
        ValueError: If an answer is not among its choices, or the columns' lengths differ.

    Examples:
        >>> r1_aqa_accuracy(["<answer>Dog.</answer>", "<answer>dog, cat</answer>", "dog"],
        ...                 answer=["dog"] * 3, choices=[["cat", "dog"]] * 3)
        [1.0, 0.0, 0.0]
    """
    _columns(completions, answer=answer, choices=choices)
    return [
        float(_is_label(answer_block(completion_text(c)), label, options, "answer"))
        for c, label, options in zip(completions, answer, choices)
    ]


def r1_aqa_format(completions: Sequence[Completion], **kwargs: Any) -> list[float]:
    """R1-AQA's format reward: the completion has one usable ``<answer>…</answer>`` block.

    Text around the block is allowed; the block itself must satisfy :func:`answer_block`
    (one block, closed, non-blank, after any reasoning).

    Args:
        completions: The generated completions.
        **kwargs: Other trainer arguments and dataset columns, ignored.

    Returns:
        1.0 or 0.0 per completion.

    Examples:
        >>> r1_aqa_format(["<think>x</think><answer>dog</answer>", "<answer></answer>",
        ...                "<answer>a</answer><answer>b</answer>"])
        [1.0, 0.0, 0.0]
    """
    return [float(answer_block(completion_text(c)) is not None) for c in completions]


REWARDS: dict[str, Callable[..., list[float]]] = {
    fn.__name__: fn for fn in (omni_r1_accuracy, sightsound_accuracy, sightsound_format, r1_aqa_accuracy, r1_aqa_format)
}
"""The reward functions by name (the name TRL logs them under)."""


def reward_functions(names: Sequence[str]) -> list[Callable[..., list[float]]]:
    """The reward functions called ``names``, in that order.

    Args:
        names: Keys of :data:`REWARDS` (a single name is taken as a list of one).

    Returns:
        The functions.

    Raises:
        ValueError: If a name is unknown (the message lists the known ones).

    Examples:
        >>> [fn.__name__ for fn in reward_functions(["sightsound_accuracy", "sightsound_format"])]
        ['sightsound_accuracy', 'sightsound_format']
    """
    if isinstance(names, str):
        names = [names]
    unknown = [name for name in names if name not in REWARDS]
    if unknown:
        raise ValueError(f"unknown reward {unknown[0]!r}; known: {', '.join(sorted(REWARDS))}")
    return [REWARDS[name] for name in names]
