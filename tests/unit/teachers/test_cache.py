"""Cached, resumable generation: what is generated, what is read back, and what regenerates."""

from __future__ import annotations

import json

import pytest

from audioreason.teachers.base import ChatRequest, Generation, SamplingParams, user_turn
from audioreason.teachers.cache import cache_key, generate_cached, read_cache


class CountingBackend:
    """Echoes the prompt; records every item it was asked for; can fail after ``fail_after`` items."""

    name = "counting"

    def __init__(self, model: str = "echo", fail_after: int | None = None):
        self.model = model
        self.asked: list[str] = []
        self.calls = 0
        self.fail_after = fail_after

    def generate(self, requests, sampling):
        self.calls += 1
        out = []
        for r in requests:
            if self.fail_after is not None and len(self.asked) >= self.fail_after:
                raise KeyboardInterrupt("killed")
            self.asked.append(r.item_id)
            out.append(
                Generation(
                    texts=[f"{r.prompt_text}/{s}" for s in range(sampling.n)],
                    prompt_tokens=3,
                    completion_tokens=2 * sampling.n,
                )
            )
        return out


def reqs(n: int, template: str = "t") -> list[ChatRequest]:
    return [ChatRequest(item_id=f"i{k}", messages=user_turn(f"q{k}"), template=template) for k in range(n)]


SAMPLING = SamplingParams(n=2, temperature=1.0, seed=0)


def test_generates_all_then_nothing(tmp_path):
    cache = tmp_path / "c.jsonl"
    b = CountingBackend()
    gens, stats = generate_cached(b, reqs(10), SAMPLING, cache=cache, batch_size=4)
    assert [g.texts for g in gens] == [[f"q{k}/0", f"q{k}/1"] for k in range(10)]
    assert (stats.generated, stats.cached, stats.backend_calls, b.calls) == (10, 0, 3, 3)
    assert (stats.prompt_tokens, stats.completion_tokens, stats.samples) == (30, 40, 20)
    b2 = CountingBackend()
    gens2, stats2 = generate_cached(b2, reqs(10), SAMPLING, cache=cache, batch_size=4)
    assert b2.asked == [] and stats2.cached == 10 and [g.texts for g in gens2] == [g.texts for g in gens]


def test_interrupted_run_resumes_with_only_the_missing_items(tmp_path):
    cache = tmp_path / "c.jsonl"
    killed = CountingBackend(fail_after=6)
    with pytest.raises(KeyboardInterrupt):
        generate_cached(killed, reqs(10), SAMPLING, cache=cache, batch_size=4)
    # The first full batch (4 items) reached the disk; the second died midway.
    assert len(read_cache(cache)[0]) == 4
    resumed = CountingBackend()
    gens, stats = generate_cached(resumed, reqs(10), SAMPLING, cache=cache, batch_size=4)
    assert resumed.asked == [f"i{k}" for k in range(4, 10)]
    assert (stats.cached, stats.generated) == (4, 6)
    assert gens[9].texts == ["q9/0", "q9/1"]


def test_torn_last_line_is_counted_and_regenerated(tmp_path):
    cache = tmp_path / "c.jsonl"
    generate_cached(CountingBackend(), reqs(5), SAMPLING, cache=cache, batch_size=5)
    lines = cache.read_text().splitlines()
    cache.write_text("\n".join(lines[:3]) + "\n" + lines[3][: len(lines[3]) // 2])
    b = CountingBackend()
    _, stats = generate_cached(b, reqs(5), SAMPLING, cache=cache, batch_size=5)
    assert stats.torn_lines == 1 and b.asked == ["i3", "i4"]


def test_key_covers_backend_model_template_sampling_and_content():
    b = CountingBackend()
    r = reqs(1)[0]
    base = cache_key(b, r, SAMPLING)
    assert cache_key(b, r, SAMPLING) == base
    assert cache_key(CountingBackend(model="other"), r, SAMPLING) != base
    from dataclasses import make_dataclass

    opts = make_dataclass("Opts", [("error_rate", float)])
    b.options = opts(0.1)
    with_options = cache_key(b, r, SAMPLING)
    b.options = opts(0.2)
    assert base != with_options != cache_key(b, r, SAMPLING)
    del b.options
    assert cache_key(b, reqs(1, template="u")[0], SAMPLING) != base
    assert cache_key(b, r, SamplingParams(n=2, temperature=0.7, seed=0)) != base
    assert cache_key(b, r, SamplingParams(n=2, temperature=1.0, seed=1)) != base
    changed = ChatRequest(item_id="i0", messages=user_turn("other text"), template="t")
    assert cache_key(b, changed, SAMPLING) != base
    with_audio = ChatRequest(item_id="i0", messages=user_turn("q0"), template="t", audio="/x.wav")
    assert cache_key(b, with_audio, SAMPLING) != base


def test_changed_sampling_regenerates_everything(tmp_path):
    cache = tmp_path / "c.jsonl"
    generate_cached(CountingBackend(), reqs(3), SAMPLING, cache=cache, batch_size=8)
    b = CountingBackend()
    generate_cached(b, reqs(3), SamplingParams(n=2, temperature=0.5), cache=cache, batch_size=8)
    assert len(b.asked) == 3


def test_duplicate_item_ids_are_refused(tmp_path):
    r = reqs(2)
    with pytest.raises(ValueError, match="duplicate item id 'i0'"):
        generate_cached(CountingBackend(), [r[0], r[0]], SAMPLING, cache=tmp_path / "c.jsonl", batch_size=2)


def test_wrong_sample_count_is_an_error(tmp_path):
    class OneSample(CountingBackend):
        def generate(self, requests, sampling):
            return [Generation(texts=["x"]) for _ in requests]

    with pytest.raises(ValueError, match="i0: backend counting returned 1 samples, expected n=2"):
        generate_cached(OneSample(), reqs(2), SAMPLING, cache=tmp_path / "c.jsonl", batch_size=2)


def test_cache_lines_name_item_and_template(tmp_path):
    cache = tmp_path / "c.jsonl"
    generate_cached(CountingBackend(), reqs(2, template="p02.agfv"), SAMPLING, cache=cache, batch_size=2)
    rows = [json.loads(x) for x in cache.read_text().splitlines()]
    assert [(r["item_id"], r["template"]) for r in rows] == [("i0", "p02.agfv"), ("i1", "p02.agfv")]


def test_sampling_params_validation():
    with pytest.raises(ValueError, match="n > 1 samples need temperature > 0"):
        SamplingParams(n=3, temperature=0.0)
    with pytest.raises(ValueError, match="top_p"):
        SamplingParams(top_p=0.0)
    with pytest.raises(ValueError, match="must end with a user turn"):
        ChatRequest(item_id="x", messages=({"role": "system", "content": "s"},))


def test_lines_appended_after_a_torn_line_stay_readable(tmp_path):
    cache = tmp_path / "c.jsonl"
    generate_cached(CountingBackend(), reqs(4), SAMPLING, cache=cache, batch_size=4)
    lines = cache.read_text().splitlines()
    cache.write_text("\n".join(lines[:2]) + "\n" + lines[2][:10])  # no newline after the torn line
    generate_cached(CountingBackend(), reqs(4), SAMPLING, cache=cache, batch_size=4)
    b = CountingBackend()
    _, stats = generate_cached(b, reqs(4), SAMPLING, cache=cache, batch_size=4)
    assert b.asked == [] and stats.torn_lines == 0 and stats.cached == 4
