"""Every params file builds into the typed config (:mod:`audioreason.config`) and into the TRL
configs its trainer sections are handed to, with the papers' values where they state them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from audioreason.config import (
    ConfigError,
    EvaluateConfig,
    Generation,
    GrpoConfig,
    ModelsConfig,
    Params,
    SftCotConfig,
    WorldConfig,
    flatten,
    load_params,
)
from audioreason.training.sft import build_lora, build_sft_config

REPO_ROOT = Path(__file__).resolve().parents[3]
PARAMS_FILES = ["params.yaml", "params.paper.yaml"]


def _raw(name: str = "params.yaml") -> dict:
    return yaml.safe_load((REPO_ROOT / name).read_text())


# --------------------------------------------------------------------------- both files build


@pytest.mark.parametrize("name", PARAMS_FILES)
def test_params_file_builds(name):
    p = load_params(REPO_ROOT / name)
    assert isinstance(p, Params)
    assert isinstance(p.world, WorldConfig)
    assert isinstance(p.models, ModelsConfig)
    assert isinstance(p.sft_cot, SftCotConfig) and isinstance(p.grpo, GrpoConfig)
    assert isinstance(p.evaluate, EvaluateConfig)
    raw = _raw(name)
    # Values come through unchanged (ints stay ints, floats are floats).
    assert p.world.n_train == raw["world"]["n_train"]
    assert p.world.clip_seconds == float(raw["world"]["clip_seconds"])
    assert isinstance(p.world.clip_seconds, float)
    assert p.validate.settings("avqa_train").sample_rates == raw["validate"]["manifests"]["avqa_train"]["sample_rates"]
    assert p.models.text_decoder.hidden_size == raw["models"]["text_decoder"]["hidden_size"]
    assert p.sft_cot.trainer == raw["sft_cot"]["trainer"]
    assert "{question}" in p.sft_cot.prompt and "{choices}" in p.sft_cot.prompt
    assert p.sft_cot.label_target == "<answer>{answer}</answer>"
    # One evaluation for both papers' rows (a YAML anchor in both files).
    assert p.sft_cot.eval == p.grpo.eval
    # Paper 03 §III.A's prompt, verbatim; paper 02 rewards the think / answer format its prompt asks for.
    assert p.grpo.recipes["p03"].prompt == "{question} Please choose the answer from the following options: {choices}"
    assert p.grpo.recipes["p03"].rewards == ["omni_r1_accuracy"]
    assert p.grpo.recipes["p02"].rewards == ["sightsound_accuracy", "sightsound_format"]
    assert p.grpo.recipes["p02"].prompt == p.sft_cot.prompt
    assert set(p.sft_cot.rows) == {
        "direct",
        "sft_gt_label",
        "sft_distilled_label",
        "sft_cot",
        "agfv_sft",
        "tts_agfv_sft",
    }
    assert set(p.grpo.rows) == {
        "grpo_distilled_label",
        "sightsound_r1",
        "base",
        "grpo_avqa",
        "grpo_avqa_gpt",
        "grpo_vggs_gpt",
        "grpo_avqa_text_only",
        "grpo_arc_easy",
        "qwen2_audio_base",
        "qwen2_audio_grpo_avqa",
        "qwen2_audio_grpo_avqa_text_only",
        "qwen2_audio_grpo_arc_easy",
    }
    assert p.grpo.rows["sightsound_r1"].init.endswith("sft_cot/tts_agfv_sft/model")
    assert not p.grpo.rows["grpo_avqa_text_only"].with_audio and not p.grpo.rows["base"].train


def test_tiny_and_paper_values():
    tiny = load_params(REPO_ROOT / "params.yaml")
    paper = load_params(REPO_ROOT / "params.paper.yaml")
    assert tiny.models.build == ["qwen2_audio", "qwen2_5_omni_thinker", "qwen3"]
    assert paper.models.build == []
    assert tiny.models.feature_extractor.chunk_length == 2
    assert paper.models.feature_extractor.chunk_length == 30
    assert paper.models.feature_extractor.feature_size == 128
    assert paper.sft_cot.base == paper.instruct_base.models["qwen2_audio"] == "Qwen/Qwen2-Audio-7B-Instruct"
    assert paper.grpo.rows["grpo_avqa"].init == paper.instruct_base.models["qwen2_5_omni_thinker"]
    assert paper.instruct_base.trainer["max_steps"] == 0
    assert (paper.sft_cot.lora.r, paper.sft_cot.lora.alpha) == (tiny.sft_cot.lora.r, tiny.sft_cot.lora.alpha) == (8, 16)
    assert paper.sft_cot.lora.modules_to_save == [] and tiny.sft_cot.lora.modules_to_save


def test_paper_evaluations_generate_through_vllm_and_tiny_ones_through_transformers():
    """Papers 01-03's evaluation sections: vLLM at paper scale (one 80 GB GPU per model), ``generate`` on CPU."""
    tiny = load_params(REPO_ROOT / "params.yaml")
    paper = load_params(REPO_ROOT / "params.paper.yaml")
    sections = ("distill", "sft_cot", "grpo")
    assert {s: getattr(paper, s).eval.engine for s in sections} == dict.fromkeys(sections, "vllm")
    assert {s: getattr(tiny, s).eval.engine for s in sections} == dict.fromkeys(sections, "transformers")
    for s in sections:
        ev = getattr(paper, s).eval
        assert (ev.vllm.tensor_parallel_size, ev.vllm.dtype) == (1, "bfloat16")
        # a 30 s clip's 750 audio tokens, a prompt and the longest answer fit the context
        assert ev.vllm.max_model_len >= 750 + 256 + ev.generation.max_new_tokens


def test_vllm_context_must_leave_room_beside_the_answer():
    from audioreason.config import DistillEvalConfig, build_section

    raw = yaml.safe_load((REPO_ROOT / "params.paper.yaml").read_text())["distill"]["eval"]
    raw["vllm"]["max_model_len"] = raw["generation"]["max_new_tokens"]
    with pytest.raises(ConfigError, match="distill.eval: vllm.max_model_len"):
        build_section(DistillEvalConfig, raw, "distill.eval")
    raw["vllm"]["dtype"] = "fp8"
    with pytest.raises(ConfigError, match="distill.eval.vllm.dtype: unknown dtype 'fp8'"):
        build_section(DistillEvalConfig, raw, "distill.eval")


def test_tiny_sft_config_builds(tmp_path):
    p = load_params(REPO_ROOT / "params.yaml")
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())["sft_cot"]["trainer"]
    cfg = build_sft_config(dict(p.sft_cot.trainer), str(tmp_path / "sft"))
    assert cfg.output_dir == str(tmp_path / "sft")
    # Every params value reaches TRL's config unchanged.
    for key, value in raw.items():
        if key == "report_to":  # TrainingArguments normalises "none" to []
            assert cfg.report_to == []
            continue
        got = getattr(cfg, key)
        assert (got.value if hasattr(got, "value") else got) == value, key
    assert cfg.use_cpu is True and cfg.bf16 is False
    # Fixed by the recipe, not by params.
    assert cfg.remove_unused_columns is False
    assert cfg.dataset_kwargs == {"skip_prepare_dataset": True}
    lora = build_lora(p.sft_cot.lora)
    assert set(lora.modules_to_save) == {"lm_head", "embed_tokens"}


def test_paper_sft_config_builds_on_cpu(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)  # the DeepSpeed file is named relative to the repository, where dvc runs stages
    p = load_params(REPO_ROOT / "params.paper.yaml")
    trainer = dict(p.sft_cot.trainer, bf16=False, use_cpu=True)
    cfg = build_sft_config(trainer, str(tmp_path / "sft"))
    assert cfg.learning_rate == pytest.approx(5e-5)
    assert cfg.max_steps == 2000
    assert cfg.per_device_train_batch_size == 8
    assert cfg.gradient_accumulation_steps == 1
    assert cfg.warmup_steps == 50
    assert cfg.save_steps == 200
    assert cfg.dataloader_num_workers == 4
    assert getattr(cfg.lr_scheduler_type, "value", cfg.lr_scheduler_type) == "cosine"
    assert cfg.seed == 0 and cfg.data_seed == 0
    assert cfg.remove_unused_columns is False
    lora = build_lora(p.sft_cot.lora)
    assert lora.r == 8
    assert lora.lora_alpha == 16
    assert lora.lora_dropout == pytest.approx(0.05)
    assert lora.modules_to_save is None
    assert {"q_proj", "k_proj", "v_proj", "o_proj"} <= set(lora.target_modules)


@pytest.mark.parametrize("name", PARAMS_FILES)
def test_grpo_recipes_build_trl_configs(name, tmp_path):
    """Every GRPO row's trainer (recipe + row overrides) builds TRL's GRPOConfig; at paper scale the stated values."""
    from audioreason.training.grpo import build_grpo_config

    p = load_params(REPO_ROOT / name)
    paper = name == "params.paper.yaml"
    for row, spec in p.grpo.rows.items():
        trainer = {**p.grpo.recipes[spec.paper].trainer, **spec.trainer}
        if paper:  # vLLM, bf16 and DeepSpeed need the GPU node; everything else is checked here
            trainer = {k: v for k, v in trainer.items() if k not in ("use_vllm", "vllm_mode", "deepspeed")}
            trainer.update(bf16=False, use_cpu=True)
        cfg = build_grpo_config(trainer, str(tmp_path / row), where=f"grpo.rows.{row}.trainer")
        assert cfg.remove_unused_columns is False
        assert cfg.generation_batch_size % cfg.num_generations == 0
        if paper:
            assert cfg.beta == pytest.approx(0.04) and cfg.learning_rate == pytest.approx(1e-6)
            if spec.paper == "p02":  # paper 02 §4.1
                assert (cfg.num_generations, cfg.temperature, cfg.max_steps) == (8, 1.0, 1000)
            else:  # paper 03 §IV.A
                assert (cfg.num_generations, cfg.temperature) == (4, pytest.approx(1.2))
                assert cfg.max_steps == (2000 if spec.data == "vggs_gpt" else 1000)


@pytest.mark.parametrize("recipe, prompts_per_step", [("p02", 24), ("p03", 8)])
def test_paper_grpo_deepspeed_layouts_keep_the_papers_batches(recipe, prompts_per_step):
    """On the 8-GPU node: DeepSpeed's micro x accumulation x world equals the paper's completions per step, and the
    trainer's values match the DeepSpeed file (HF refuses a mismatch at launch)."""
    import json

    p = load_params(REPO_ROOT / "params.paper.yaml")
    trainer = p.grpo.recipes[recipe].trainer
    ds = json.loads((REPO_ROOT / trainer["deepspeed"]).read_text())
    world = int(p.grpo.launch.split("--nproc_per_node=")[1].split()[0])
    assert ds["train_micro_batch_size_per_gpu"] == trainer["per_device_train_batch_size"]
    assert ds["gradient_accumulation_steps"] == trainer.get("gradient_accumulation_steps", 1)
    assert ds["train_batch_size"] == ds["train_micro_batch_size_per_gpu"] * ds["gradient_accumulation_steps"] * world
    assert ds["train_batch_size"] == prompts_per_step * trainer["num_generations"]
    assert ds["zero_optimization"]["stage"] == 3 and ds["bf16"]["enabled"] is True


@pytest.mark.gpu
def test_paper_sft_config_builds_unmodified_on_gpu(tmp_path):
    p = load_params(REPO_ROOT / "params.paper.yaml")
    cfg = build_sft_config(dict(p.sft_cot.trainer), str(tmp_path / "sft"))
    assert cfg.bf16 is True
    assert cfg.use_cpu is False
    assert cfg.learning_rate == pytest.approx(5e-5)
    assert cfg.max_steps == 2000


def test_bad_trl_key_names_sft_trainer(tmp_path):
    with pytest.raises(ConfigError) as excinfo:
        build_sft_config({"learning_rat": 1}, str(tmp_path))
    msg = str(excinfo.value)
    assert "sft.trainer" in msg and "learning_rat" in msg


def test_bad_trl_value_names_sft_trainer(tmp_path):
    with pytest.raises(ConfigError, match="sft.trainer"):
        build_sft_config({"lr_scheduler_type": "no_such_schedule", "use_cpu": True}, str(tmp_path))


def test_recipe_keys_cannot_be_overridden(tmp_path):
    with pytest.raises(ConfigError) as excinfo:
        build_sft_config({"remove_unused_columns": True}, str(tmp_path))
    assert "sft.trainer" in str(excinfo.value) and "remove_unused_columns" in str(excinfo.value)


# --------------------------------------------------------------------------- flatten


def test_flatten_keys():
    p = load_params(REPO_ROOT / "params.yaml")
    flat = flatten(p)
    for key in (
        "world.seed",
        "world.n_train",
        "ingest.datasets.avqa_train.path",
        "ingest.datasets.iemocap.format",
        "models.tokenizer.vocab_size",
        "models.feature_extractor.chunk_length",
        "models.text_decoder.hidden_size",
        "sft_cot.lora.r",
        "sft_cot.trainer.learning_rate",
        "sft_cot.trainer.max_steps",
        "grpo.recipes.p03.trainer.beta",
        "grpo.rows.grpo_avqa.init",
        "evaluate.generation.max_new_tokens",
        "distill.eval.generation.do_sample",
        "interventions.generation.seed",
        "sseu_bench.generation.joint_cot.max_new_tokens",
        "tracking.uri",
    ):
        assert key in flat, key
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    assert flat["world.n_train"] == raw["world"]["n_train"]
    assert flat["sft_cot.trainer.learning_rate"] == pytest.approx(raw["sft_cot"]["trainer"]["learning_rate"])
    assert flat["models.build"] == ["qwen2_audio", "qwen2_5_omni_thinker", "qwen3"]
    # Leaves only: no key is a prefix section.
    assert "world" not in flat and "sft_cot.trainer" not in flat
    assert all(not isinstance(v, dict) for v in flat.values())
    assert all(k.split(".")[0] in Params.__dataclass_fields__ for k in flat)


def test_paper_distillation_params_are_paper_01s(tmp_path):
    """Paper 01 §4.1-4.3 values, and the TrainingArguments they build (CPU, DeepSpeed left out here)."""
    import json as _json

    from transformers import TrainingArguments

    p = load_params(REPO_ROOT / "params.paper.yaml")
    d = p.distill
    assert (d.student, d.teacher) == ("Qwen/Qwen2.5-Omni-7B", "Qwen/Qwen3-8B")
    assert d.launch == "torchrun --nproc_per_node=8"
    assert (d.alpha_layer, d.alpha_ac, d.alpha_sft, d.divergence, d.skip_k) == (0.05, 0.05, 0.5, "jsd", 7)
    g = d.eval.generation
    assert (g.do_sample, g.temperature, g.top_k, g.top_p) == (True, 0.6, 5, 0.5)
    assert p.pretrain_student.trainer["max_steps"] == 0 and p.train_text_teacher.trainer["max_steps"] == 0
    assert p.models.teacher_text_decoder.num_hidden_layers == 36 and p.models.text_decoder.num_hidden_layers == 28
    trainer = {k: v for k, v in d.trainer.items() if k != "deepspeed"}
    args = TrainingArguments(output_dir=str(tmp_path), **dict(trainer, bf16=False, use_cpu=True))
    assert args.num_train_epochs == 3 and args.learning_rate == pytest.approx(1e-5)
    zero = _json.loads((REPO_ROOT / d.trainer["deepspeed"]).read_text())
    assert zero["zero_optimization"]["stage"] == 3
    assert set(d.rows) == {"baseline", "sft_only", "top_kd", "skip_kd", "layer_kd", "layer_ac_kd"}
    assert (d.rows["skip_kd"].layers, d.rows["layer_ac_kd"].acoustic, d.rows["baseline"].train) == ("skip", True, False)


@pytest.mark.parametrize("params_file", ["params.yaml", "params.paper.yaml"])
def test_every_teacher_builds_its_backend_options(params_file):
    from audioreason.teachers.backends import build_options

    p = load_params(REPO_ROOT / params_file)
    for name, spec in p.teachers.items():
        options = build_options(spec, f"teachers.{name}")
        assert type(options).__name__.endswith("Options")
    for stage in (p.textualize_cota, p.generate_qa, p.teacher_cot, p.agfv):
        assert stage.teacher in p.teachers


@pytest.mark.parametrize("params_file", ["params.yaml", "params.paper.yaml"])
def test_paper04_sections_build(params_file, tmp_path):
    p = load_params(REPO_ROOT / params_file)
    assert p.concept_tokens.datasets["iemocap"].grouped == ["PITCH", "FORMANTS"]
    assert p.concept_tokens.datasets["aibo5"].grouped == []
    trainer = dict(p.ser_finetune.trainer, bf16=False, use_cpu=True)
    cfg = build_sft_config(trainer, str(tmp_path / "ser"), where="ser_finetune.trainer")
    assert cfg.max_steps == p.ser_finetune.trainer["max_steps"] > 0
    assert (build_lora(p.ser_finetune.lora) is None) == (params_file == "params.yaml")
    assert set(p.ser_finetune.datasets) <= set(p.concept_tokens.datasets)
    assert set(p.interventions.splits) <= set(p.concept_tokens.datasets)
    assert 1.0 in p.interventions.corrupt_p and p.interventions.n_boot >= 1000


def test_paper04_sections_reject_bad_values():
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    from audioreason.config import ConceptDatasetSpec, InterventionsConfig, build_section

    with pytest.raises(ConfigError, match=r"x\.grouped\[0\]: unknown name 'LOUDNESS' \(allowed: ENERGY, PITCH, "):
        build_section(
            ConceptDatasetSpec, {**raw["concept_tokens"]["datasets"]["iemocap"], "grouped": ["LOUDNESS"]}, "x"
        )
    with pytest.raises(ConfigError, match="corrupt_p must hold"):
        build_section(InterventionsConfig, {**raw["interventions"], "corrupt_p": [0.0, 0.5]}, "interventions")
    with pytest.raises(ConfigError, match="intervention_dataset 'msp'"):
        build_section(InterventionsConfig, {**raw["interventions"], "intervention_dataset": "msp"}, "interventions")


# --------------------------------------------------------------------------- decoding

GREEDY = {"do_sample": False, "temperature": 1.0, "top_k": 50, "top_p": 1.0, "seed": 0}
PAPER01 = {"temperature": 0.6, "top_k": 5, "top_p": 0.5, "seed": 0}
DECODING = {  # what each evaluation decodes with: the values its stage used when they were separate keys
    "params.yaml": {
        "sft_cot.eval": dict(GREEDY, max_new_tokens=64),
        "grpo.eval": dict(GREEDY, max_new_tokens=64),
        "evaluate": dict(GREEDY, max_new_tokens=16),
        "distill.eval": dict(PAPER01, max_new_tokens=160, do_sample=False),
        "interventions": dict(GREEDY, max_new_tokens=8),
        "sseu_bench.asr": dict(GREEDY, max_new_tokens=24),
        "sseu_bench.asc": dict(GREEDY, max_new_tokens=8),
        "sseu_bench.at": dict(GREEDY, max_new_tokens=16),
        "sseu_bench.joint": dict(GREEDY, max_new_tokens=48),
        "sseu_bench.joint_cot": dict(GREEDY, max_new_tokens=96),
    },
    "params.paper.yaml": {
        "sft_cot.eval": dict(GREEDY, max_new_tokens=1024),
        "grpo.eval": dict(GREEDY, max_new_tokens=1024),
        "evaluate": dict(GREEDY, max_new_tokens=256),
        "distill.eval": dict(PAPER01, max_new_tokens=2048, do_sample=True),
        "interventions": dict(GREEDY, max_new_tokens=32),
        "sseu_bench.asr": dict(GREEDY, max_new_tokens=128),
        "sseu_bench.asc": dict(GREEDY, max_new_tokens=32),
        "sseu_bench.at": dict(GREEDY, max_new_tokens=64),
        "sseu_bench.joint": dict(GREEDY, max_new_tokens=256),
        "sseu_bench.joint_cot": dict(GREEDY, max_new_tokens=1024),
    },
}


@pytest.mark.parametrize("name", PARAMS_FILES)
def test_every_evaluation_decodes_with_one_generation_type(name):
    """One ``generation`` type in every section that decodes, with each stage's values unchanged."""
    import dataclasses

    from audioreason.evaluation.generate import GenerationSettings

    assert GenerationSettings is Generation
    p = load_params(REPO_ROOT / name)
    s = p.sseu_bench.generation
    found = {
        "sft_cot.eval": p.sft_cot.eval.generation,
        "grpo.eval": p.grpo.eval.generation,
        "evaluate": p.evaluate.generation,
        "distill.eval": p.distill.eval.generation,
        "interventions": p.interventions.generation,
        "sseu_bench.asr": s.asr,
        "sseu_bench.asc": s.asc,
        "sseu_bench.at": s.at,
        "sseu_bench.joint": s.joint,
        "sseu_bench.joint_cot": s.joint_cot,
    }
    assert all(type(g) is Generation for g in found.values())
    assert {k: dataclasses.asdict(g) for k, g in found.items()} == DECODING[name]
    # Greedy decoding hands generate() the length alone, as the fixed greedy settings did.
    assert p.interventions.generation.generate_kwargs() == {
        "max_new_tokens": DECODING[name]["interventions"]["max_new_tokens"],
        "do_sample": False,
    }
    assert p.interventions.seed == p.sseu_bench.seed == 0  # the bootstrap's and the tiny CLAP's seeds stay


def test_generation_kwargs_carry_the_sampling_settings_only_when_sampling():
    sampled = Generation(max_new_tokens=32, do_sample=True, temperature=0.6, top_k=5, top_p=0.5, seed=0)
    assert sampled.generate_kwargs() == {
        "max_new_tokens": 32,
        "do_sample": True,
        "temperature": 0.6,
        "top_k": 5,
        "top_p": 0.5,
    }
    with pytest.raises(ConfigError, match="max_new_tokens must be positive"):
        Generation(max_new_tokens=0, do_sample=False, temperature=1.0, top_k=50, top_p=1.0, seed=0)


# --------------------------------------------------------------------------- one MMAU file


def _mmau_json_paths(node, key: str = ""):
    """``(dotted key, value)`` for every string of a params tree that names an MMAU JSON file."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _mmau_json_paths(v, f"{key}.{k}" if key else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _mmau_json_paths(v, f"{key}[{i}]")
    elif isinstance(node, str) and "mmau" in node.lower() and node.endswith(".json"):
        yield key, node


@pytest.mark.parametrize("name", PARAMS_FILES)
def test_every_mmau_test_mini_key_names_the_one_file_of_its_params_file(name):
    """Scores on two MMAU test-mini revisions are not comparable (v05.15.25 revised about a quarter of the
    questions): one test-mini file per params file, named once (a YAML anchor) and read by every stage that
    scores MMAU test-mini. The only other MMAU files are the other splits ingest reads (test-full)."""
    raw = _raw(name)
    data_dir = Path(raw["ingest"]["data_dir"])
    found = dict(_mmau_json_paths(raw))
    for key, spec in raw["ingest"]["datasets"].items():  # ingest names its files relative to data_dir
        if spec["format"] == "mmau":
            found[f"ingest.datasets.{key}.path"] = (data_dir / spec["path"]).as_posix()
    splits = {k: v for k, v in found.items() if k.startswith("ingest.") and k != "ingest.datasets.mmau_test_mini.path"}
    mini = {k: v for k, v in found.items() if v not in splits.values()}
    assert {"ingest.datasets.mmau_test_mini.path", "distill.eval.mmau_json", "sft_cot.eval.mmau_json"} <= set(mini)
    assert {"grpo.eval.mmau_json", "evaluate.test_json"} <= set(mini)
    assert len(set(mini.values())) == 1, mini
    (mmau,) = set(mini.values())
    assert "test-mini" in Path(mmau).name and all("test-mini" not in Path(f).name for f in splits.values())
    text = (REPO_ROOT / name).read_text()
    assert text.count(mmau) == 1, f"{name}: {mmau} is written more than once; refer to its anchor"
    p = load_params(REPO_ROOT / name)
    assert p.distill.eval.mmau_json == p.sft_cot.eval.mmau_json == p.grpo.eval.mmau_json == p.evaluate.test_json
    assert p.evaluate.test_json == mmau
    if name == "params.paper.yaml":  # paper 01 §4.1 and every other paper: MMAU v05.15.25, test-mini
        assert mmau == "data/mmau/mmau-test-mini.v05.15.25.json"
