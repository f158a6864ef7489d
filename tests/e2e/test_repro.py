"""``dvc repro`` end to end in a fresh copy of the repository, as a new user would run it.

The copy holds only the tracked files (a new git repository), generates ``data/`` with
``audioreason world`` (which must match the committed ``data.dvc``), runs the whole
pipeline at the default (tiny) scale as ``make repro`` does (stages forked from a warm
interpreter), then checks that a second ``dvc repro`` does nothing, that MLflow holds the
training and evaluation runs, and that a GRPO row run again as a plain process writes the
same metrics and outputs.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BIN = Path(sys.executable).parent


def sh(cmd: list[str], cwd: Path, timeout: int = 2700) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(cwd / ".cache" / "dvc_site"),
        "AUDIOREASON_TRACKING": "on",
    }
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory, repo_root) -> Path:
    dst = tmp_path_factory.mktemp("clone") / "audioreason"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=repo_root, capture_output=True, check=True).stdout
    for rel in filter(None, tracked.decode().split("\0")):
        src = repo_root / rel
        if src.is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    for cmd in (
        ["git", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "clone"],
    ):
        subprocess.run(cmd, cwd=dst, check=True, capture_output=True)
    return dst


BASES = ("qwen2_audio", "qwen2_5_omni_thinker")
SFT_ROWS = ("direct", "sft_gt_label", "sft_distilled_label", "sft_cot", "agfv_sft", "tts_agfv_sft")
P04_MODELS = {"qwen2_audio": "qw2_audio", "qwen2_5_omni_thinker": "qw_omni", "qwen2_audio_ser_ft": "ft_qw2_audio"}
P04_CONDITIONS = ("audio_only", "correct", "shuffle", "conflict", "corrupt")
GRPO_ROWS = (
    "grpo_distilled_label",
    "sightsound_r1",
    "base",
    "grpo_avqa",
    "grpo_avqa_gpt",
    "grpo_vggs_gpt",
    "grpo_avqa_text_only",
)


def test_generated_world_matches_data_dvc(fresh_clone):
    # What `make data` does.
    sh(["audioreason", "world", "--out", "data"], fresh_clone)
    assert "matches data.dvc" in sh(["audioreason", "check-data"], fresh_clone).stdout
    sh(["dvc", "commit", "-q", "-f", "data.dvc"], fresh_clone)
    status = sh(["dvc", "status", "data.dvc"], fresh_clone).stdout
    assert "up to date" in status, status


def test_dvc_repro_runs_every_stage(fresh_clone):
    # As `make repro` runs it: every stage forked from one warm interpreter (audioreason.warm).
    proc = sh([sys.executable, "-m", "audioreason.warm", "with", "--", "dvc", "repro"], fresh_clone)
    out = proc.stdout
    assert "server ready" in proc.stderr and "without the server" not in proc.stderr
    rows = ("baseline", "sft_only", "top_kd", "skip_kd", "layer_kd", "layer_ac_kd")
    for stage in (
        "ingest",
        "validate",
        "textualize_cota",
        "generate_qa",
        "teacher_cot",
        "agfv",
        "models",
        "pretrain_student",
        "train_text_teacher",
        *(f"distill@{r}" for r in rows),
        *(f"instruct_base@{m}" for m in BASES),
        *(f"sft_cot@{r}" for r in SFT_ROWS),
        *(f"grpo@{r}" for r in GRPO_ROWS),
        "evaluate",
        "concept_tokens",
        "ser_finetune",
        "mix_sseu",
        "sseu_bench",
        *(f"interventions@{m}" for m in P04_MODELS),
        "report",
        "register",
    ):
        assert f"Running stage '{stage}'" in out
    scores = json.loads((fresh_clone / "outputs/evaluate/scores.json").read_text())
    assert scores["n"] == 180 and set(scores["task"]) == {"sound", "music", "speech"}
    shown = sh(["dvc", "metrics", "show", "--json"], fresh_clone).stdout
    assert "overall" in shown and "train_loss" in shown
    # Every dataset of the world went through ingest and the quality gates; only CoTA's defects were set aside.
    world = json.loads((fresh_clone / "data/world/metadata.json").read_text())["datasets"]
    ingest = json.loads((fresh_clone / "metrics/ingest.json").read_text())
    assert {name: ingest[f"{name}.records"] for name in world} == {n: d["records"] for n, d in world.items()}
    assert ingest["quarantined"] == world["cota"]["quarantined"] > 0
    validate = json.loads((fresh_clone / "metrics/validate.json").read_text())
    assert validate["success"] is True and validate["audio_failed"] == 0
    assert (fresh_clone / "outputs/validate/report.html").stat().st_size > 1000
    # The generated data: every item kept or rejected with a reason; AGFV scored against the world's truth.
    agfv = json.loads((fresh_clone / "metrics/agfv.json").read_text())
    assert 0 < agfv["precision"] <= 1 and 0 < agfv["recall"] <= 1
    generate_qa = json.loads((fresh_clone / "metrics/generate_qa.json").read_text())
    assert generate_qa["avqa_gpt.kept"] > 0 and generate_qa["vggs_gpt.kept"] > 0
    # Paper 01 Table 1: six rows, each scored on MMAU-format test-mini and IEMOCAP session 5.
    for r in rows:
        table1 = json.loads((fresh_clone / f"metrics/distill/{r}.json").read_text())
        assert table1["mmau.n"] == 180 and table1["ser.n"] > 0 and "paper.mmau.average" in table1
    # Papers 02-03: every row chosen on AVQA val and evaluated as its table; the GRPO rows heard their clips.
    for r in SFT_ROWS:
        m = json.loads((fresh_clone / f"metrics/sft_cot/{r}.json").read_text())
        assert m["mmau.n"] == 180 and m["music_avqa.n"] > 0 and m["avqa_val.n"] > 0
        assert ("selection.candidates" in m) == (r != "direct")
    for r in GRPO_ROWS:
        m = json.loads((fresh_clone / f"metrics/grpo/{r}.json").read_text())
        assert m["mmau.n"] == 180
        if r != "base":
            assert (m["audio_rows_in_loss"] > 0) == (r != "grpo_avqa_text_only")
    # Paper 04: six tokens per utterance of both SER sets, informative on this world; every condition scored.
    tokens = json.loads((fresh_clone / "metrics/concept_tokens.json").read_text())
    assert tokens["iemocap.n"] == world["iemocap"]["records"] and tokens["aibo5.dev.n"] > 0
    assert tokens["iemocap.nmi.ENERGY"] > 0.2 and tokens["throughput.real_time_factor"] < 1
    for m, prefix in P04_MODELS.items():
        p04 = json.loads((fresh_clone / f"metrics/interventions/{m}.json").read_text())
        for key in (
            "audio_only.iemocap.uar",
            "correct.aibo5.dev.uar",
            "audio_only.aibo5.test.uar",
            "conflict.uar",
            "shuffle.uar",
            "corrupt_full.uar",
            "mcnemar.conflict_vs_correct.p_holm",
        ):
            assert 0 <= p04[key] <= 1, key
        if m != "qwen2_audio_ser_ft":  # the paper has no such row
            assert "paper.aibo5.dev.uar" in json.loads(
                (fresh_clone / f"metrics/concept_tokens/{prefix}_tokens.json").read_text()
            )
    # The SER fine-tune trained on the training splits only and hears the emotions better than chance.
    ft = json.loads((fresh_clone / "metrics/interventions/qwen2_audio_ser_ft.json").read_text())
    assert (
        ft["audio_only.uar"] > 0.25 and json.loads((fresh_clone / "metrics/ser_finetune.json").read_text())["steps"] > 0
    )
    # Paper 05: every scene at every SNR; the ground truth scores the upper bounds exactly.
    mix = json.loads((fresh_clone / "metrics/mix_sseu.json").read_text())
    assert mix["mixtures"] == 7 * mix["items"] and mix["max_snr_error_db"] < 0.1
    upper = json.loads((fresh_clone / "metrics/sseu_bench/upper_bound.json").read_text())
    assert (upper["asr.wer.average"], upper["asc.macc.average"], upper["at.map.average"]) == (0.0, 100.0, 100.0)
    for row in ("clap", "independent", "joint", "joint_cot"):
        assert "at.map.average_5snr" in json.loads((fresh_clone / f"metrics/sseu_bench/{row}.json").read_text())
    # The report: all five papers' tables, the paper's numbers beside this run's.
    report = (fresh_clone / "outputs/report/report.md").read_text()
    for paper in ("p01", "p02", "p03", "p04", "p05"):
        assert f"## {paper}: " in report
    assert "73.3 / **" in report and "71.3 / **" in report and "(tiny scale;" in report
    assert (fresh_clone / "outputs/report/report.html").stat().st_size > 10000
    # The pipeline never writes into data/: it still matches data.dvc.
    assert "up to date" in sh(["dvc", "status", "data.dvc"], fresh_clone).stdout


def test_second_repro_runs_nothing(fresh_clone):
    out = sh(["dvc", "repro"], fresh_clone).stdout
    assert "Running stage" not in out
    assert "up to date" in out


def test_mlflow_holds_the_runs(fresh_clone):
    with sqlite3.connect(fresh_clone / "mlflow.db") as db:
        names = sorted(n for (n,) in db.execute("select name from runs where status='FINISHED'"))
        commits = {v for (v,) in db.execute("select value from tags where key='git_commit'")}
        experiments = {n for (n,) in db.execute("select name from experiments")}
        scales = {v for (v,) in db.execute("select value from tags where key='scale'")}
        champions = dict(db.execute("select name, version from registered_model_aliases where alias='champion'"))
    rows = ("baseline", "sft_only", "top_kd", "skip_kd", "layer_kd", "layer_ac_kd")
    grpo = (
        [f"p02.table2.{r}.grpo" for r in ("grpo_distilled_label", "sightsound_r1")]
        + [f"p03.table1.{r}.grpo" for r in ("base", "grpo_avqa", "grpo_avqa_gpt", "grpo_vggs_gpt")]
        + [f"p03.table2.{r}.grpo" for r in ("grpo_avqa_text_only", "grpo_arc_easy")]
        + [f"p03.table2.qwen2_audio_{r}.grpo" for r in ("base", "grpo_avqa", "grpo_avqa_text_only", "grpo_arc_easy")]
    )
    assert names == sorted(
        [
            "p01.data.textualize_cota.textualize_cota",
            "p01.table1.pretrain.pretrain_student",
            "p01.table1.teacher.train_text_teacher",
            *(f"p01.table1.{r}.distill" for r in rows),
            "p02.data.agfv.agfv",
            "p02.data.teacher_cot.teacher_cot",
            *(f"p02.base.{m}.instruct_base" for m in BASES),
            *(f"p02.table2.{r}.sft_cot" for r in SFT_ROWS),
            *grpo,
            "p02.table2.sft_gt_label.evaluate",
            "p03.data.generate_qa.generate_qa",
            "p04.table1.concept_tokens.concept_tokens",
            "p04.ft_qw2_audio.ser_finetune.ser_finetune",
            *(f"p04.{prefix}.{c}.interventions" for prefix in P04_MODELS.values() for c in P04_CONDITIONS),
            "p05.data.mix_sseu.mix_sseu",
            *(f"p05.table1.{r}.sseu_bench" for r in ("upper_bound", "clap", "independent")),
            *(f"p05.table2.{r}.sseu_bench" for r in ("joint", "joint_cot")),
            "all.report.report.report",
        ]
    )
    assert {
        "audioreason",
        "audioreason-p01",
        "audioreason-p02",
        "audioreason-p03",
        "audioreason-p04",
        "audioreason-p05",
    } <= experiments
    assert scales == {"tiny"}
    assert set(champions) == {"audioreason-p02", "audioreason-p03"}
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=fresh_clone, capture_output=True, text=True).stdout.strip()
    # dvc.lock is rewritten while the pipeline runs, so the commit may be marked dirty.
    assert commits and commits <= {head, f"{head}-dirty"}


def test_a_row_run_as_a_plain_process_reproduces_the_forked_one(fresh_clone):
    """The warm server changes how a stage starts, not what it computes: a GRPO row (training, checkpoint
    selection, evaluation) rerun by plain ``dvc repro`` writes the same metrics and the same outputs."""
    metrics = fresh_clone / "metrics/grpo/grpo_avqa.json"
    forked = json.loads(metrics.read_text())
    sh(["dvc", "repro", "--force", "--single-item", "grpo@grpo_avqa"], fresh_clone)
    assert json.loads(metrics.read_text()) == forked and forked["steps"] > 0
    assert "up to date" in sh(["dvc", "status", "grpo@grpo_avqa"], fresh_clone).stdout  # same output hashes
