"""SSEU-Bench scoring (paper 05 §2.2-3): WER for ASR, embedding-confidence mACC for ASC and mAP for AT.

- **ASR**: corpus WER (total edits / total reference words, %) after :func:`normalise`:
  lower case, hyphens split, punctuation removed (apostrophes too: "don't" -> "dont" on both sides),
  whitespace collapsed, with jiwer. An empty hypothesis counts every reference word deleted.
- **ASC** (eq. 1): the predicted scene text S^ and every target scene S_i are embedded by a
  text-embedding model theta; the confidence of scene i is the softmax over i of
  cos(theta(S^), theta(S_i)) (no temperature, as written). mACC: the mean over scenes of the
  share of that scene's clips whose true scene has the strictly highest confidence (%); an
  empty answer (no scene named) or a tie at the top is wrong.
- **AT** (eqs. 2-3): for predicted events E^_1..E^_M and target classes E_1..E_N,
  F[m, n] = sigmoid(cos(theta(E^_m), theta(E_n))) and p_n = max_m F[m, n]. An answer naming
  no event gives p_n = 0 for every class (nothing was detected). mAP: the mean over classes
  with at least one positive clip of scikit-learn's average precision of p_n over clips (%).

Ground truth used as the prediction gives WER 0, mACC 100 and mAP 100 exactly whenever
distinct class names have cosine similarity below 1 (the ``upper_bound`` row checks the path).

Embedding backends (``sseu_bench.embedding``): ``hashing`` (tiny scale: a deterministic,
offline bag of word and character-trigram features hashed to ``dim`` dimensions, L2
normalised; it measures surface overlap, not meaning, and is documented as such),
``sentence_transformers`` (a local checkpoint) and ``openai`` (an OpenAI-compatible
``/v1/embeddings`` endpoint, e.g. text-embedding-3-large as the paper uses).

Joint answers are parsed by :func:`parse_joint`: ``Transcript:`` / ``Scene:`` / ``Events:``
lines (case-insensitive, any order, also a JSON object with those keys); a field that
cannot be found is empty and counted in ``parse_failures``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

SCORER_NAME = "sseu-wer-macc-map-v1"
Embed = Callable[[Sequence[str]], np.ndarray]
"""texts -> ``[len(texts), dim]`` L2-normalised embeddings."""


def normalise(text: str) -> str:
    """The WER text normalisation.

    >>> normalise("  Please call Stella, ask HER to bring these things!  ")
    'please call stella ask her to bring these things'
    """
    text = (text or "").lower().replace("-", " ")
    text = re.sub(r"[^\w\s]|_", "", text)
    return re.sub(r"\s+", " ", text).strip()


def wer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus WER (%) after :func:`normalise`; references that normalise to nothing are an error.

    >>> round(wer(["the cat sat", "a dog"], ["the cat sat down", ""]), 2)
    60.0

    Raises:
        ValueError: lengths differ, or a reference is empty.
    """
    import jiwer

    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    refs = [normalise(r) for r in references]
    empty = [i for i, r in enumerate(refs) if not r]
    if empty:
        raise ValueError(f"reference(s) {empty[:5]} are empty after normalisation: WER is undefined for them")
    edits = words = 0
    for r, h in zip(refs, (normalise(h) for h in hypotheses)):
        n = len(r.split())
        words += n
        edits += n if not h else jiwer.process_words(r, h).wer * n
    return 100.0 * edits / words if words else 0.0


# --------------------------------------------------------------------------- embeddings


@dataclass(frozen=True)
class HashingEmbedding:
    """Deterministic offline text embedding: word and character-trigram counts hashed (blake2b) into
    ``dim`` signed buckets, L2-normalised. Surface similarity only; identical texts get cosine 1."""

    dim: int = 512

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim)
        t = normalise(text.replace("_", " "))
        feats = t.split() + [f"#{t[i : i + 3]}" for i in range(max(0, len(t) - 2))]
        for f in feats:
            h = int.from_bytes(hashlib.blake2b(f.encode(), digest_size=8).digest(), "little")
            v[h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim))


def sentence_transformers_embedding(path: str) -> Embed:
    """A local sentence-transformers checkpoint as :data:`Embed`."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(path)
    return lambda texts: np.asarray(model.encode(list(texts), normalize_embeddings=True))


def openai_embedding(base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY", timeout_s: float = 60.0) -> Embed:
    """An OpenAI-compatible ``POST {base_url}/embeddings`` endpoint as :data:`Embed`."""
    import os
    import urllib.request

    def embed(texts: Sequence[str]) -> np.ndarray:
        body = json.dumps({"model": model, "input": list(texts)}).encode()
        req = urllib.request.Request(
            f"{base_url.rstrip('/')}/embeddings",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {os.environ.get(api_key_env, '')}"},
        )
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            data = json.loads(resp.read())["data"]
        v = np.asarray([d["embedding"] for d in sorted(data, key=lambda d: d["index"])], dtype=float)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    return embed


class CachedEmbedding:
    """Embeds each distinct text once (class names and repeated answers recur across thousands of clips)."""

    def __init__(self, embed: Embed):
        self.embed = embed
        self.cache: dict[str, np.ndarray] = {}

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if new:
            self.cache.update(zip(new, self.embed(new)))
        return np.stack([self.cache[t] for t in texts]) if texts else np.zeros((0, 1))


# --------------------------------------------------------------------------- eq. 1-3


def scene_confidences(predicted: str, scenes: Sequence[str], embed: Embed) -> np.ndarray:
    """Eq. 1: softmax over the target scenes of cos(theta(predicted), theta(scene)); ``[N_s]``.
    An empty answer names no scene: all NaN (scored wrong by :func:`macro_accuracy`)."""
    if not (predicted or "").strip():
        return np.full(len(scenes), np.nan)
    e = embed([predicted, *scenes])
    sims = e[1:] @ e[0]
    z = np.exp(sims - sims.max())
    return z / z.sum()


def event_confidences(predicted: Sequence[str], classes: Sequence[str], embed: Embed) -> np.ndarray:
    """Eqs. 2-3: p_n = max_m sigmoid(cos(theta(E^_m), theta(E_n))); zeros when nothing is predicted. ``[N_e]``."""
    if not predicted:
        return np.zeros(len(classes))
    e = embed([*predicted, *classes])
    f = 1.0 / (1.0 + np.exp(-(e[: len(predicted)] @ e[len(predicted) :].T)))  # [M_e, N_e]
    return f.max(axis=0)


def macro_accuracy(golds: Sequence[str], confidences: np.ndarray, scenes: Sequence[str]) -> float:
    """mACC (%): mean over the scenes present of the share of their clips where the true scene has
    the strictly highest confidence (a tie at the top, or a row of NaN for no answer, is wrong: a
    tie must not be credited to whichever scene comes first).

    >>> macro_accuracy(["a", "a", "b"], np.array([[.9, .1], [.2, .8], [.3, .7]]), ["a", "b"])
    75.0
    >>> macro_accuracy(["a", "b"], np.array([[.5, .5], [np.nan, np.nan]]), ["a", "b"])
    0.0
    """
    conf = np.asarray(confidences, dtype=float)
    pred = []
    for row in conf:
        top = np.flatnonzero(row == np.max(row)) if not np.isnan(row).any() else []
        pred.append(scenes[top[0]] if len(top) == 1 else None)
    per = [np.mean([p == s for g, p in zip(golds, pred) if g == s]) for s in scenes if s in golds]
    return 100.0 * float(np.mean(per)) if per else 0.0


def average_precision(labels: Sequence[bool], scores: Sequence[float]) -> float:
    """AP of one class as scikit-learn computes it (the usual AT mAP, e.g. PANNs): precision
    weighted by the recall gained at each distinct score threshold (tied scores form one step).

    >>> average_precision([True, False, True], [0.9, 0.8, 0.1])
    0.8333333333333333
    """
    from sklearn.metrics import average_precision_score

    labels, scores = np.asarray(labels, bool), np.asarray(scores, float)
    if not labels.any():
        raise ValueError("average precision needs at least one positive")
    return float(average_precision_score(labels, scores))


def mean_average_precision(gold_sets: Sequence[set[str]], confidences: np.ndarray, classes: Sequence[str]) -> float:
    """mAP (%) over the classes with at least one positive clip."""
    conf = np.asarray(confidences)
    aps = [
        average_precision([c in g for g in gold_sets], conf[:, j])
        for j, c in enumerate(classes)
        if any(c in g for g in gold_sets)
    ]
    return 100.0 * float(np.mean(aps)) if aps else 0.0


# --------------------------------------------------------------------------- answers


_FIELD = re.compile(
    r"\b(transcript(?:ion)?|asr|acoustic scene|scene|sound events?|events?)\s*\**\s*[:=]\s*\**\s*(.*)$", re.IGNORECASE
)


def _field_name(label: str) -> str:
    label = label.lower()
    return "transcript" if label.startswith(("transcript", "asr")) else "scene" if "scene" in label else "events"


def split_events(text: str) -> list[str]:
    """An events answer as a list: separated by commas, semicolons, "and" or new lines; "none" is empty.

    >>> split_events("Dog barking, cat; and Blender")
    ['Dog barking', 'cat', 'Blender']
    """
    parts = [p.strip(" .\"'[]") for p in re.split(r",|;|\n|\band\b", text or "")]
    return [p for p in parts if p and p.lower() not in ("none", "no events", "n/a", "nothing")]


@dataclass(frozen=True)
class JointAnswer:
    transcript: str
    scene: str
    events: tuple[str, ...]
    missing: tuple[str, ...]
    """Fields that could not be found or are empty (``transcript``, ``scene``, ``events``)."""


def parse_joint(text: str) -> JointAnswer:
    """Read a joint answer (module docstring); with a chain of thought, the *last* occurrence of each field wins.

    >>> a = parse_joint("Step 1 ... Transcript: hello there\\nScene: city center\\nEvents: car, birds singing")
    >>> (a.transcript, a.scene, a.events, a.missing)
    ('hello there', 'city center', ('car', 'birds singing'), ())
    """
    fields: dict[str, str] = {}
    found = re.search(r"\{.*\}", text or "", re.DOTALL)  # a JSON object anywhere (also in a ``` fence)
    if found:
        try:
            obj = json.loads(found.group(0))
        except json.JSONDecodeError:
            obj = None
        if isinstance(obj, Mapping):
            for key, v in obj.items():
                if _FIELD.search(f"{key}:"):
                    fields[_field_name(str(key))] = ", ".join(map(str, v)) if isinstance(v, list) else str(v)
    lines = (text or "").splitlines()
    for i, line in enumerate(lines):
        m = _FIELD.search(line)
        if m:
            value = m.group(2).strip(" *")
            if not value:  # "Scene:" on its own line, the answer on the next one
                following = next((x for x in lines[i + 1 :] if x.strip()), "")
                value = "" if _FIELD.search(following) else following.strip()
            fields[_field_name(m.group(1))] = value
    missing = tuple(k for k in ("transcript", "scene", "events") if not fields.get(k, "").strip())
    return JointAnswer(
        fields.get("transcript", ""),
        fields.get("scene", "").strip(" ."),
        tuple(split_events(fields.get("events", ""))),
        missing,
    )
