"""GPU check at the papers' real sizes: rollout and evaluation throughput, peak memory of each training step.

The models are the pinned checkpoints rebuilt with random weights by :mod:`audioreason.models.paper_shape`
(real widths, vocabularies, token layouts and audio windows), built in bf16 straight on the device, so
nothing is downloaded and no 7B weights ever sit in host memory. Settings come from ``params.paper.yaml``:

- part ``a``, paper 03 §III rollouts: the Qwen2.5-Omni-7B thinker samples ``grpo.recipes.p03`` completions
  (``max_completion_length``, ``temperature``) for a prompt with a 30 s clip built by the real processor, in
  groups of G = 4 (paper 03) and 8 (paper 02), with HF ``generate``; the same with vLLM when it is importable.
- part ``b``, peak GPU memory (``torch.cuda.max_memory_allocated``) of one optimizer step of each training stage
  at full depth: paper 01 distillation (Omni thinker student, Qwen3-8B teacher forward in bf16 without grad,
  top-layer JSD on the response plus SFT cross-entropy), paper 02 LoRA SFT of Qwen2-Audio-7B-Instruct
  (``sft_cot.lora``, adapters on the language model only) and paper 03 GRPO (G completions, policy forward and
  backward, reference forward, k3 KL). The micro-batch, sequence length and gradient checkpointing are the params'
  (``--micro-batch`` overrides); the optimizer is torch's AdamW (fused on CUDA) with its state in the weights'
  dtype (bf16 for full fine-tuning, fp32 for PEFT's adapters). Beside each, the estimate of
  :mod:`audioreason.planning` for the same shape on 1 x h200-141g, ZeRO 0 (its optimizer state is fp32, 16 B per
  trained parameter; the note gives the figure with bf16 AdamW state instead), or ``n/a``.
- part ``c``, MMAU-style evaluation: a batch of multiple-choice prompts with 10-30 s clips through greedy HF
  ``generate`` (``evaluate`` section: batch size, ``max_new_tokens``) on the checkpoint it evaluates; vLLM when
  importable.

Random weights rarely emit the end-of-sequence token, and are kept from it (``min_new_tokens``): every
completion is as long as the settings allow, so tokens/s counts a known number of tokens.

Each measurement is wrapped: an error (e.g. out of memory) is a ``failed: ...`` row and the rest still run;
once ``--budget-s`` is spent the remaining rows read ``skipped: time budget``. The table is printed at the end
and written as JSON to ``--json`` and to ``$OUT/gpu_bench.json`` when ``OUT`` is set.

    benchmarks/gpu/run.sh                                   # all parts, 420 s budget
    benchmarks/gpu/run.sh --text-layers 1 --parts a         # a quick look (1 of 28 decoder layers)
    python benchmarks/gpu/bench.py --device cpu --tiny-widths --text-layers 1 --audio-layers 1 \\
        --new-tokens 2 --seq 64 --audio-s 1 --groups 2 --eval-items 2    # the code path on a CPU
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import importlib.util
import json
import os
import re
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from audioreason.models import paper_shape as ps

REPO_ROOT = Path(__file__).resolve().parents[2]
PARAMS = REPO_ROOT / "params.paper.yaml"
PLAN_FALLBACK = Path(__file__).with_name("plan_estimates.json")
PARTS = ("a", "b", "c")
GIB = 1 << 30
SAMPLE_RATE = 16000
SFT_MAX_LENGTH = 1024  # TRL 1.16 SFTConfig.max_length, which sft_cot.trainer leaves unset
GRPO_PROMPT_TEXT_TOKENS = 256  # prompt text besides the audio placeholders: planning.PROMPT_TEXT_TOKENS
QUESTION = "What is the source of the sound heard in the recording?"
CHOICES = "['a dog barking', 'a bell ringing', 'water running', 'an engine idling']"


# ------------------------------------------------------------------------------------------------ settings


@dataclass(frozen=True)
class Settings:
    """What the benchmark reads from ``params.paper.yaml`` (one field per value; sections named in each)."""

    grpo_prompt: str
    """``grpo.recipes.p03.prompt``."""
    grpo_generations: int
    """``grpo.recipes.p03.trainer.num_generations`` (G of the training step)."""
    grpo_micro: int
    """``grpo.recipes.p03.trainer.per_device_train_batch_size`` (completions per device)."""
    grpo_completion: int
    """``grpo.recipes.p03.trainer.max_completion_length``."""
    grpo_temperature: float
    grpo_beta: float
    grpo_lr: float
    grpo_checkpointing: bool
    distill_max_length: int
    """``distill.max_length``: tokens per training sequence."""
    distill_micro: int
    distill_checkpointing: bool
    distill_divergence: str
    distill_beta: float
    distill_temperature: float
    distill_chunk: int
    distill_alpha_sft: float
    distill_lr: float
    sft_lora: dict[str, Any]
    """``sft_cot.lora`` as written."""
    sft_micro: int
    sft_checkpointing: bool
    sft_lr: float
    eval_checkpoint: str
    """The pinned checkpoint ``evaluate.model`` stands for."""
    eval_prompt: str
    eval_batch: int
    eval_max_new_tokens: int


def _eval_checkpoint(params: dict[str, Any]) -> str:
    """The pinned checkpoint of ``evaluate.model`` (a stage output stands for the base it was trained from)."""
    model = params["evaluate"]["model"]
    if model in ps.CHECKPOINTS:
        return model
    for prefix, section, key in (("outputs/sft_cot/", "sft_cot", "base"), ("outputs/distill/", "distill", "student")):
        if model.startswith(prefix):
            return params[section][key]
    raise ValueError(f"evaluate.model {model!r} is neither a pinned checkpoint nor a known stage output")


def load_settings(path: str | Path = PARAMS) -> Settings:
    """:class:`Settings` from a params file (plain YAML: the typed loader needs packages a GPU image may lack)."""
    params = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    p03 = params["grpo"]["recipes"]["p03"]
    grpo, distill, sft = p03["trainer"], params["distill"], params["sft_cot"]
    evaluate = params["evaluate"]
    return Settings(
        grpo_prompt=p03["prompt"],
        grpo_generations=int(grpo["num_generations"]),
        grpo_micro=int(grpo["per_device_train_batch_size"]),
        grpo_completion=int(grpo["max_completion_length"]),
        grpo_temperature=float(grpo["temperature"]),
        grpo_beta=float(grpo["beta"]),
        grpo_lr=float(grpo["learning_rate"]),
        grpo_checkpointing=bool(grpo.get("gradient_checkpointing", False)),
        distill_max_length=int(distill["max_length"]),
        distill_micro=int(distill["trainer"]["per_device_train_batch_size"]),
        distill_checkpointing=bool(distill["trainer"].get("gradient_checkpointing", False)),
        distill_divergence=distill["divergence"],
        distill_beta=float(distill["beta"]),
        distill_temperature=float(distill["temperature"]),
        distill_chunk=int(distill["chunk_size"]),
        distill_alpha_sft=float(distill["alpha_sft"]),
        distill_lr=float(distill["trainer"]["learning_rate"]),
        sft_lora=dict(sft["lora"]),
        sft_micro=int(sft["trainer"]["per_device_train_batch_size"]),
        sft_checkpointing=bool(sft["trainer"].get("gradient_checkpointing", False)),
        sft_lr=float(sft["trainer"]["learning_rate"]),
        eval_checkpoint=_eval_checkpoint(params),
        eval_prompt=evaluate["prompt"],
        eval_batch=int(evaluate["batch_size"]),
        eval_max_new_tokens=int(evaluate["generation"]["max_new_tokens"]),
    )


def parse_parts(text: str) -> tuple[str, ...]:
    """``"a,c"`` -> ``("a", "c")`` in table order; ``"all"`` -> every part.

    Raises:
        argparse.ArgumentTypeError: an unknown part letter.
    """
    if text.strip() == "all":
        return PARTS
    chosen = {p.strip() for p in text.split(",") if p.strip()}
    unknown = chosen - set(PARTS)
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"parts are a comma list of {', '.join(PARTS)} or 'all', got {text!r}")
    return tuple(p for p in PARTS if p in chosen)


def build_parser() -> argparse.ArgumentParser:
    """The command line (module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", type=parse_parts, default=PARTS, help="comma list of a, b, c, or 'all' (default all)")
    p.add_argument("--budget-s", type=float, default=420.0, help="skip what is left once this many seconds pass")
    p.add_argument("--text-layers", type=int, default=None, help="decoder layers of every model (default: published)")
    p.add_argument("--audio-layers", type=int, default=None, help="audio encoder layers (default: published)")
    p.add_argument("--device", default="cuda", help="cuda (default) or cpu (the code path only: no memory figures)")
    p.add_argument("--params", type=Path, default=PARAMS, help="params file the settings come from")
    p.add_argument("--groups", type=int, nargs="+", default=[4, 8], help="rollout group sizes G (default 4 8)")
    p.add_argument("--new-tokens", type=int, default=None, help="override every completion / max_new_tokens")
    p.add_argument("--seq", type=int, default=None, help="override every training sequence length (tokens)")
    p.add_argument("--audio-s", type=float, default=30.0, help="clip length of rollouts and training rows (s)")
    p.add_argument("--micro-batch", type=int, default=None, help="override every training micro-batch")
    p.add_argument("--eval-items", type=int, default=None, help="evaluation batch (default: evaluate.batch_size)")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    p.add_argument(
        "--tiny-widths", action="store_true", help="shrink every width to 64 (a CPU test of the code path only)"
    )
    p.add_argument("--write-plan", type=Path, default=None, help="write the planner's estimates here and exit")
    return p


# ------------------------------------------------------------------------------------------------ models


def _shrink(config) -> None:
    """Cut every width of ``config`` (and its sub-configs) to 64, keeping vocabularies, token ids and windows."""
    text = config.get_text_config()
    text.hidden_size, text.intermediate_size = 64, 128
    text.num_attention_heads, text.num_key_value_heads = 4, 2
    if getattr(text, "head_dim", None):
        text.head_dim = 16
    rope = getattr(text, "rope_parameters", None) or {}
    if "mrope_section" in rope:
        rope["mrope_section"] = [2, 3, 3]  # sums to head_dim / 2
    audio = getattr(config, "audio_config", None)
    if audio is not None:
        audio.d_model, audio.encoder_ffn_dim, audio.encoder_attention_heads = 64, 128, 4
        if hasattr(audio, "output_dim"):
            audio.output_dim = 64
    vision = getattr(config, "vision_config", None)
    if vision is not None:
        vision.hidden_size, vision.intermediate_size, vision.num_heads, vision.out_hidden_size = 32, 64, 2, 64


@torch.no_grad()
def _init_random(model: torch.nn.Module, *, std: float, seed: int) -> None:
    """Norms 1, biases 0, other weights N(0, std^2), drawn where the weights live (no host copy)."""
    gen = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
    for module in model.modules():
        is_norm = "Norm" in type(module).__name__
        for name, param in module.named_parameters(recurse=False):
            if name == "bias" or (is_norm and name != "weight"):
                param.zero_()
            elif is_norm:
                param.fill_(1.0)
            else:
                param.normal_(0.0, std, generator=gen)


def build(checkpoint: str, args: argparse.Namespace, *, device: str | None = None, seed: int = 0):
    """``checkpoint`` at its paper shape (depth cut by ``--text-layers``/``--audio-layers``) in bf16 on ``device``.

    ``meta`` gives the structure only (:func:`audioreason.models.paper_shape.build_model`). Elsewhere the model is
    constructed under the device without transformers' init and filled there (:func:`_init_random`), so 7B weights
    are never materialised on the host.
    """
    from transformers.initialization import no_init_weights

    device = device or args.device
    depth: dict[str, int] = {}
    if args.text_layers is not None:
        depth["text_layers"] = args.text_layers
    if args.audio_layers is not None and checkpoint in ps.AUDIO_CHECKPOINTS:
        depth["audio_layers"] = args.audio_layers
    if checkpoint == ps.QWEN2_5_OMNI and args.tiny_widths:
        depth["vision_layers"] = 1
    if device == "meta" and not args.tiny_widths:
        return ps.build_model(checkpoint, device="meta", **depth)
    config = ps.paper_config(checkpoint, **depth)
    if args.tiny_widths:
        _shrink(config)
    cls = ps.MODEL_CLASSES[checkpoint]
    with no_init_weights(), torch.device(device):
        model = cls._from_config(config, dtype=torch.bfloat16)
    if device != "meta":
        _init_random(model, std=getattr(config, "initializer_range", 0.02), seed=seed)
    tok = ps.paper_tokenizer(checkpoint)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = [tok.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")]
    return model


def enable_checkpointing(model) -> None:
    """Gradient (activation) checkpointing under the name this transformers version uses."""
    enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
    enable()


def decoder_prefix(model) -> str:
    """Dotted name of ``model``'s text decoder (``""`` when the model is the decoder)."""
    decoder = model.get_decoder()
    for name, module in model.named_modules():
        if module is decoder:
            return name
    raise ValueError(f"{type(model).__name__}: its decoder is not one of its modules")


def clip(seconds: float, seed: int) -> np.ndarray:
    """``seconds`` of noise at 16 kHz, float32 (the content does not matter to random weights)."""
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SAMPLE_RATE))).astype(np.float32)


def audio_prompts(processor, prompts: list[str], seconds: list[float], device: str) -> dict[str, torch.Tensor]:
    """The processor's batch (left-padded) for one clip and one user prompt per row, on ``device``."""
    messages = [[{"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": p}]}] for p in prompts]
    texts = [processor.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in messages]
    enc = processor(
        text=texts,
        audio=[clip(s, i) for i, s in enumerate(seconds)],
        sampling_rate=SAMPLE_RATE,
        return_tensors="pt",
        padding=True,
        padding_side="left",
    )
    return {k: v.to(device) for k, v in enc.items()}


def filler(n: int, seed: int, device: str) -> torch.Tensor:
    """``[1, n]`` ids of the shared BPE (below the added tokens): stand-in text for prompts and responses."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, ps.BASE_BPE_SIZE, (1, n), generator=g).to(device)


def extend(batch: dict[str, torch.Tensor], ids: torch.Tensor) -> dict[str, torch.Tensor]:
    """``batch`` with ``ids`` (``[1, n]``, the same for every row) appended to each row."""
    rows = batch["input_ids"].shape[0]
    out = dict(batch)
    out["input_ids"] = torch.cat([batch["input_ids"], ids.expand(rows, -1)], dim=1)
    out["attention_mask"] = torch.cat([batch["attention_mask"], torch.ones_like(ids).expand(rows, -1)], dim=1)
    return out


def free(*objects) -> None:
    """Drop what a measurement allocated: collect cycles and return cached blocks to the device."""
    del objects
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def sync(device: str) -> None:
    """Wait for queued kernels so wall time covers them."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()


# ------------------------------------------------------------------------------------------------ harness


@dataclass
class Row:
    """One line of the table."""

    part: str
    name: str
    status: str = "ok"
    """``ok``, ``skipped: <why>`` or ``failed: <error's first line>``."""
    result: str = ""
    estimate: str = ""
    """The planner's figure for the same shape, ``n/a`` or empty."""
    note: str = ""
    seconds: float = 0.0
    values: dict[str, Any] = field(default_factory=dict)
    """The numbers behind ``result``, for the JSON."""


class Bench:
    """Runs measurements within a time budget, records each as a :class:`Row`, logs progress with timestamps."""

    def __init__(self, budget_s: float, device: str, stream=None):
        """Start the clock."""
        self.budget_s = budget_s
        self.device = device
        self.rows: list[Row] = []
        self.started = time.perf_counter()
        self.stream = stream or sys.stdout

    def elapsed(self) -> float:
        """Seconds since the start."""
        return time.perf_counter() - self.started

    def spent(self) -> bool:
        """Whether the budget is used up."""
        return self.elapsed() >= self.budget_s

    def log(self, message: str) -> None:
        """One progress line: wall clock, seconds since the start, message."""
        print(f"[{time.strftime('%H:%M:%S')} +{self.elapsed():6.1f}s] {message}", file=self.stream, flush=True)

    def skip(self, part: str, name: str, why: str) -> Row:
        """Record ``name`` as skipped."""
        row = Row(part, name, status=f"skipped: {why}")
        self.rows.append(row)
        self.log(f"{part} {name}: {row.status}")
        return row

    def measure(self, part: str, name: str, fn: Callable[[Row], Any]) -> Any:
        """Run ``fn(row)`` unless the budget is spent; an exception becomes ``failed: ...``. Returns ``fn``'s value.

        ``fn`` fills ``row.result``/``values``/``note``; what it returns (e.g. a built model) is handed back, or None
        when skipped or failed.
        """
        if self.spent():
            self.skip(part, name, "time budget")
            return None
        row = Row(part, name)
        self.rows.append(row)
        self.log(f"{part} {name}: start")
        t0 = time.perf_counter()
        out = None
        try:
            out = fn(row)
            sync(self.device)
        except Exception as err:  # noqa: BLE001 - every failure is a table row, the other parts still run
            first = (str(err).strip().splitlines() or [""])[0]
            row.status = f"failed: {type(err).__name__}: {first}"[:200]
            traceback.print_exc(file=self.stream)
            out = None
        row.seconds = time.perf_counter() - t0
        self.log(f"{part} {name}: {row.status} {row.result} ({row.seconds:.1f} s)")
        return out


def optional(module: str) -> str | None:
    """The version of an optional package, or None when it cannot be imported (nothing is imported to check)."""
    if importlib.util.find_spec(module) is None:
        return None
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:  # noqa: BLE001 - found but without metadata
        return "unknown version"


def reset_peak(device: str) -> None:
    """Start a fresh peak-memory window."""
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def peak_gib(device: str) -> float | None:
    """``torch.cuda.max_memory_allocated`` in GiB since :func:`reset_peak` (None off CUDA)."""
    return torch.cuda.max_memory_allocated() / GIB if device.startswith("cuda") else None


# ------------------------------------------------------------------------------------------------ planner


def plan_estimates(params_path: Path, shapes: dict[str, tuple[int, bool]]) -> dict[str, dict[str, Any]]:
    """The planner's peak GiB on 1 x h200-141g, ZeRO 0, for each training stage at ``shapes[stage]``.

    ``shapes``: stage (``distill``, ``sft``, ``grpo``) -> (micro-batch, gradient checkpointing). The planner's
    shape builders are the ones ``audioreason plan`` uses (paper 01 Table 1's ``top_kd`` row, ``sft_cot``, the
    p03 AVQA row with audio). Raises whatever the planner raises (ImportError where its dependencies are missing).
    """
    from audioreason import planning as pl
    from audioreason.config import load_params

    params = load_params(params_path)
    g = pl.gpu("h200-141g")
    distill = {name: shape for name, shape, _, _ in pl.distill_shapes(params)}["distill/top_kd"]
    sft = pl.lora_shape(pl.model_facts(params.sft_cot.base), params.sft_cot.lora, params.sft_cot.trainer)
    row = params.grpo.rows["grpo_avqa"]
    trainer = {**params.grpo.recipes[row.paper].trainer, **row.trainer}
    grpo = pl.grpo_shape(pl.model_facts(row.init), trainer, row.with_audio)
    out = {}
    for stage, shape in (("distill", distill), ("sft", sft), ("grpo", grpo)):
        micro, checkpointing = shapes[stage]
        layout = pl.Layout(stage=0, micro=micro, accumulation=1, gpus=1, checkpointing=checkpointing)
        plan = pl.plan_training(stage, shape, layout, g, None)
        # What max_memory_allocated counts here: full fine-tuning with bf16 AdamW state (4 B: m, v) instead of the
        # planner's fp32 master + m + v + fp32 grad (16 B), no RESERVED_GIB and no colocated vLLM share.
        m = plan.memory
        states = m.model_states - (12 * shape.trainable if shape.trainable == shape.total else 0)
        bf16_state = (states + m.frozen + m.activations + m.logits + m.kv_cache) / GIB
        out[stage] = {"peak_gib": plan.peak_gib, "bf16_adam_gib": bf16_state, "seq": shape.seq, "layout": plan.layout}
    return out


def estimates_or_reason(args: argparse.Namespace, shapes: dict[str, tuple[int, bool]]) -> dict[str, Any] | str:
    """:func:`plan_estimates`, else the precomputed ``plan_estimates.json`` beside this file, else why neither."""
    try:
        return plan_estimates(args.params, shapes)
    except Exception as err:  # noqa: BLE001 - ImportError where the planner's dependencies are missing, or any error
        live = f"{type(err).__name__}: {(str(err).splitlines() or [''])[0]}"
    if PLAN_FALLBACK.is_file():
        saved = json.loads(PLAN_FALLBACK.read_text(encoding="utf-8"))
        if saved.get("shapes") == {k: list(v) for k, v in shapes.items()}:
            return {k: {**v, "precomputed": True} for k, v in saved["estimates"].items()}
    return live


def estimate_cells(estimates: dict[str, Any] | str, stage: str, measured_seq: int) -> tuple[str, str]:
    """(estimate cell, note) of one training row."""
    if isinstance(estimates, str):
        return "n/a", f"planner: {estimates}"[:120]
    e = estimates[stage]
    tag = " (precomputed)" if e.get("precomputed") else ""
    note = f"plan with bf16 Adam, no reserve/vLLM share: {e['bf16_adam_gib']:.1f} GiB; plan seq {e['seq']}{tag}"
    if e["seq"] != measured_seq:
        note += f" != measured {measured_seq}"
    return f"{e['peak_gib']:.1f} GiB", note


# ------------------------------------------------------------------------------------------------ part a


def part_rollouts(bench: Bench, args: argparse.Namespace, s: Settings) -> None:
    """Paper 03 rollouts: HF ``generate`` tokens/s for each G, then vLLM (or why not)."""
    new = args.new_tokens or s.grpo_completion
    state: dict[str, Any] = {}

    def setup(row: Row):
        state["model"] = build(ps.QWEN2_5_OMNI, args).eval()
        state["processor"] = ps.paper_processor(ps.QWEN2_5_OMNI)
        prompt = s.grpo_prompt.format(question=QUESTION, choices=CHOICES)
        state["prompt"] = audio_prompts(state["processor"], [prompt], [args.audio_s], args.device)
        n = ps.count_parameters(state["model"])
        row.result = f"{n / 1e9:.2f} B params"
        row.values = {"parameters": n, "prompt_tokens": int(state["prompt"]["input_ids"].shape[1])}
        row.note = f"prompt {row.values['prompt_tokens']} tokens ({args.audio_s:g} s clip)"
        # Warm-up: kernels and allocator, outside every timed row.
        with torch.no_grad():
            state["model"].generate(**state["prompt"], max_new_tokens=2, do_sample=False)

    bench.measure("a", "build Omni thinker + warm-up", setup)
    hf_rates: dict[int, float] = {}
    for g in args.groups:
        if "model" not in state:
            bench.skip("a", f"HF generate G={g}", "time budget" if bench.spent() else "model build failed")
            continue

        def rollout(row: Row, g=g):
            batch = {k: v.repeat(g, *([1] * (v.dim() - 1))) for k, v in state["prompt"].items()}
            sync(args.device)
            t0 = time.perf_counter()
            with torch.no_grad():
                out = state["model"].generate(
                    **batch,
                    max_new_tokens=new,
                    min_new_tokens=new,
                    do_sample=True,
                    temperature=s.grpo_temperature,
                )
            sync(args.device)
            seconds = time.perf_counter() - t0
            tokens = int((out.shape[1] - batch["input_ids"].shape[1]) * g)
            hf_rates[g] = tokens / seconds
            row.result = f"{hf_rates[g]:.1f} tok/s"
            row.values = {"tokens": tokens, "seconds": seconds, "tokens_per_s": hf_rates[g], "G": g}
            row.note = f"{g} x {new} tokens in {seconds:.1f} s, T={s.grpo_temperature:g}"

        bench.measure("a", f"HF generate G={g}", rollout)
    processor = state.get("processor")
    free(state.pop("model", None))
    vllm_rows(bench, args, "a", ps.QWEN2_5_OMNI, processor, hf_rates, new, s)


def vllm_rows(
    bench: Bench, args, part: str, checkpoint: str, processor, hf_rates: dict[int, float], new: int, s: Settings
) -> None:
    """vLLM tokens/s and its ratio to HF for each G (``part`` a) or the eval batch (``part`` c), or why skipped."""
    names = [f"vLLM G={g}" for g in args.groups] if part == "a" else ["vLLM eval batch"]
    if optional("vllm") is None:
        for name in names:
            bench.skip(part, name, "vllm not importable")
        return
    if not args.device.startswith("cuda"):
        for name in names:
            bench.skip(part, name, "vllm needs CUDA")
        return
    state: dict[str, Any] = {}

    def setup(row: Row):
        from vllm import LLM

        state["dir"] = tempfile.mkdtemp(prefix="gpu-bench-vllm-")
        model = build(checkpoint, args)
        if checkpoint == ps.QWEN2_5_OMNI:
            ps._save_omni_full_form(model, Path(state["dir"]))  # the form vLLM reads for Qwen2.5-Omni
        else:
            model.save_pretrained(state["dir"])
        model.generation_config.save_pretrained(state["dir"])
        processor.save_pretrained(state["dir"])
        free(model)
        state["llm"] = LLM(
            model=state["dir"],
            dtype="bfloat16",
            gpu_memory_utilization=0.5,
            max_model_len=8192,
            limit_mm_per_prompt={"audio": 1},
            enforce_eager=True,  # no graph capture: its minutes are not in the budget
            seed=0,
        )
        row.result = "loaded"

    bench.measure(part, "vLLM load", setup)
    batches = args.groups if part == "a" else [args.eval_items or s.eval_batch]
    for name, n in zip(names, batches, strict=True):
        if "llm" not in state:
            bench.skip(part, name, "time budget" if bench.spent() else "vLLM load failed")
            continue

        def generate(row: Row, n=n):
            from vllm import SamplingParams

            prompts = vllm_prompts(processor, part, n, args, s)
            sampling = SamplingParams(
                n=n if part == "a" else 1,
                temperature=s.grpo_temperature if part == "a" else 0.0,
                max_tokens=new,
                min_tokens=new,
                ignore_eos=True,
            )
            t0 = time.perf_counter()
            outs = state["llm"].generate(prompts, sampling)
            seconds = time.perf_counter() - t0
            tokens = sum(len(c.token_ids) for o in outs for c in o.outputs)
            rate = tokens / seconds
            row.values = {"tokens": tokens, "seconds": seconds, "tokens_per_s": rate}
            hf = hf_rates.get(n)
            row.result = f"{rate:.1f} tok/s"
            if hf:
                row.values["ratio_vs_hf"] = rate / hf
                row.note = f"{rate / hf:.1f}x HF"

        bench.measure(part, name, generate)
    free(state.pop("llm", None))


def vllm_prompts(processor, part: str, n: int, args, s: Settings) -> list[dict[str, Any]]:
    """vLLM requests: the chat-templated text and its clip (one request per group in part a, per item in c)."""
    if part == "a":
        texts = [s.grpo_prompt.format(question=QUESTION, choices=CHOICES)]
        seconds = [args.audio_s]
    else:
        texts = [s.eval_prompt.format(question=QUESTION, choices=CHOICES)] * n
        seconds = eval_seconds(n)
    out = []
    for i, (t, sec) in enumerate(zip(texts, seconds, strict=True)):
        m = [{"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": t}]}]
        text = processor.apply_chat_template(m, tokenize=False, add_generation_prompt=True)
        out.append({"prompt": text, "multi_modal_data": {"audio": (clip(sec, i), SAMPLE_RATE)}})
    return out


# ------------------------------------------------------------------------------------------------ part b


def training_rows(checkpoint: str, args, prompt: str, seq: int, rows: int, seed: int) -> tuple[dict, int]:
    """``rows`` identical training rows of ``seq`` tokens: the real processor's audio prompt, then filler text.

    Returns (batch, response start): positions from the start on are the response the loss reads.
    """
    processor = ps.paper_processor(checkpoint)
    batch = audio_prompts(processor, [prompt] * rows, [args.audio_s] * rows, args.device)
    start = batch["input_ids"].shape[1]
    if seq <= start:
        raise ValueError(f"sequence {seq} is not longer than its audio prompt ({start} tokens): raise --seq")
    return extend(batch, filler(seq - start, seed, args.device)), start


def adamw(params, lr: float, device: str) -> torch.optim.Optimizer:
    """torch AdamW, fused on CUDA (no whole-model temporaries), its state in the parameters' dtype."""
    params = [p for p in params if p.requires_grad]
    return torch.optim.AdamW(params, lr=lr, fused=device.startswith("cuda"), foreach=False)


def response_ce(logits: torch.Tensor, ids: torch.Tensor, start: int) -> torch.Tensor:
    """Next-token cross-entropy over the response (positions ``start`` on), fp32."""
    # [B, R, V] bf16 -> fp32 inside cross_entropy's chunks is not available: upcast only the response rows.
    pred = logits[:, start - 1 : -1].float()
    return torch.nn.functional.cross_entropy(pred.reshape(-1, pred.shape[-1]), ids[:, start:].reshape(-1))


def step_distill(row: Row, args, s: Settings, micro: int) -> int:
    """Paper 01: student forward/backward with the teacher's no-grad forward, top-layer JSD + SFT, AdamW step."""
    from audioreason.losses.divergences import aligned_kd_loss

    reset_peak(args.device)
    seq = args.seq or s.distill_max_length
    student = build(ps.QWEN2_5_OMNI, args, seed=0).train()
    teacher = build(ps.QWEN3, args, seed=1).eval().requires_grad_(False)
    if s.distill_checkpointing:
        enable_checkpointing(student)
        student.config.use_cache = False
    opt = adamw(student.parameters(), s.distill_lr, args.device)
    batch, start = training_rows(ps.QWEN2_5_OMNI, args, "Describe the audio.", seq, micro, seed=0)
    response = batch["input_ids"][:, start:]
    # The teacher reads a text description as long as the student's prompt, then the same response.
    t_ids = torch.cat([filler(start, 1, args.device).expand(micro, -1), response], dim=1)
    with torch.no_grad():
        t_logits = teacher(input_ids=t_ids, use_cache=False).logits  # [B, S, 151936] bf16
    logits = student(**batch, use_cache=False).logits  # [B, S, 152064] bf16
    vocab = t_logits.shape[-1]  # KD over the ids both vocabularies share
    positions = torch.arange(start - 1, seq - 1, device=args.device).expand(micro, -1)
    mask = torch.ones_like(positions, dtype=torch.bool)
    kd = aligned_kd_loss(
        logits[..., :vocab],
        t_logits,
        positions,
        positions,
        mask,
        kind=s.distill_divergence,
        temperature=s.distill_temperature,
        beta=s.distill_beta,
        chunk_size=s.distill_chunk,
    )
    loss = kd + s.distill_alpha_sft * response_ce(logits, batch["input_ids"], start)
    del logits, t_logits  # free logits here or backward memory peaks
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    row.values = {"loss": float(loss.detach()), "seq": seq, "micro": micro, "response_tokens": seq - start}
    free(student, teacher, opt, batch)
    return seq


def step_sft(row: Row, args, s: Settings, micro: int) -> int:
    """Paper 02: LoRA (``sft_cot.lora``, language model only) forward/backward and AdamW step on Qwen2-Audio."""
    from peft import LoraConfig, get_peft_model

    reset_peak(args.device)
    seq = args.seq or SFT_MAX_LENGTH
    base = build(ps.QWEN2_AUDIO, args).requires_grad_(False)
    prefix = decoder_prefix(base)
    lora = s.sft_lora
    config = LoraConfig(
        r=int(lora["r"]),
        lora_alpha=int(lora["alpha"]),
        lora_dropout=float(lora["dropout"]),
        target_modules=list(lora["target_modules"]),
        # PEFT matches targets as suffixes, which would also wrap the audio encoder's q/k/v projections.
        exclude_modules=rf"(?!{re.escape(prefix)}\.).*" if prefix else None,
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(base, config).train()
    if s.sft_checkpointing:
        enable_checkpointing(model)
        model.enable_input_require_grads()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    opt = adamw(model.parameters(), s.sft_lr, args.device)
    batch, start = training_rows(ps.QWEN2_AUDIO, args, "Which sound is heard?", seq, micro, seed=2)
    logits = model(**batch, use_cache=False).logits
    loss = response_ce(logits, batch["input_ids"], start)
    del logits
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    row.values = {"loss": float(loss.detach()), "seq": seq, "micro": micro, "trainable": trainable}
    row.note = f"{trainable / 1e6:.1f} M LoRA params on {', '.join(lora['target_modules'])}"
    free(model, base, opt, batch)
    return seq


def completion_logps(model, batch: dict, start: int, temperature: float) -> torch.Tensor:
    """``[B, C]`` log-probabilities of the completion tokens (positions ``start`` on), as TRL scales them."""
    logits = model(**batch, use_cache=False).logits[:, start - 1 : -1].float() / temperature  # [B, C, V]
    return torch.log_softmax(logits, dim=-1).gather(-1, batch["input_ids"][:, start:, None]).squeeze(-1)


def step_grpo(row: Row, args, s: Settings, micro: int) -> int:
    """Paper 03: G completions, reference no-grad forward, policy forward/backward (GRPO loss, k3 KL), AdamW step."""
    reset_peak(args.device)
    completion = args.new_tokens or s.grpo_completion
    policy = build(ps.QWEN2_5_OMNI, args, seed=0).train()
    reference = build(ps.QWEN2_5_OMNI, args, seed=0).eval().requires_grad_(False)
    if s.grpo_checkpointing:
        enable_checkpointing(policy)
    opt = adamw(policy.parameters(), s.grpo_lr, args.device)
    prompt = s.grpo_prompt.format(question=QUESTION, choices=CHOICES)
    processor = ps.paper_processor(ps.QWEN2_5_OMNI)
    batch = audio_prompts(processor, [prompt] * micro, [args.audio_s] * micro, args.device)
    audio_id = processor.tokenizer.convert_tokens_to_ids("<|AUDIO|>")
    audio_tokens = int((batch["input_ids"][0] == audio_id).sum())
    # The planner's prompt: its text allowance plus the clip's placeholders (the question is shorter: filler).
    target_prompt = GRPO_PROMPT_TEXT_TOKENS + audio_tokens if args.seq is None else max(args.seq - completion, 1)
    pad = max(target_prompt - batch["input_ids"].shape[1], 0)
    if pad:
        batch = extend(batch, filler(pad, 3, args.device))
    start = batch["input_ids"].shape[1]
    batch = extend(batch, filler(completion, 4, args.device))
    with torch.no_grad():
        ref = completion_logps(reference, batch, start, s.grpo_temperature)
    logps = completion_logps(policy, batch, start, s.grpo_temperature)
    advantages = torch.randn(micro, 1, device=args.device)
    ratio = torch.exp(logps - logps.detach())  # 1, with the gradient of the log-probabilities
    kl = torch.exp(ref - logps) - (ref - logps) - 1
    loss = -(ratio * advantages - s.grpo_beta * kl).mean(dim=1).mean()
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    seq = start + completion
    row.values = {"loss": float(loss.detach()), "seq": seq, "micro": micro, "completion": completion}
    free(policy, reference, opt, batch)
    return seq


def part_memory(bench: Bench, args: argparse.Namespace, s: Settings) -> None:
    """Peak GPU memory of one step of each training stage, beside the planner's estimate."""
    micro = {
        "distill": args.micro_batch or s.distill_micro,
        "sft": args.micro_batch or s.sft_micro,
        "grpo": args.micro_batch or s.grpo_micro,
    }
    checkpointing = {"distill": s.distill_checkpointing, "sft": s.sft_checkpointing, "grpo": s.grpo_checkpointing}
    shapes = {k: (micro[k], checkpointing[k]) for k in micro}
    estimates = estimates_or_reason(args, shapes)
    steps = (
        ("distill", "p01 distill step (Omni + Qwen3-8B)", step_distill),
        ("sft", "p02 LoRA SFT step (Qwen2-Audio)", step_sft),
        ("grpo", "p03 GRPO step (Omni + reference)", step_grpo),
    )
    for stage, name, fn in steps:

        def run(row: Row, stage=stage, fn=fn):
            seq = fn(row, args, s, micro[stage])
            peak = peak_gib(args.device)
            row.values["peak_gib"] = peak
            row.result = f"{peak:.1f} GiB" if peak is not None else "ran (no CUDA peak)"
            cell, note = estimate_cells(estimates, stage, seq)
            row.estimate = cell
            layout = f"micro {micro[stage]}, seq {seq}, GC {'on' if checkpointing[stage] else 'off'}"
            row.note = "; ".join(x for x in (layout, row.note, note) if x)

        bench.measure("b", name, run)
        free()


# ------------------------------------------------------------------------------------------------ part c


def eval_seconds(n: int) -> list[float]:
    """Clip lengths of an evaluation batch: spread over 10-30 s (MMAU's clips)."""
    return [10.0 + 20.0 * i / max(n - 1, 1) for i in range(n)]


def part_eval(bench: Bench, args: argparse.Namespace, s: Settings) -> None:
    """MMAU-style greedy evaluation of one batch with HF ``generate``: items/s and tokens/s; then vLLM."""
    n = args.eval_items or s.eval_batch
    new = args.new_tokens or s.eval_max_new_tokens
    checkpoint = s.eval_checkpoint
    state: dict[str, Any] = {}
    hf_rates: dict[int, float] = {}

    def run(row: Row):
        model = build(checkpoint, args).eval()
        processor = ps.paper_processor(checkpoint)
        state["processor"] = processor
        prompts = [s.eval_prompt.format(question=f"{QUESTION} ({i})", choices=CHOICES) for i in range(n)]
        batch = audio_prompts(processor, prompts, eval_seconds(n), args.device)
        with torch.no_grad():
            model.generate(**batch, max_new_tokens=2, do_sample=False)  # warm-up
            sync(args.device)
            t0 = time.perf_counter()
            out = model.generate(**batch, max_new_tokens=new, min_new_tokens=new, do_sample=False)
            sync(args.device)
        seconds = time.perf_counter() - t0
        tokens = int((out.shape[1] - batch["input_ids"].shape[1]) * n)
        hf_rates[n] = tokens / seconds
        row.result = f"{n / seconds:.2f} items/s, {tokens / seconds:.1f} tok/s"
        row.values = {"items": n, "tokens": tokens, "seconds": seconds, "items_per_s": n / seconds}
        row.values["tokens_per_s"] = tokens / seconds
        row.note = f"{checkpoint.split('/')[1]}, batch {n}, 10-30 s clips, greedy, {new} new tokens"
        free(model, batch, out)

    bench.measure("c", "HF generate MMAU batch", run)
    processor = state.get("processor") or ps.paper_processor(checkpoint)
    vllm_rows(bench, args, "c", checkpoint, processor, hf_rates, new, s)


# ------------------------------------------------------------------------------------------------ output

STATUS_WIDTH = 72
"""Table cells cut a long failure message here (the JSON keeps it whole)."""
COLUMNS = ("part", "measurement", "status", "result", "plan (1xH200, ZeRO 0)", "s", "note")


def format_table(rows: list[Row]) -> str:
    """The rows as one aligned plain-text table, a header and a rule first."""
    cells = [COLUMNS] + [
        (r.part, r.name, r.status[:STATUS_WIDTH], r.result, r.estimate,
         f"{r.seconds:.1f}", r.note)
        for r in rows
    ]  # fmt: skip
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS) - 1)]

    def line(c) -> str:
        """One row: every column padded but the last."""
        return "  ".join(x.ljust(w) for x, w in zip(c[:-1], widths, strict=True)) + "  " + c[-1]

    out = [line(cells[0]), line(tuple("-" * w for w in widths) + ("-" * 4,))]
    return "\n".join([*out, *(line(c) for c in cells[1:])]).rstrip() + "\n"


def environment(device: str) -> dict[str, Any]:
    """Versions of what the run used and of the optional packages (None: not importable), and the device."""
    import transformers

    env: dict[str, Any] = {"python": sys.version.split()[0], "torch": torch.__version__}
    env["transformers"] = transformers.__version__
    for name in ("trl", "peft", "vllm", "deepspeed"):
        env[name] = optional(name)
    env["device"] = torch.cuda.get_device_name() if device.startswith("cuda") and torch.cuda.is_available() else device
    return env


def write_json(path: Path, bench: Bench, args: argparse.Namespace, env: dict[str, Any]) -> None:
    """Every row, the arguments and the environment as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "environment": env,
        "arguments": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "total_s": bench.elapsed(),
        "rows": [dataclasses.asdict(r) for r in bench.rows],
    }
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")


def run(args: argparse.Namespace, stream=None) -> Bench:
    """Every chosen part in order within the budget; returns the bench with its rows."""
    s = load_settings(args.params)
    bench = Bench(args.budget_s, args.device, stream)
    env = environment(args.device)
    bench.log(f"device {env['device']}; torch {env['torch']}, transformers {env['transformers']}")
    for name in ("trl", "peft", "vllm", "deepspeed"):
        if env[name] is None:
            bench.skip("env", name, f"{name} not importable")
    parts = {"a": part_rollouts, "b": part_memory, "c": part_eval}
    for part in args.parts:
        bench.log(f"part {part}: start")
        parts[part](bench, args, s)
        free()
        bench.log(f"part {part}: end")
    return bench


def main(argv: list[str] | None = None) -> int:
    """Parse, run, print the table, write the JSON; exit 0 unless a row failed (skips are not failures)."""
    args = build_parser().parse_args(argv)
    if args.write_plan:
        s = load_settings(args.params)
        shapes = {
            "distill": (args.micro_batch or s.distill_micro, s.distill_checkpointing),
            "sft": (args.micro_batch or s.sft_micro, s.sft_checkpointing),
            "grpo": (args.micro_batch or s.grpo_micro, s.grpo_checkpointing),
        }
        doc = {"shapes": {k: list(v) for k, v in shapes.items()}, "estimates": plan_estimates(args.params, shapes)}
        args.write_plan.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.write_plan}")
        return 0
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device: pass --device cpu (with --tiny-widths) to check the code path", file=sys.stderr)
        return 2
    bench = run(args)
    env = environment(args.device)
    print("\n" + format_table(bench.rows), end="", flush=True)
    targets = [p for p in (args.json, Path(os.environ["OUT"]) / "gpu_bench.json" if os.environ.get("OUT") else None)]
    for path in filter(None, targets):
        write_json(path, bench, args, env)
        print(f"wrote {path}")
    return 1 if any(r.status.startswith("failed") for r in bench.rows) else 0


if __name__ == "__main__":
    sys.exit(main())
