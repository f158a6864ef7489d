"""``benchmarks/gpu``: its arguments, settings from the paper params, models on meta, the table, the JSON, the skips.

The CPU run uses ``--tiny-widths`` (every width 64, vocabularies real) so each part's code path runs in seconds;
the real widths are checked on the ``meta`` device. The ``gpu`` test runs the shell wrapper on a CUDA device.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from audioreason.models import paper_shape as ps

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = REPO_ROOT / "benchmarks" / "gpu"


@pytest.fixture(scope="module")
def bench():
    """``benchmarks/gpu/bench.py`` imported as a module."""
    spec = importlib.util.spec_from_file_location("gpu_bench", BENCH_DIR / "bench.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_bench"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("gpu_bench", None)


def test_arguments_default_to_every_part_and_a_420_s_budget(bench):
    args = bench.build_parser().parse_args([])
    assert (args.parts, args.budget_s, args.text_layers, args.groups, args.device) == (
        ("a", "b", "c"),
        420.0,
        None,
        [4, 8],
        "cuda",
    )
    args = bench.build_parser().parse_args(["--parts", "c,a", "--text-layers", "1", "--budget-s", "30"])
    assert (args.parts, args.text_layers, args.budget_s) == (("a", "c"), 1, 30.0)
    assert bench.build_parser().parse_args(["--parts", "all"]).parts == ("a", "b", "c")
    with pytest.raises(SystemExit):
        bench.build_parser().parse_args(["--parts", "a,d"])


def test_settings_are_the_paper_params(bench):
    s = bench.load_settings(REPO_ROOT / "params.paper.yaml")
    assert (s.grpo_generations, s.grpo_micro, s.grpo_completion, s.grpo_temperature, s.grpo_beta) == (
        4,
        4,
        256,
        1.2,
        0.04,
    )
    assert (s.distill_micro, s.distill_checkpointing, s.distill_max_length, s.distill_divergence) == (
        1,
        True,
        4096,
        "jsd",
    )
    assert (s.sft_lora["r"], s.sft_lora["alpha"], s.sft_micro) == (8, 16, 8)
    assert s.sft_lora["target_modules"][:4] == ["q_proj", "k_proj", "v_proj", "o_proj"]
    # evaluate.model is an sft_cot output: it stands for sft_cot.base.
    assert (s.eval_checkpoint, s.eval_batch, s.eval_max_new_tokens) == (ps.QWEN2_AUDIO, 16, 256)


def test_one_layer_models_have_the_real_widths_on_meta(bench):
    args = bench.build_parser().parse_args(["--text-layers", "1", "--audio-layers", "1"])
    omni = bench.build(ps.QWEN2_5_OMNI, args, device="meta")
    assert omni.get_input_embeddings().weight.shape == (152064, 3584)
    assert omni.config.text_config.num_hidden_layers == 1 and omni.config.audio_config.encoder_layers == 1
    assert all(p.device.type == "meta" for p in omni.parameters())
    audio = bench.build(ps.QWEN2_AUDIO, args, device="meta")
    prefix = bench.decoder_prefix(audio)
    assert audio.get_submodule(prefix) is audio.get_decoder()
    # LoRA's exclusion regex keeps the Whisper encoder's q/k/v projections out and the decoder's in.
    names = [n for n, _ in audio.named_modules() if n.endswith("q_proj")]
    inside = [n for n in names if n.startswith(prefix + ".")]
    assert inside and len(inside) < len(names)


def test_table_is_aligned_and_cuts_long_failures(bench):
    rows = [
        bench.Row("a", "HF generate G=4", result="812.3 tok/s", note="4 x 256 tokens"),
        bench.Row("a", "vLLM G=4", status="skipped: vllm not importable"),
        bench.Row("b", "p03 GRPO step", status="failed: OutOfMemoryError: " + "x" * 300, estimate="266.0 GiB"),
    ]
    lines = bench.format_table(rows).splitlines()
    header = lines[0]
    assert header.split()[:2] == ["part", "measurement"] and set(lines[1]) <= {"-", " "}
    column = header.index("result")
    assert lines[2][column:].startswith("812.3 tok/s")
    assert lines[3][header.index("status") :].startswith("skipped: vllm not importable")
    assert lines[4][header.index("plan") :].startswith("266.0 GiB")  # the 300-char error is cut to 72
    assert header.index("result") - header.index("status") == bench.STATUS_WIDTH + 2


def test_a_failure_is_a_row_and_the_next_measurement_still_runs(bench, capsys):
    b = bench.Bench(budget_s=60.0, device="cpu")

    def boom(row):
        raise RuntimeError("out of memory\nsecond line")

    def fine(row):
        row.result = "done"
        return 7

    assert b.measure("b", "breaks", boom) is None
    assert b.measure("b", "works", fine) == 7
    assert [r.status for r in b.rows] == ["failed: RuntimeError: out of memory", "ok"]
    assert "breaks: start" in capsys.readouterr().out


def test_a_spent_budget_skips_every_measurement(bench, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "estimates_or_reason", lambda args, shapes: "not computed in this test")
    out = tmp_path / "b.json"
    assert bench.main(["--device", "cpu", "--budget-s", "0", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    measured = [r for r in rows if r["part"] in "abc"]
    assert measured and all(r["status"] == "skipped: time budget" for r in measured if "vLLM" not in r["name"])


def test_cpu_run_of_every_part_writes_the_json_and_skips_vllm(bench, tmp_path, monkeypatch):
    real_optional = bench.optional
    monkeypatch.setattr(bench, "optional", lambda name: None if name in ("vllm", "deepspeed") else real_optional(name))
    monkeypatch.setenv("OUT", str(tmp_path / "out"))
    argv = ["--device", "cpu", "--tiny-widths", "--text-layers", "1", "--audio-layers", "1", "--new-tokens", "2"]
    argv += ["--seq", "160", "--audio-s", "1", "--groups", "2", "--eval-items", "2", "--micro-batch", "1"]
    assert bench.main([*argv, "--json", str(tmp_path / "bench.json")]) == 0
    doc = json.loads((tmp_path / "out" / "gpu_bench.json").read_text())
    assert doc == json.loads((tmp_path / "bench.json").read_text()) | {"total_s": doc["total_s"]}
    rows = {(r["part"], r["name"]): r for r in doc["rows"]}
    assert rows[("a", "HF generate G=2")]["values"]["tokens"] == 2 * 2
    assert rows[("c", "HF generate MMAU batch")]["values"]["tokens"] == 2 * 2
    for key in (("a", "vLLM G=2"), ("c", "vLLM eval batch"), ("env", "vllm"), ("env", "deepspeed")):
        assert rows[key]["status"].startswith("skipped: ") and "not importable" in rows[key]["status"]
    training = [r for (part, _), r in rows.items() if part == "b"]
    assert len(training) == 3 and all(r["status"] == "ok" and math.isfinite(r["values"]["loss"]) for r in training)
    assert all(r["values"]["peak_gib"] is None for r in training)  # no CUDA: no memory figure
    assert doc["environment"]["vllm"] is None


@pytest.mark.gpu
def test_run_sh_rolls_out_one_layer_omni_on_the_gpu(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable, "BUDGET_S": "240"}
    proc = subprocess.run(
        [str(BENCH_DIR / "run.sh"), "--text-layers", "1", "--audio-layers", "1", "--parts", "a", "--groups", "4"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = {r["name"]: r for r in json.loads((tmp_path / "gpu_bench.json").read_text())["rows"]}
    assert rows["HF generate G=4"]["values"]["tokens"] == 4 * 256
    assert rows["HF generate G=4"]["values"]["tokens_per_s"] > 0
    assert torch.cuda.is_available()
