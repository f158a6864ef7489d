"""Tests of the ``audioreason`` command line (typer app): ``score mmau`` and ``world``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import soundfile as sf
import yaml
from typer.testing import CliRunner

from audioreason.cli import app
from audioreason.evaluation.mmau import mmau_tokens
from helpers import shrink_world

REPO_ROOT = Path(__file__).resolve().parents[2]
MMAU_TEST_MINI = REPO_ROOT.parent / "shared" / "reference" / "mmau" / "mmau-test-mini.v05.15.25.json"
TASK_COUNTS = {"sound": 333, "music": 334, "speech": 333}

runner = CliRunner()


@pytest.fixture(scope="module")
def test_mini() -> list[dict]:
    if not MMAU_TEST_MINI.is_file():
        pytest.skip(f"MMAU test-mini reference file not found at {MMAU_TEST_MINI}")
    return json.loads(MMAU_TEST_MINI.read_text(encoding="utf-8"))


def _score(tmp_path: Path, items: list[dict]) -> dict:
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    result = runner.invoke(app, ["score", "mmau", str(path)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _with_output(items: list[dict], pick) -> list[dict]:
    out = []
    for item in items:
        item = dict(item)
        prediction = pick(item)
        if prediction is not None:
            item["model_output"] = prediction
        out.append(item)
    return out


def test_score_answer_is_100(tmp_path, test_mini):
    result = _score(tmp_path, _with_output(test_mini, lambda it: it["answer"]))
    assert result["overall"] == 100.0
    assert result["n"] == 1000 and result["correct"] == 1000 and result["skipped"] == 0
    assert result["counts"]["task"] == TASK_COUNTS
    assert result["task"] == {"music": 100.0, "sound": 100.0, "speech": 100.0}
    assert set(result["difficulty"]) == {"easy", "medium", "hard"}
    assert len(result["test_set_sha256"]) == 64


def _distinct_wrong_choice(item: dict) -> str | None:
    answer_tokens = mmau_tokens(item["answer"])
    for choice in item["choices"]:
        if choice != item["answer"] and mmau_tokens(choice) != answer_tokens:
            return choice
    return None


def test_score_distinct_wrong_choice_is_0(tmp_path, test_mini):
    unbeatable = [it["id"] for it in test_mini if _distinct_wrong_choice(it) is None]
    assert unbeatable == ["bbabe360-0573-43d4-b2e6-6892150cbdcd"]  # every choice shares the answer's tokens
    result = _score(tmp_path, _with_output(test_mini, _distinct_wrong_choice))
    assert result["overall"] == 0.0
    assert result["correct"] == 0
    assert result["n"] == 999 and result["skipped"] == 1  # no prediction key: out of the denominator
    assert sum(result["counts"]["task"].values()) == 999


def test_score_first_wrong_choice_follows_official_rule(tmp_path, test_mini):
    # Six items have a wrong choice with the same token set as the answer: the official rule
    # counts predicting it as correct.
    first_wrong = _with_output(test_mini, lambda it: next(c for c in it["choices"] if c != it["answer"]))
    result = _score(tmp_path, first_wrong)
    assert result["correct"] == 6
    assert result["n"] == 1000
    assert result["overall"] == pytest.approx(0.6)


def test_score_answer_plus_other_choice_word_is_wrong(tmp_path, test_mini):
    items = _with_output(test_mini, lambda it: it["answer"])
    index = next(
        i
        for i, it in enumerate(items)
        if _distinct_wrong_choice(it) is not None
        and mmau_tokens(_distinct_wrong_choice(it)) - mmau_tokens(it["answer"])
    )
    item = items[index]
    distinguishing = sorted(mmau_tokens(_distinct_wrong_choice(item)) - mmau_tokens(item["answer"]))[0]
    item["model_output"] = f"{item['answer']} or maybe {distinguishing}"
    result = _score(tmp_path, items)
    assert result["correct"] == 999
    assert result["overall"] == pytest.approx(99.9)
    assert result["task"][item["task"]] < 100.0


def test_score_legacy_prediction_key(tmp_path, test_mini):
    items = [dict(it, model_prediction=it["answer"]) for it in test_mini[:10]]
    result = _score(tmp_path, items)
    assert result["n"] == 10 and result["overall"] == 100.0


def test_score_missing_file_fails(tmp_path):
    result = runner.invoke(app, ["score", "mmau", str(tmp_path / "nope.json")])
    assert result.exit_code == 2  # click usage error: the argument must name an existing file
    assert not (tmp_path / "nope.json").exists()


def test_score_without_predictions_fails(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps([{"answer": "a", "choices": ["a", "b"], "task": "sound", "difficulty": "easy"}]))
    result = runner.invoke(app, ["score", "mmau", str(path)])
    assert result.exit_code != 0
    assert isinstance(result.exception, ValueError)
    assert str(path) in str(result.exception)


# --------------------------------------------------------------------------- world


@pytest.fixture()
def tiny_params(tmp_path) -> Path:
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    raw["world"].update(clip_seconds=0.5, n_train=7, n_val=2, n_test_mini=3)
    shrink_world(raw["world"])
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_world_command_writes_files(tmp_path, tiny_params):
    out = tmp_path / "data"
    result = runner.invoke(app, ["world", "--out", str(out), "--params", str(tiny_params)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {k: summary[k] for k in ("out", "avqa_train", "avqa_val", "mmau_test_mini", "vctk", "maestro")} == {
        "out": str(out),
        "avqa_train": 7,
        "avqa_val": 2,
        "mmau_test_mini": 3,
        "vctk": 3,
        "maestro": 5,
    }
    truth = [json.loads(x) for x in (out / "world" / "clips.jsonl").read_text().splitlines()]
    assert summary["clips"] == len(truth)
    assert len(json.loads((out / "avqa" / "train_qa.json").read_text())) == 7
    assert len(json.loads((out / "avqa" / "val_qa.json").read_text())) == 2
    assert len(json.loads((out / "mmau" / "mmau-test-mini.json").read_text())) == 3
    assert sum(t["dataset"] in ("avqa", "mmau") for t in truth) == 12
    assert len(list((out / "avqa" / "audio").glob("*.wav"))) == 9
    mmau_wavs = list((out / "mmau" / "test-mini-audios").glob("*.wav"))
    assert len(mmau_wavs) == 3
    assert sf.info(mmau_wavs[0]).frames == 8000  # 0.5 s at 16 kHz


def test_world_command_seed_override(tmp_path, tiny_params):
    for name, extra in (("a", []), ("b", []), ("c", ["--seed", "5"])):
        result = runner.invoke(app, ["world", "--out", str(tmp_path / name), "--params", str(tiny_params), *extra])
        assert result.exit_code == 0, result.output
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    assert (tmp_path / "a" / "avqa" / "train_qa.json").read_bytes() != (
        tmp_path / "c" / "avqa" / "train_qa.json"
    ).read_bytes()


def test_world_command_bad_params(tmp_path):
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    raw["world"]["n_train"] = "ten"
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = runner.invoke(app, ["world", "--out", str(tmp_path / "data"), "--params", str(path)])
    assert result.exit_code != 0
    assert "world.n_train" in str(result.exception)
    assert not (tmp_path / "data").exists()


# --------------------------------------------------------------------------- data inspect


def test_data_inspect_real_music_avqa_val(reference_dir):
    result = runner.invoke(
        app,
        [
            "data",
            "inspect",
            "--format",
            "music_avqa",
            "--no-check-audio",
            str(reference_dir / "music-avqa" / "avqa-val.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["format"], out["records"], out["quarantined"]) == ("music_avqa", 4568, 0)
    assert out["types"]["Audio-Visual/Counting"] == 633 and sum(out["types"].values()) == 4568


def test_data_inspect_real_mmau_counts_missing_audio_as_quarantined(reference_dir):
    path = str(reference_dir / "mmau" / "mmau-test-mini.v05.15.25.json")
    out = json.loads(runner.invoke(app, ["data", "inspect", "--format", "mmau", "--no-check-audio", path]).stdout)
    assert out["records"] == 1000 and out["tasks"] == {"music": 334, "sound": 333, "speech": 333}
    with_audio = json.loads(runner.invoke(app, ["data", "inspect", "--format", "mmau", path]).stdout)
    assert (with_audio["records"], with_audio["quarantined"]) == (0, 1000)
    assert len(with_audio["errors"]) == 5 and "does not exist" in with_audio["errors"][0]
    assert "mmau-test-mini.v05.15.25.json: record #0 (id " in with_audio["errors"][0]


def test_data_inspect_iemocap_world(tmp_path, tiny_params):
    out = tmp_path / "data"
    assert runner.invoke(app, ["world", "--out", str(out), "--params", str(tiny_params)]).exit_code == 0
    result = runner.invoke(
        app, ["data", "inspect", "--format", "iemocap", str(out / "iemocap" / "IEMOCAP_full_release")]
    )
    summary = json.loads(result.stdout)
    meta = json.loads((out / "world" / "metadata.json").read_text())["datasets"]["iemocap"]
    assert summary["records"] == meta["records"] and summary.get("labels", {}) == meta.get("labels", {})
    assert summary["filtered"]["._ file"] == 10  # two per dialog, five dialogs
    assert summary["records"] + sum(v for k, v in summary["filtered"].items() if k.startswith("label")) == 5 * 4


@pytest.mark.parametrize(
    "args, message",
    [
        (["--format", "nope", "x"], "unknown dataset format 'nope'"),
        (["--format", "vctk", "/no/such/dir"], "does not exist"),
    ],
)
def test_data_inspect_bad_arguments(args, message):
    result = runner.invoke(app, ["data", "inspect", *args])
    assert result.exit_code == 1 and message in result.output


def test_score_music_avqa_cli(tmp_path):
    items = [
        {"answer": "two", "group": "Audio", "type": "Counting", "prediction": "<answer>2</answer>"},
        {"answer": "yes", "group": "Audio-Visual", "type": "Existential", "prediction": "no"},
    ]
    path = tmp_path / "pred.json"
    path.write_text(json.dumps(items))
    out = CliRunner().invoke(app, ["score", "music_avqa", str(path)])
    assert out.exit_code == 0, out.output
    s = json.loads(out.output)
    assert s["overall"] == 50.0 and s["group"] == {"Audio": 100.0, "Audio-Visual": 0.0}


def test_score_ser_cli_with_confusion_png(tmp_path):
    items = [
        {"answer": "A", "prediction": "Anger."},
        {"answer": "N", "prediction": "rest"},
        {"answer": "N", "prediction": "neutral"},
        {"answer": "E", "prediction": "???"},
    ]
    path = tmp_path / "pred.json"
    path.write_text(json.dumps(items))
    out = CliRunner().invoke(
        app, ["score", "ser", str(path), "--dataset", "fau_aibo", "--confusion-png", str(tmp_path / "c.png")]
    )
    assert out.exit_code == 0, out.output
    s = json.loads(out.output)
    assert s["per_class"] == {"A": 100.0, "E": 0.0, "N": 50.0} and s["wa"] == 50.0 and s["unparsed"] == 1
    assert (tmp_path / "c.png").stat().st_size > 2000
    bad = CliRunner().invoke(app, ["score", "ser", str(path), "--dataset", "ravdess"])
    assert bad.exit_code != 0 and "ravdess" in bad.output


def test_plan_prints_a_row_for_every_training_stage_of_the_paper_params(tmp_path):
    paper = REPO_ROOT / "params.paper.yaml"
    raw = yaml.safe_load(paper.read_text(encoding="utf-8"))
    expected = [f"distill/{r}" for r, row in raw["distill"]["rows"].items() if row["train"]]
    expected += [f"sft_cot/{r}" for r, row in raw["sft_cot"]["rows"].items() if row["data"] != "none"]
    expected += [f"grpo/{r}" for r, row in raw["grpo"]["rows"].items() if row["train"]]
    expected += ["ser_finetune"]
    out = tmp_path / "plan.json"
    result = runner.invoke(app, ["plan", "--params", str(paper), "--gpu", "a40-48g", "--gpus", "8", "--json", str(out)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("8 x a40-48g (48 GiB")
    rows = {line.split()[0]: line for line in lines[2:] if line and not line.startswith((" ", "notes", "assumptions"))}
    assert all(stage in rows for stage in expected), sorted(set(expected) - set(rows))
    assert "gradient_checkpointing: true" in rows["sft_cot/sft_cot"] and " NO " in rows["sft_cot/sft_cot"]
    stages = {s["stage"]: s for s in json.loads(out.read_text())["stages"]}
    assert {s for s in stages if stages[s]["kind"] == "train"} == set(expected)
    assert stages["sft_cot/sft_cot"]["trainable_params"] == 19_988_480


def test_plan_rejects_an_unknown_gpu_naming_the_known_ones():
    result = runner.invoke(app, ["plan", "--params", str(REPO_ROOT / "params.paper.yaml"), "--gpu", "v100"])
    assert result.exit_code == 1
    assert "unknown GPU 'v100'; known: a800-80g, a40-48g, a6000-48g, h200-141g, h100-80g" in result.output
