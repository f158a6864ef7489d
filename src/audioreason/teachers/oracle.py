"""A SIMULATOR of the papers' teachers for the synthetic world (backend ``oracle``).

It is not a model. It reads the world's ground truth (``data/world/clips.jsonl``) and
visual channel (``data/world/visual.jsonl``) and writes the text a real teacher would
write, in the format the stages parse, with configurable error rates, so that the
generation stages, their filters and their quality checks act on the embedded scale
exactly as on the paper scale. Which teacher it plays follows the request's template:

==================  ==================================================================
``p01.textualize``  the audio LLM of paper 01 §3.1: hears the clip, reads the trace, writes
                    a description; ``error_rate``: describes a wrong option
``p03.generate_qa`` the LLM of paper 03 §III.C: reads the clip's caption only, so a
                    hallucinating caption yields a question about a sound that is not
                    there; writes JSON; ``error_rate``: marks a wrong option as correct
``p02.teacher_cot`` the vision teacher of paper 02 §3.1: sees the silent video only, so
                    it is right about what is visible and guesses (or hallucinates) acoustic
                    facts; each of the n samples is drawn independently
``p02.agfv``        the audio checker of paper 02 §3.2: hears the clip and says yes when the
                    trace's answer is what the clip contains; ``error_rate``: flips the verdict
==================  ==================================================================

``malformed_rate`` makes a sample unusable in the way real models fail (empty text, no
``<answer>`` tag, broken JSON), so the stages' counting of unparseable output is exercised.
Every draw is seeded by (seed, template, item, sample): the same request always gets the
same text, as the cache assumes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from audioreason.config import ConfigError
from audioreason.teachers.base import ChatRequest, Generation, SamplingParams

TEXTUALIZE, GENERATE_QA, TEACHER_COT, AGFV = "p01.textualize", "p03.generate_qa", "p02.teacher_cot", "p02.agfv"


@dataclass(frozen=True)
class OracleOptions:
    """Options of the world simulator."""

    world_dir: str
    """The world's ground-truth folder (``data/world``: ``clips.jsonl``, ``visual.jsonl``)."""
    seed: int
    error_rate: float
    """Chance that a sample states a wrong fact (see the module table for what that is per teacher)."""
    malformed_rate: float
    """Chance that a sample is unusable (empty, untagged, broken JSON)."""

    def __post_init__(self):
        for name in ("error_rate", "malformed_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {getattr(self, name)}")


class WorldTruth:
    """The world's ground truth and visual channel, by clip key (``avqa/audio/<name>.wav``, ``cota#<id>``)."""

    def __init__(self, world_dir: str | Path):
        world = Path(world_dir)
        clips = world / "clips.jsonl"
        if not clips.is_file():
            raise FileNotFoundError(f"{clips}: the world's ground truth is missing (generate the world first)")
        self.root = world.resolve().parent
        self.clips = {d["clip"]: d for d in map(json.loads, clips.read_text().splitlines())}
        visual = world / "visual.jsonl"
        self.visual = (
            {d["clip"]: d for d in map(json.loads, visual.read_text().splitlines())} if visual.is_file() else {}
        )

    def key(self, request: ChatRequest) -> str:
        """The clip a request is about: its audio path under the world's root, or ``cota#<record id>``."""
        meta = request.meta
        audio = meta.get("audio") or request.audio or ""
        if "#" in audio and audio.split("#")[0].endswith(".parquet"):
            return f"cota#{meta['record_id']}"
        try:
            return Path(audio).resolve().relative_to(self.root).as_posix()
        except ValueError:
            raise KeyError(f"{request.item_id}: clip {audio!r} is not under the world at {self.root}") from None

    def truth(self, request: ChatRequest) -> dict:
        k = self.key(request)
        if k not in self.clips:
            raise KeyError(f"{request.item_id}: no ground truth for clip {k}")
        return self.clips[k]


def _rng(seed: int, *parts: object) -> np.random.Generator:
    digest = hashlib.sha256(json.dumps([seed, *map(str, parts)]).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _other(rng: np.random.Generator, choices: Sequence[str], not_this: str) -> str:
    rest = [c for c in choices if c != not_this]
    return rest[int(rng.integers(len(rest)))] if rest else not_this


class OracleBackend:
    """The world simulator behind the :class:`~audioreason.teachers.base.TeacherBackend` interface."""

    name = "oracle"

    def __init__(self, model: str, options: OracleOptions):
        self.model = model
        self.options = options
        self.world = WorldTruth(options.world_dir)
        self.calls = 0

    def generate(self, requests: Sequence[ChatRequest], sampling: SamplingParams) -> list[Generation]:
        self.calls += 1
        out = []
        for req in requests:
            play = {
                TEXTUALIZE: self._textualize,
                GENERATE_QA: self._generate_qa,
                TEACHER_COT: self._teacher_cot,
                AGFV: self._agfv,
            }.get(req.template)
            if play is None:
                raise ValueError(f"{req.item_id}: the oracle plays no teacher for template {req.template!r}")
            texts = []
            for s in range(sampling.n):
                rng = _rng(self.options.seed, req.template, req.item_id, s, sampling.seed)
                texts.append(
                    self._malformed(req.template, rng) if rng.random() < self.options.malformed_rate else play(req, rng)
                )
            out.append(
                Generation(
                    texts=texts,
                    prompt_tokens=len(req.prompt_text.split()),
                    completion_tokens=sum(len(t.split()) for t in texts),
                    finish_reasons=["stop"] * len(texts),
                )
            )
        return out

    # ----------------------------------------------------------------- teachers

    def _malformed(self, template: str, rng: np.random.Generator) -> str:
        if template == GENERATE_QA:
            return '{"question": "What is heard in the clip?", "answer": '
        if template == AGFV:
            return "I cannot tell from this recording."
        return "" if rng.random() < 0.5 else "The recording is hard to describe."

    def _textualize(self, req: ChatRequest, rng: np.random.Generator) -> str:
        from audioreason.world.captions import caption_for

        truth = self.world.truth(req)
        answer, choices = req.meta["answer"], list(req.meta.get("choices") or [])
        about = f'Regarding the question "{req.meta["question"]}": what is heard corresponds to'
        tone = "There is a steady low room tone throughout and no other distinct sound."
        if choices and rng.random() < self.options.error_rate:
            # A wrong description: the model misheard, and says so confidently.
            return f"{about} {_other(rng, choices, answer)}. {tone}"
        return f"{caption_for(truth)} {about} {answer}. {tone}"

    def _generate_qa(self, req: ChatRequest, rng: np.random.Generator) -> str:
        from audioreason.world.scenes import COUNT_OPTIONS as NUMBER_WORDS
        from audioreason.world.scenes import EVENT_LABELS, TEMPI
        from audioreason.world.sounds import INSTRUMENTS, VOICES

        truth = self.world.truth(req)
        kind = truth["kind"]
        hallucinated = truth.get("caption_hallucination")
        pools = {
            "source": EVENT_LABELS,
            "order": EVENT_LABELS,
            "count": NUMBER_WORDS[:4],
            "n_speakers": NUMBER_WORDS[:4],
            "instrument": list(INSTRUMENTS),
            "tempo": list(TEMPI),
            "speaker": [v.lower() for v in VOICES],
        }
        if hallucinated and rng.random() < 0.5:
            # The caption says something the clip does not contain; the LLM cannot know.
            noun = hallucinated.split(" ")[1] if hallucinated.startswith("a ") else hallucinated.split(" ")[0]
            q, a = "What can be heard in the background of the recording?", noun
            pool = ["piano", "music", "guitar", "dog", "people", "traffic", "rain", "birds"]
        else:
            templates = {
                "source": ("What is making the sound in the recording?", truth.get("events", [""])[0]),
                "count": ("How many times does the sound repeat?", NUMBER_WORDS[truth.get("count", 1) - 1]),
                "order": ("Which sound is heard first?", truth.get("events", [""])[0]),
                "instrument": ("Which instrument plays the melody?", truth.get("instrument", "")),
                "tempo": ("How would you describe the tempo of the melody?", truth.get("tempo", "")),
                "speaker": ("Who is speaking in the recording?", truth.get("speakers", [""])[0].lower()),
                "n_speakers": (
                    "How many people speak in the recording?",
                    NUMBER_WORDS[len(truth.get("speakers", [])) - 1] if truth.get("speakers") else "",
                ),
            }
            if kind not in templates:
                return '{"question": "", "answer": "", "distractors": []}'
            q, a = templates[kind]
            if kind in ("source", "order"):
                from audioreason.world.sounds import event_label

                a = event_label(a)
            pool = pools[kind]
            if rng.random() < 0.5:  # a second phrasing: two samples of one clip may or may not repeat
                q = q.replace("recording", "audio clip")
        wrong = [p for p in pool if p != a]
        picks = [wrong[i] for i in rng.permutation(len(wrong))[:3]]
        while len(picks) < 3:
            picks.append(f"none of the {len(picks) + 1} others")
        if rng.random() < self.options.error_rate:
            a, picks[0] = picks[0], a
        return json.dumps({"question": q, "answer": a, "distractors": picks})

    def _teacher_cot(self, req: ChatRequest, rng: np.random.Generator) -> str:
        from audioreason.teachers.parsing import content_words

        key = self.world.key(req)
        seen = self.world.visual.get(key, {}).get("visible", [])
        choices = list(req.meta["choices"])
        # Options the picture supports: those sharing a content word with something visible.
        seen_words = set().union(*(content_words(v) for v in seen)) if seen else set()
        supported = [c for c in choices if content_words(c) & seen_words]
        counted = [c for c in choices if c in ("one", "two", "three", "four")]
        kind = self.world.truth(req).get("kind")
        if kind == "n_speakers" and counted:
            people = sum(1 for v in seen if content_words(v) & {"man", "woman", "child"})
            pick = ["one", "two", "three", "four"][min(max(people, 1), 4) - 1]
            reason = f"I can see {people} people, so I expect {pick} voices in the soundtrack."
        elif len(supported) == 1:
            pick = supported[0]
            reason = f"The video shows {', '.join(seen)}; that must be what makes the sound, so the audio has {pick}."
        else:
            pick = (supported or choices)[int(rng.integers(len(supported or choices)))]
            reason = (
                f"The video shows {', '.join(seen) or 'nothing distinctive'}, which does not settle it; "
                f"the scene suggests {pick}."
            )
        if rng.random() < self.options.error_rate:
            pick = _other(rng, choices, pick)
            reason += f" On reflection, {pick} fits the scene better."
        return f"<think>Watching the silent video. {reason}</think><answer>{pick}</answer>"

    def _agfv(self, req: ChatRequest, rng: np.random.Generator) -> str:
        from audioreason.teachers.parsing import extract_answer_tag, match_choice

        truth = self.world.truth(req)
        claimed = match_choice(extract_answer_tag(req.meta["trace"]), req.meta["choices"])
        grounded = claimed is not None and claimed == truth["answer"]
        if rng.random() < self.options.error_rate:
            grounded = not grounded
        return "yes" if grounded else "no"
