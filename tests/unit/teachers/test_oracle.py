"""The world simulator: each teacher it plays writes what its input allows, deterministically."""

from __future__ import annotations

import json

import pytest

from audioreason.config import ConfigError, TeacherSpec
from audioreason.teachers.backends import build_options
from audioreason.teachers.base import ChatRequest, SamplingParams, user_turn
from audioreason.teachers.oracle import AGFV, GENERATE_QA, TEACHER_COT, TEXTUALIZE, OracleBackend, OracleOptions
from audioreason.teachers.parsing import contradicts_answer, extract_answer_tag, parse_question_json, parse_yes_no

CLIPS = [
    # the dog is off-screen: the picture shows a cat, which is silent
    {
        "clip": "avqa/audio/a_000010.wav",
        "dataset": "avqa",
        "kind": "source",
        "answer": "dog barking",
        "events": ["Dog"],
        "visible": ["a cat"],
        "caption": "A dog barks once over a quiet room tone.",
    },
    {
        "clip": "avqa/audio/b_000020.wav",
        "dataset": "avqa",
        "kind": "count",
        "answer": "three",
        "events": ["Dog"] * 3,
        "count": 3,
        "visible": ["a dog"],
        "caption": "A dog barks three times.",
        "caption_hallucination": "a piano plays softly in the background",
    },
    {
        "clip": "cota#cota-000001",
        "dataset": "cota",
        "kind": "instrument",
        "answer": "flute",
        "instrument": "flute",
        "notes": 4,
    },
]


@pytest.fixture()
def world(tmp_path):
    w = tmp_path / "data" / "world"
    w.mkdir(parents=True)
    (w / "clips.jsonl").write_text("".join(json.dumps(c) + "\n" for c in CLIPS))
    (w / "visual.jsonl").write_text(
        "".join(json.dumps({"clip": c["clip"], "visible": c["visible"]}) + "\n" for c in CLIPS if "visible" in c)
    )
    return w


def oracle(world, error=0.0, malformed=0.0, seed=0):
    return OracleBackend("world-oracle", OracleOptions(str(world), seed, error, malformed))


def clip_request(world, k, template, item=None, **meta):
    audio = str(world.parent / CLIPS[k]["clip"])
    return ChatRequest(
        item_id=item or f"item{k}", messages=user_turn("prompt"), template=template, meta={"audio": audio, **meta}
    )


SRC = ["dog barking", "cat meowing", "alarm bell", "running water"]
COUNT = ["one", "two", "three", "four"]


def test_vision_teacher_hallucinates_the_visible_silent_object(world):
    g = oracle(world).generate(
        [clip_request(world, 0, TEACHER_COT, choices=SRC)], SamplingParams(n=5, temperature=1.0)
    )[0]
    assert len(g.texts) == 5
    assert {extract_answer_tag(t) for t in g.texts} == {"cat meowing"}  # unanimous, and wrong


def test_vision_teacher_guesses_what_a_picture_cannot_show(world):
    answers = set()
    for item in range(20):
        g = oracle(world).generate(
            [clip_request(world, 1, TEACHER_COT, item=f"q{item}", choices=COUNT)], SamplingParams(n=3, temperature=1.0)
        )[0]
        answers |= {extract_answer_tag(t) for t in g.texts}
    assert answers == set(COUNT)


def test_checker_says_yes_to_grounded_traces_only(world):
    good = "<think>I hear barking.</think><answer>dog barking</answer>"
    bad = "<think>I see a cat.</think><answer>cat meowing</answer>"
    gens = oracle(world).generate(
        [
            clip_request(world, 0, AGFV, item="g", trace=good, choices=SRC),
            clip_request(world, 0, AGFV, item="b", trace=bad, choices=SRC),
        ],
        SamplingParams(),
    )
    assert [parse_yes_no(g.texts[0]) for g in gens] == [True, False]
    flipped = oracle(world, error=1.0).generate(
        [clip_request(world, 0, AGFV, item="g", trace=good, choices=SRC)], SamplingParams()
    )
    assert parse_yes_no(flipped[0].texts[0]) is False


def test_textualizer_describes_the_answer_or_with_errors_contradicts_it(world):
    req = ChatRequest(
        item_id="cota-000001",
        messages=user_turn("p"),
        template=TEXTUALIZE,
        audio="/x/t.parquet#1",
        meta={
            "record_id": "cota-000001",
            "audio": "/x/t.parquet#1",
            "question": "Which instrument?",
            "choices": ["piano", "flute", "violin", "drum"],
            "answer": "flute",
        },
    )
    d = oracle(world).generate([req], SamplingParams())[0].texts[0]
    assert "flute" in d and contradicts_answer(d, "flute", ["piano", "flute", "violin", "drum"]) is None
    wrong = oracle(world, error=1.0).generate([req], SamplingParams())[0].texts[0]
    assert contradicts_answer(wrong, "flute", ["piano", "flute", "violin", "drum"]) in {"piano", "violin", "drum"}


def test_question_writer_follows_the_caption_including_its_hallucination(world):
    reqs = [clip_request(world, 1, GENERATE_QA, item=f"c{i}") for i in range(40)]
    qas = [parse_question_json(g.texts[0]) for g in oracle(world).generate(reqs, SamplingParams())]
    answers = {q["answer"] for q in qas}
    assert "three" in answers  # grounded questions about the count
    assert "piano" in answers  # and some about the music the caption made up
    assert all(len(q["distractors"]) == 3 and q["answer"] not in q["distractors"] for q in qas)


def test_malformed_outputs_are_unusable(world):
    g = oracle(world, malformed=1.0).generate([clip_request(world, 1, GENERATE_QA)], SamplingParams())[0]
    with pytest.raises(ValueError):
        parse_question_json(g.texts[0])
    t = oracle(world, malformed=1.0).generate([clip_request(world, 0, TEACHER_COT, choices=SRC)], SamplingParams())[0]
    assert extract_answer_tag(t.texts[0]) is None


def test_same_request_same_text_and_seed_matters(world):
    reqs = [clip_request(world, 1, TEACHER_COT, item=f"q{i}", choices=COUNT) for i in range(10)]
    s = SamplingParams(n=3, temperature=1.0)
    a = [g.texts for g in oracle(world).generate(reqs, s)]
    assert a == [g.texts for g in oracle(world).generate(reqs, s)]
    assert a != [g.texts for g in oracle(world, seed=7).generate(reqs, s)]


def test_unknown_clip_and_template_are_named(world, tmp_path):
    stray = ChatRequest(item_id="x1", messages=user_turn("p"), template=AGFV, meta={"audio": str(tmp_path / "n.wav")})
    with pytest.raises(KeyError, match="x1: clip"):
        oracle(world).generate([stray], SamplingParams())
    with pytest.raises(ValueError, match="plays no teacher for template 'p09.x'"):
        oracle(world).generate([clip_request(world, 0, "p09.x")], SamplingParams())


def test_missing_world_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="ground truth is missing"):
        OracleBackend("o", OracleOptions(str(tmp_path / "nowhere"), 0, 0.0, 0.0))


def test_spec_validates_oracle_options():
    with pytest.raises(ConfigError, match="error_rate must be in"):
        build_options(
            TeacherSpec("oracle", "o", 4, {"world_dir": "w", "seed": 0, "error_rate": 2.0, "malformed_rate": 0.0}), ""
        )
    with pytest.raises(ConfigError, match="missing key"):
        build_options(TeacherSpec("oracle", "o", 4, {"world_dir": "w", "seed": 0}), "")
    with pytest.raises(ConfigError, match="unknown teacher backend"):
        build_options(TeacherSpec("gemini", "o", 4, {}), "")
