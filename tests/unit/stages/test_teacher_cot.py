"""The teacher_cot stage (paper 02 §3.1): the vision teacher is asked AVQA's question about the video."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audioreason.config.teachers import SamplingSection, TeacherCotConfig
from audioreason.datasets.avqa import read_avqa
from audioreason.datasets.records import QARecord, write_manifest
from audioreason.stages import teacher_cot
from audioreason.teachers.base import Generation
from audioreason.tracking import NullTracker
from helpers import AVQA_RECORDS, write_avqa

PROMPT = "You are watching a silent video.\nQuestion: {question}\nOptions: {choices}"


class RecordingTeacher:
    """A vision teacher that answers the first option and keeps every request it was sent."""

    name, model = "recording", "recording-teacher"

    def __init__(self):
        self.requests = []

    def generate(self, requests, sampling):
        self.requests += requests
        return [Generation([f"<think>…</think><answer>{r.meta['choices'][0]}</answer>"] * sampling.n) for r in requests]


@pytest.fixture()
def manifest(tmp_path: Path) -> Path:
    """AVQA's train file ingested as the pipeline does (the audio variant of every question)."""
    records = read_avqa(write_avqa(tmp_path / "avqa") / "train_qa.json", tmp_path / "avqa" / "audio", "train").records
    write_manifest(records, tmp_path / "avqa_train.jsonl")
    return tmp_path / "avqa_train.jsonl"


def config(manifest: Path) -> TeacherCotConfig:
    return TeacherCotConfig(
        teacher="vision_teacher",
        manifest=str(manifest),
        video_dir="",
        prompt=PROMPT,
        sampling=SamplingSection(n=2, temperature=1.0, top_p=1.0, top_k=0, max_tokens=64, seed=0),
        max_items=0,
    )


def test_the_vision_teacher_gets_the_video_question_and_the_student_keeps_the_audio_one(manifest, tmp_path):
    teacher = RecordingTeacher()
    metrics = teacher_cot.run(
        config(manifest), teacher, 8, NullTracker(), out_dir=tmp_path / "out", cache=tmp_path / "cache.jsonl"
    )
    assert metrics["items"] == 2 and metrics["unanimous"] == 2
    originals = [r["question_text"] for r in AVQA_RECORDS]
    prompts = [r.prompt_text for r in teacher.requests]
    assert prompts[0] == PROMPT.format(question=originals[0], choices="['dog', 'cat', 'car']")
    assert "in the video?" in prompts[0] and "audio" not in prompts[0].lower()
    assert f"Question: {originals[1]}\n" in prompts[1]
    traces = [json.loads(x) for x in (tmp_path / "out" / "traces.jsonl").read_text().splitlines()]
    assert [t["video_question"] for t in traces] == originals
    # The student (sft_cot, agfv's checker) is asked the audio variant (paper 02 §4.1, after R1-AQA).
    assert [t["question"] for t in traces] == [
        "What is making the sound in the audio?",
        "Audio shows what? Is the Audio loud? videos",
    ]


def test_a_manifest_without_the_original_question_is_a_clear_error(tmp_path):
    record = QARecord("1", "avqa", "train", "/a/x.wav", "What is making the sound in the audio?", ("a", "b"), "a")
    write_manifest([record], tmp_path / "old.jsonl")
    with pytest.raises(ValueError, match="record 1: no extra.question_text.*rerun ingest"):
        teacher_cot.run(
            config(tmp_path / "old.jsonl"),
            RecordingTeacher(),
            8,
            NullTracker(),
            out_dir=tmp_path / "out",
            cache=tmp_path / "cache.jsonl",
        )
