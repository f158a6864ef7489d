"""dvc.yaml, MLproject, the params files and the stage modules agree: one name per stage everywhere."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml

from audioreason.config import load_params

REPO = Path(__file__).resolve().parents[2]


def test_every_dvc_stage_is_a_module_and_an_mlproject_entry_point():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    entry_points = yaml.safe_load((REPO / "MLproject").read_text())["entry_points"]
    for name, stage in stages.items():
        cmd = (stage.get("do") or stage)["cmd"]
        assert f" -m audioreason.stages.{name}" in f" {cmd}", (name, cmd)  # python, or the launcher (torchrun)
        assert importlib.util.find_spec(f"audioreason.stages.{name}") is not None, name
        assert name in entry_points, f"MLproject has no entry point {name!r}"
        assert f"-m audioreason.stages.{name}" in entry_points[name]["command"], name


def test_the_interventions_matrix_matches_the_params():
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["interventions"]
    for params_file in ("params.yaml", "params.paper.yaml"):
        cfg = load_params(REPO / params_file).interventions
        assert {k: v["row"] for k, v in stage["foreach"].items()} == cfg.paper_rows
        assert set(cfg.models) == set(cfg.paper_rows)
    tiny = load_params(REPO / "params.yaml").interventions
    for key, item in stage["foreach"].items():  # the DVC dependency is the stage output holding the model
        assert tiny.models[key].startswith(item["from"] + "/")


def test_the_8_gpu_training_stages_start_from_their_launch_key():
    """distill (paper 01 §4.2), sft_cot and grpo (paper 02 §4.1) train on 8 GPUs at paper scale: each dvc.yaml
    command is ``${<stage>.launch} -m audioreason.stages.<stage>``, ``python -m audioreason.warm`` (python, forked
    from the warm interpreter) in the tiny params, ``torchrun`` over the node in the paper's; every params section
    with a ``launch`` key is started by it."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    tiny, paper = (yaml.safe_load((REPO / f).read_text()) for f in ("params.yaml", "params.paper.yaml"))
    launched = {name for name, section in tiny.items() if isinstance(section, dict) and "launch" in section}
    assert launched == {"distill", "sft_cot", "grpo"}
    for name in launched:
        cmd = (stages[name].get("do") or stages[name])["cmd"]
        assert cmd.startswith(f"${{{name}.launch}} -m audioreason.stages.{name} "), (name, cmd)
        assert tiny[name]["launch"] == "python -m audioreason.warm"
        assert paper[name]["launch"] == "torchrun --nproc_per_node=8"
