"""GPU memory and wall time of every paper-scale training and generation stage, before any GPU is rented.

``audioreason plan --params params.paper.yaml --gpu a800-80g --gpus 8`` prints one row per stage; this module
holds the arithmetic (pure functions and dataclasses, nothing touches a GPU). Parameter counts come from the
pinned checkpoints built on the ``meta`` device (:mod:`audioreason.models.paper_shape`), batch layouts from each
stage's trainer params and DeepSpeed config, so changing a params value changes the plan.

Conventions (bytes per parameter, per GPU; P = all parameters of the DeepSpeed-wrapped model, T = its trainable
ones, N = GPUs, L = its largest single module):

- weights in bf16: 2 B/param; gradients in bf16: 2 B/trainable param; optimizer state 16 B/trainable param
  (fp32 master copy 4 + Adam m 4 + v 4 + fp32 gradient 4), as DeepSpeed's estimators count them
  (``estimate_zero2_model_states_mem_needs``: ``2 P + 18 P / N``; ``estimate_zero3_model_states_mem_needs``:
  ``4 L + 18 P / N``, all parameters trainable; ZeRO 1 as Rajbhandari et al. 2020, "ZeRO", §5: optimizer state
  partitioned, gradients not). Generalised to frozen parameters:

  ======  ===========================================
  ZeRO 0  2 P + 18 T
  ZeRO 1  2 P + 2 T + 16 T / N
  ZeRO 2  2 P + 18 T / N
  ZeRO 3  4 L + (2 P + 16 T) / N   (L: one gathered module's bf16 weights and gradients)
  ======  ===========================================

- frozen models outside DeepSpeed (paper 01's teacher and snapshot S0) are full bf16 replicas on every GPU; GRPO's
  reference model is wrapped by DeepSpeed as TRL does it (sharded under ZeRO 3, a replica otherwise).
- activations per layer per token, bf16 (Korthikanti et al. 2022, "Reducing Activation Recomputation in Large
  Transformer Models", §4.1 eq. 1: ``sbh (34 + 5 a s / h)`` for a GPT layer with a 4h GeLU MLP; of the 34: 11 h
  attention, 4 h norms, 3 h + 4 I MLP with I = 4 h). A SwiGLU MLP keeps four I-wide tensors (gate, up, silu(gate),
  their product): ``18 h + 8 I``; the GeLU audio encoders: ``18 h + 4 I``. The ``5 a s`` score term is added only
  with eager attention: the stages leave ``attn_implementation`` at transformers' default SDPA, whose flash /
  memory-efficient kernels keep no ``s x s`` scores. With gradient checkpointing: each layer's bf16 input
  (``2 h`` per token) plus one layer's full activations while it is recomputed.
- logits: ``positions x vocab x 4`` B in fp32 (the losses upcast), and the same again for their gradient when
  training; frozen models' logits in bf16.
- ``RESERVED_GIB`` per GPU for the CUDA context, NCCL and cuBLAS workspaces and allocator fragmentation.

Time: ``FLOPs / (peak x MFU)``; a trained model costs ``2 N`` (forward) + ``2 N`` (activation gradients) +
``2 T`` (weight gradients) FLOPs per token, plus ``2 N`` when gradient checkpointing recomputes the forward (6 N per
token for full fine-tuning, Kaplan et al. 2020); a frozen forward ``2 N``. Decoding is bound by reading the weights
and the KV cache once per step: ``max(bytes / (bandwidth x BANDWIDTH_UTILIZATION), FLOPs / (peak x MFU))``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GIB = 1 << 30

RESERVED_GIB = 3.0
"""Per GPU: CUDA context (~0.5 GiB), NCCL buffers, cuBLAS workspaces and allocator fragmentation."""
MFU = 0.4
"""Model FLOP utilisation assumed for training and prefill (bf16 dense peak)."""
BANDWIDTH_UTILIZATION = 0.7
"""Share of the datasheet HBM / GDDR bandwidth a decoding step reaches."""
PROMPT_TEXT_TOKENS = 256
"""Text tokens of a prompt besides the audio placeholders (system turn, question, choices, template)."""
AUDIO_SECONDS = 30.0
"""Audio per item: Qwen2-Audio's padded window; MMAU, AVQA and VGGSound clips are 10-30 s."""
VIDEO_TOKENS = 2560
"""Paper 02's silent video for the vision teacher: 10 s at 2 fps in pairs of frames (Qwen2.5-VL's temporal patch
2), 448 x 448 pixels -> (448 / 28)^2 = 256 merged tokens per pair: 10 x 256."""
EVAL_ITEMS = 1000
"""Generation rows report the wall time per this many items (MMAU test-mini has 1,000)."""
MEL_FRAMES_PER_SECOND = 100
"""Whisper features: hop 160 at 16 kHz."""


@dataclass(frozen=True)
class Gpu:
    """One accelerator model; figures from the vendor datasheets (dense bf16 tensor peak, no sparsity)."""

    name: str
    """The ``--gpu`` name."""
    memory_gib: float
    """Memory capacity (the datasheet's GB, as nvidia-smi reports it within a few percent)."""
    bf16_tflops: float
    """Dense bf16 tensor-core peak, TFLOP/s."""
    bandwidth_tbs: float
    """Memory bandwidth, TB/s."""


GPUS = {
    g.name: g
    for g in (
        # NVIDIA A800 80GB SXM datasheet: as the A100 80GB, 312 TFLOP/s bf16 dense, 2,039 GB/s HBM2e.
        Gpu("a800-80g", 80.0, 312.0, 2.039),
        # NVIDIA A40 datasheet: 149.7 TFLOP/s bf16 dense (299.4 with sparsity), 48 GB GDDR6, 696 GB/s.
        Gpu("a40-48g", 48.0, 149.7, 0.696),
        # NVIDIA RTX A6000 datasheet: 154.8 TFLOP/s bf16 dense (309.7 with sparsity), 48 GB GDDR6, 768 GB/s.
        Gpu("a6000-48g", 48.0, 154.8, 0.768),
        # NVIDIA H200 SXM datasheet: 989 TFLOP/s bf16 dense (1,979 with sparsity), 141 GB HBM3e, 4.8 TB/s.
        Gpu("h200-141g", 141.0, 989.0, 4.8),
        # NVIDIA H100 SXM 80GB datasheet: 989 TFLOP/s bf16 dense (1,979 with sparsity), 3.35 TB/s HBM3.
        Gpu("h100-80g", 80.0, 989.0, 3.35),
    )
}
"""The ``--gpu`` choices."""


def gpu(name: str) -> Gpu:
    """The :class:`Gpu` called ``name``.

    Raises:
        ValueError: an unknown name (the message lists the known ones).
    """
    if name not in GPUS:
        raise ValueError(f"unknown GPU {name!r}; known: {', '.join(GPUS)}")
    return GPUS[name]


# ------------------------------------------------------------------------------------------- model facts


@dataclass(frozen=True)
class Tower:
    """The shape of one transformer stack, as the activation formula needs it."""

    layers: int
    hidden: int
    intermediate: int
    heads: int
    gated: bool
    """SwiGLU (decoders) rather than GeLU (audio encoders)."""


@dataclass(frozen=True)
class ModelFacts:
    """What the planner reads off a checkpoint built on the ``meta`` device."""

    checkpoint: str
    total: int
    """Every parameter (a tied embedding once)."""
    decoder: Tower
    vocab: int
    """Rows of the LM head (logit width)."""
    kv_bytes_per_token: int
    """K and V of every decoder layer in bf16: ``2 x layers x kv_heads x head_dim x 2``."""
    largest_module: int
    """Parameters held directly by the largest module (ZeRO 3 gathers one at a time)."""
    without_head: int
    """Parameters without the LM head: what S0 copies (``model.model``: decoder, audio and vision towers)."""
    encoder: Tower | None
    """The audio encoder, or None for a text-only model."""
    encoder_pads_window: bool
    """Qwen2-Audio's encoder always runs its full 30 s window (3000 frames); Omni's runs the valid frames."""
    window_frames: int
    """Mel frames of the checkpoint's padded audio window."""
    linear_shapes: tuple[tuple[str, int, int], ...]
    """(module name, in, out) of every ``nn.Linear`` of the text decoder (where LoRA adapters go)."""


@functools.cache
def model_facts(checkpoint: str) -> ModelFacts:
    """Parameter counts and shapes of a pinned ``checkpoint``, from its model built on ``meta`` (no storage).

    Raises:
        KeyError: not a pinned checkpoint (the message lists them).
    """
    from torch import nn

    from audioreason.models import paper_shape as ps
    from audioreason.training.sft import language_model_name

    model = ps.build_model(checkpoint)
    text = model.config.get_text_config()
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
    decoder = Tower(
        text.num_hidden_layers, text.hidden_size, text.intermediate_size, text.num_attention_heads, gated=True
    )
    audio = getattr(model.config, "audio_config", None)
    encoder = None
    if audio is not None:
        encoder = Tower(
            audio.encoder_layers, audio.d_model, audio.encoder_ffn_dim, audio.encoder_attention_heads, gated=False
        )
    fe = ps.facts(checkpoint)["feature_extractor"]
    window = fe["published"]["chunk_length"] * MEL_FRAMES_PER_SECOND if fe else 0
    prefix = language_model_name(model)
    linears = tuple(
        (name, m.in_features, m.out_features)
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear) and name.startswith(prefix + ".")
    )
    largest = max(sum(p.numel() for p in m.parameters(recurse=False)) for m in model.modules())
    return ModelFacts(
        checkpoint=checkpoint,
        total=ps.count_parameters(model),
        decoder=decoder,
        vocab=model.get_output_embeddings().out_features,
        kv_bytes_per_token=2 * text.num_hidden_layers * text.num_key_value_heads * head_dim * 2,
        largest_module=largest,
        without_head=ps.count_parameters(model) - ps.count_parameters(model.get_output_embeddings()),
        encoder=encoder,
        encoder_pads_window=checkpoint == ps.QWEN2_AUDIO,
        window_frames=window,
        linear_shapes=linears,
    )


def lora_parameters(facts: ModelFacts, r: int, target_modules: list[str]) -> int:
    """Adapter parameters: ``r x (in + out)`` for every decoder ``nn.Linear`` whose last name is a target.

    PEFT's LoRA adds ``A: in -> r`` and ``B: r -> out`` (no biases) per wrapped layer; the adapters go on the
    language model only (:func:`audioreason.training.sft.build_lora`).
    """
    targets = set(target_modules)
    return sum(r * (i + o) for name, i, o in facts.linear_shapes if name.rsplit(".", 1)[-1] in targets)


def audio_tokens(facts: ModelFacts, seconds: float) -> int:
    """Audio placeholders in the text for a clip of ``seconds`` (at most the checkpoint's window)."""
    from audioreason.models.paper_shape import audio_token_count

    if facts.encoder is None or seconds <= 0:
        return 0
    return audio_token_count(min(int(seconds * MEL_FRAMES_PER_SECOND), facts.window_frames))


def encoder_positions(facts: ModelFacts, seconds: float) -> int:
    """Positions the audio encoder's layers run over (after its stride-2 convolution)."""
    if facts.encoder is None or seconds <= 0:
        return 0
    frames = (
        facts.window_frames
        if facts.encoder_pads_window
        else min(int(seconds * MEL_FRAMES_PER_SECOND), facts.window_frames)
    )
    return (frames - 1) // 2 + 1


# ------------------------------------------------------------------------------------------ the formulas


def layer_activation_bytes(tower: Tower, tokens: int, seq: int, *, eager_attention: bool = False) -> int:
    """Saved activations of one layer for ``tokens`` tokens of sequences ``seq`` long (bf16, no parallelism).

    Korthikanti et al. 2022 eq. 1 with the MLP term for the real width (module docstring):
    ``tokens x (18 h + 8 I)`` for SwiGLU, ``tokens x (18 h + 4 I)`` for GeLU, plus ``tokens x 5 a s`` with
    eager attention.

    >>> layer_activation_bytes(Tower(1, 1024, 4096, 16, gated=False), 1, 1, eager_attention=False) == 34 * 1024
    True
    """
    per_token = 18 * tower.hidden + (8 if tower.gated else 4) * tower.intermediate
    if eager_attention:
        per_token += 5 * tower.heads * seq
    return tokens * per_token


def stack_activation_bytes(
    tower: Tower, batch: int, seq: int, *, checkpointing: bool, eager_attention: bool = False
) -> int:
    """Activations a stack of ``tower.layers`` keeps for the backward of ``batch`` sequences of ``seq`` tokens.

    Without checkpointing every layer's; with it each layer's bf16 input (``2 h`` per token) plus one layer's
    full activations while that layer is recomputed.
    """
    tokens = batch * seq
    one = layer_activation_bytes(tower, tokens, seq, eager_attention=eager_attention)
    if checkpointing:
        return tower.layers * 2 * tower.hidden * tokens + one
    return tower.layers * one


def model_state_bytes(total: int, trainable: int, stage: int, gpus: int, largest_module: int) -> int:
    """Weights, gradients and optimizer state per GPU of a DeepSpeed-wrapped model (module docstring table)."""
    if stage == 0:
        return 2 * total + 18 * trainable
    if stage == 1:
        return 2 * total + 2 * trainable + 16 * trainable // gpus
    if stage == 2:
        return 2 * total + 18 * trainable // gpus
    if stage == 3:
        return 4 * largest_module + (2 * total + 16 * trainable) // gpus
    raise ValueError(f"ZeRO stage must be 0, 1, 2 or 3, got {stage}")


def training_flops_per_token(total: int, trainable: int, *, checkpointing: bool) -> int:
    """``2 N`` forward + ``2 N`` activation gradients + ``2 T`` weight gradients (+ ``2 N`` recomputed)."""
    return 4 * total + 2 * trainable + (2 * total if checkpointing else 0)


def decode_seconds(weight_bytes: int, kv_bytes: int, flops: float, g: Gpu) -> float:
    """One decoding step: the larger of reading weights + KV cache and computing ``flops``."""
    return max(
        (weight_bytes + kv_bytes) / (g.bandwidth_tbs * 1e12 * BANDWIDTH_UTILIZATION),
        flops / (g.bf16_tflops * 1e12 * MFU),
    )


# ------------------------------------------------------------------------------------------------ layout


@dataclass(frozen=True)
class Layout:
    """How one training stage runs: ZeRO stage, batch split, checkpointing."""

    stage: int
    micro: int
    """Sequences per GPU per forward (``per_device_train_batch_size``)."""
    accumulation: int
    gpus: int
    checkpointing: bool

    @property
    def global_batch(self) -> int:
        """Sequences per optimizer step."""
        return self.micro * self.accumulation * self.gpus

    def describe(self) -> str:
        """``micro x accumulation x gpus``."""
        return f"{self.micro}x{self.accumulation}x{self.gpus}"


def launch_processes(launch: str) -> int:
    """GPUs a stage's ``launch`` starts (``torchrun --nproc_per_node=8`` -> 8; ``python`` -> 1)."""
    m = re.search(r"--nproc[_-]per[_-]node[= ](\d+)", launch)
    return int(m.group(1)) if m else 1


def resolve_layout(trainer: dict[str, Any], launch: str, gpus: int, where: str, *, root: Path) -> Layout:
    """The layout of a stage's ``trainer`` section on ``gpus`` GPUs, keeping the global batch it configures.

    The DeepSpeed config (``trainer.deepspeed``, relative to ``root``) gives the ZeRO stage; its ``"auto"`` values
    are the trainer's, as the HF integration fills them. The global batch is DeepSpeed's ``train_batch_size``
    where it is a number, else micro x accumulation x the processes ``launch`` starts; on ``gpus`` GPUs the
    accumulation is what keeps it.

    Raises:
        ValueError: a missing DeepSpeed file, a micro-batch that differs between the trainer and DeepSpeed,
            or a global batch that ``gpus`` x micro does not divide (each naming ``where``).
    """
    micro = int(trainer.get("per_device_train_batch_size", 8))
    accumulation = int(trainer.get("gradient_accumulation_steps", 1))
    stage = 0
    global_batch = None
    ds_path = trainer.get("deepspeed")
    if ds_path:
        path = root / ds_path
        if not path.is_file():
            raise ValueError(f"{where}.trainer.deepspeed: {path} does not exist")
        ds = json.loads(path.read_text(encoding="utf-8"))
        stage = int(ds.get("zero_optimization", {}).get("stage", 0))
        ds_micro = ds.get("train_micro_batch_size_per_gpu", "auto")
        if ds_micro != "auto" and int(ds_micro) != micro:
            raise ValueError(
                f"{where}.trainer.per_device_train_batch_size is {micro} but {path} sets "
                f"train_micro_batch_size_per_gpu {ds_micro}"
            )
        if ds.get("train_batch_size", "auto") != "auto":
            global_batch = int(ds["train_batch_size"])
    if global_batch is None:
        global_batch = micro * accumulation * launch_processes(launch)
    if global_batch % (micro * gpus):
        raise ValueError(f"{where}: the global batch {global_batch} is not a multiple of {micro} per GPU x {gpus} GPUs")
    return Layout(stage, micro, global_batch // (micro * gpus), gpus, bool(trainer.get("gradient_checkpointing")))


# ------------------------------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class Memory:
    """Bytes per GPU, by what holds them."""

    model_states: int
    """The trained model's weights, gradients and optimizer state (ZeRO-partitioned)."""
    frozen: int
    """Frozen models: teacher, S0, GRPO's reference model."""
    activations: int
    """Saved activations of the decoder and a trained audio encoder, and hidden states kept for a loss."""
    logits: int
    """Logits (and their gradient) of the trained model and of frozen ones."""
    kv_cache: int = 0
    """Generation: KV cache of the batch (vLLM: what it may hold at ``gpu_memory_utilization``)."""
    reserved_fraction: float = 0.0
    """Share of the GPU set aside for a colocated vLLM engine (``vllm_gpu_memory_utilization``)."""

    def peak(self, g: Gpu) -> float:
        """GiB needed per GPU, the colocated vLLM share and :data:`RESERVED_GIB` included."""
        own = (self.model_states + self.frozen + self.activations + self.logits + self.kv_cache) / GIB
        return own + self.reserved_fraction * g.memory_gib + RESERVED_GIB


@dataclass(frozen=True)
class StagePlan:
    """One row of the plan."""

    stage: str
    """``<dvc stage>/<row>`` or ``<dvc stage>.eval``."""
    kind: str
    """``train`` or ``generate``."""
    checkpoint: str
    layout: str
    """``micro x accumulation x gpus`` (train), ``batch x replicas`` or ``tp N`` (generate)."""
    zero: int | None
    checkpointing: bool | None
    seq: int
    """Tokens per sequence (prompt with audio + response)."""
    total_params: int
    trainable_params: int
    memory: Memory
    peak_gib: float
    gpu_gib: float
    fits: bool
    tokens_per_step: int
    """Train: tokens per optimizer step over all GPUs. Generate: tokens per batch."""
    step_seconds: float
    """Train: one optimizer step. Generate: :data:`EVAL_ITEMS` items."""
    steps: int | None
    """Optimizer steps (``max_steps``), None where the stage counts epochs."""
    fix: str = ""
    """The smallest change that makes a stage fit ("" when it fits as configured; "none found")."""
    notes: list[str] = field(default_factory=list)

    @property
    def total_hours(self) -> float | None:
        """Train: steps x step time; None where the steps depend on the data (epochs)."""
        return None if self.steps is None else self.steps * self.step_seconds / 3600

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every field, memory in GiB."""
        out = dataclasses.asdict(self)
        out["memory"] = {k: (v / GIB if isinstance(v, int) else v) for k, v in out["memory"].items()}
        out["total_hours"] = self.total_hours
        return out


@dataclass(frozen=True)
class TrainShape:
    """What a training stage trains and keeps, independent of its layout."""

    facts: ModelFacts
    total: int
    """Parameters of the DeepSpeed-wrapped model (distill: student + W_i)."""
    trainable: int
    largest_module: int
    frozen_replica: int
    """Parameters of frozen full replicas outside DeepSpeed (bf16 each)."""
    reference: int
    """GRPO's reference model (DeepSpeed-wrapped, frozen): parameters."""
    seq: int
    loss_positions: int
    """Positions whose logits the loss reads, per sequence."""
    encoder_trained: bool
    extra_activation_bytes_per_seq: int
    """Frozen models' logits and kept hidden states, per sequence."""
    frozen_flops_per_token: int
    """Forward FLOPs of the frozen models, per trained token."""
    rollout: tuple[int, int, float] | None = None
    """GRPO: (prompt tokens, completion tokens, vLLM share of the GPU), None elsewhere."""


def _train_memory(shape: TrainShape, layout: Layout) -> Memory:
    """Per-GPU bytes of ``shape`` trained with ``layout``."""
    f = shape.facts
    acts = stack_activation_bytes(f.decoder, layout.micro, shape.seq, checkpointing=layout.checkpointing)
    if shape.encoder_trained and f.encoder is not None:
        positions = encoder_positions(f, AUDIO_SECONDS)
        acts += stack_activation_bytes(f.encoder, layout.micro, positions, checkpointing=layout.checkpointing)
    acts += layout.micro * shape.extra_activation_bytes_per_seq
    states = model_state_bytes(shape.total, shape.trainable, layout.stage, layout.gpus, shape.largest_module)
    ref = 2 * shape.reference // (layout.gpus if layout.stage == 3 else 1)
    return Memory(
        model_states=states,
        frozen=2 * shape.frozen_replica + ref,
        activations=acts,
        logits=layout.micro * shape.loss_positions * f.vocab * 8,
        reserved_fraction=shape.rollout[2] if shape.rollout else 0.0,
    )


def _step_seconds(shape: TrainShape, layout: Layout, g: Gpu) -> float:
    """One optimizer step: forward/backward of every micro-batch, plus GRPO's rollouts."""
    tokens = layout.micro * layout.accumulation * shape.seq  # per GPU
    per_token = training_flops_per_token(shape.total, shape.trainable, checkpointing=layout.checkpointing)
    seconds = tokens * (per_token + shape.frozen_flops_per_token) / (g.bf16_tflops * 1e12 * MFU)
    if shape.rollout:
        # Each GPU's engine generates the completions of all its micro-batches of the step at once, in as many
        # waves as its KV cache needs.
        prompt, completion, share = shape.rollout
        batch = layout.micro * layout.accumulation
        concurrent = max(1, min(batch, _rollout_capacity(shape, g, share) // shape.seq))
        waves = math.ceil(batch / concurrent)
        prefill = 2 * shape.total * batch * prompt / (g.bf16_tflops * 1e12 * MFU)
        kv = concurrent * (prompt + completion // 2) * shape.facts.kv_bytes_per_token  # the cache's mean size
        step = decode_seconds(2 * shape.total, kv, 2 * shape.total * concurrent, g)
        seconds += prefill + waves * completion * step
    return seconds


def _fits(memory: Memory, g: Gpu) -> bool:
    """Whether the peak per GPU is within the GPU's memory."""
    return memory.peak(g) <= g.memory_gib


def _rollout_capacity(shape: TrainShape, g: Gpu, share: float) -> int:
    """Tokens of KV cache a colocated vLLM engine has after the policy's bf16 weights, within ``share`` of the GPU."""
    return max(int(share * g.memory_gib * GIB) - 2 * shape.total, 0) // shape.facts.kv_bytes_per_token


def _rollout_fits(shape: TrainShape, g: Gpu, share: float) -> bool:
    """vLLM starts when its share holds the policy and one whole sequence's KV cache (``max_model_len``)."""
    return _rollout_capacity(shape, g, share) >= shape.seq


def _smaller_micro_batches(layout: Layout) -> list[Layout]:
    """Halved micro-batches down to 1, each with the accumulation that keeps the global batch."""
    out, micro = [], layout.micro
    while micro > 1 and micro % 2 == 0:
        micro //= 2
        out.append(dataclasses.replace(layout, micro=micro, accumulation=layout.global_batch // (micro * layout.gpus)))
    return out


def _change_label(before: Layout, after: Layout, share: float | None, new_share: float | None) -> str:
    """What differs between two layouts (and the colocated vLLM share), in params terms."""
    changes = []
    if after.checkpointing != before.checkpointing:
        changes.append("gradient_checkpointing: true")
    if after.stage != before.stage:
        changes.append(f"ZeRO stage {after.stage}")
    if after.micro != before.micro:
        changes.append(f"per_device_train_batch_size {after.micro} x gradient_accumulation_steps {after.accumulation}")
    if new_share != share:
        changes.append(f"vllm_gpu_memory_utilization {new_share}")
    return " + ".join(changes)


def plan_training(
    name: str, shape: TrainShape, layout: Layout, g: Gpu, steps: int | None, notes: list[str] | None = None
) -> StagePlan:
    """The plan of one training stage; when it does not fit, the smallest change that does.

    Changes are tried in order, each alone: gradient checkpointing on, a higher ZeRO stage (the lowest that fits),
    a smaller micro-batch with larger accumulation keeping the global batch (the largest that fits); then those
    together. For GRPO with a colocated vLLM engine, a larger ``vllm_gpu_memory_utilization`` is tried when only
    the rollouts do not fit.
    """
    notes = list(notes or [])

    def evaluate(lay: Layout, share: float | None) -> bool:
        """Whether the training state and the colocated rollouts fit with ``lay`` and vLLM ``share``."""
        s = dataclasses.replace(shape, rollout=(shape.rollout[0], shape.rollout[1], share)) if share else shape
        mem = _train_memory(s, lay)
        return _fits(mem, g) and (not s.rollout or _rollout_fits(s, g, s.rollout[2]))

    share = shape.rollout[2] if shape.rollout else None
    fix = ""
    chosen = layout
    if not evaluate(layout, share):
        candidates: list[tuple[Layout, float | None]] = []
        if not layout.checkpointing:
            candidates.append((dataclasses.replace(layout, checkpointing=True), share))
        candidates += [(dataclasses.replace(layout, stage=stage), share) for stage in range(layout.stage + 1, 4)]
        candidates += [(lay, share) for lay in _smaller_micro_batches(layout)]
        combined = dataclasses.replace(layout, checkpointing=True, stage=3)
        candidates += [(lay, share) for lay in (combined, *_smaller_micro_batches(combined))]
        if shape.rollout:
            candidates += [
                (lay, more) for lay, _ in [(layout, None), *candidates] for more in (0.4, 0.5, 0.6, 0.7) if more > share
            ]
        for lay, sh in candidates:
            if evaluate(lay, sh):
                fix, chosen = _change_label(layout, lay, share, sh), lay
                share = sh
                break
        else:
            fix = "none found"
    final_shape = dataclasses.replace(shape, rollout=(shape.rollout[0], shape.rollout[1], share)) if share else shape
    mem = _train_memory(shape, layout)  # as configured: what the row reports
    if shape.rollout and not _rollout_fits(shape, g, shape.rollout[2]):
        notes.append(
            f"colocated vLLM: {shape.rollout[2]:.0%} of the GPU does not hold the policy and one sequence's KV cache"
        )
    if fix and fix != "none found":
        peak = _train_memory(final_shape, chosen).peak(g)
        notes.append(f"with the fix: {peak:.1f} GiB per GPU, layout {chosen.describe()}, ZeRO {chosen.stage}")
    return StagePlan(
        stage=name,
        kind="train",
        checkpoint=shape.facts.checkpoint,
        layout=layout.describe(),
        zero=layout.stage,
        checkpointing=layout.checkpointing,
        seq=shape.seq,
        total_params=shape.total + shape.frozen_replica + shape.reference,
        trainable_params=shape.trainable,
        memory=mem,
        peak_gib=mem.peak(g),
        gpu_gib=g.memory_gib,
        fits=not fix,
        tokens_per_step=layout.global_batch * shape.seq,
        step_seconds=_step_seconds(final_shape, chosen, g),
        steps=steps,
        fix=fix,
        notes=notes,
    )


def plan_generation(
    name: str,
    facts: ModelFacts,
    g: Gpu,
    gpus: int,
    *,
    batch: int,
    prompt: int,
    new_tokens: int,
    tensor_parallel: int = 1,
    memory_utilization: float | None = None,
    max_model_len: int | None = None,
    samples: int = 1,
) -> StagePlan:
    """A generation stage: one bf16 replica per ``tensor_parallel`` GPUs, data-parallel over the rest.

    HF ``generate`` (``memory_utilization`` None): weights + the batch's KV cache at full length + the last
    position's fp32 logits. vLLM: it fits when the weights leave room in ``memory_utilization`` of the GPU for
    the KV cache of one ``max_model_len`` sequence (what vLLM checks at start); the batch then runs as many
    sequences at once as that cache holds, up to ``batch`` items x ``samples`` (vLLM's ``n``).
    """
    seq = prompt + new_tokens
    notes: list[str] = []
    replicas = gpus // tensor_parallel
    weights = 2 * facts.total // tensor_parallel
    kv_token = facts.kv_bytes_per_token // tensor_parallel
    if replicas < 1:
        mem = Memory(0, weights, 0, 0)
        return StagePlan(
            name,
            "generate",
            facts.checkpoint,
            f"tp {tensor_parallel}",
            None,
            None,
            seq,
            facts.total,
            0,
            mem,
            mem.peak(g),
            g.memory_gib,
            False,
            0,
            math.inf,
            None,
            f"tensor_parallel_size <= {gpus}",
            [f"tensor parallel {tensor_parallel} needs {tensor_parallel} GPUs"],
        )
    if memory_utilization is None:
        kv = batch * seq * kv_token
        mem = Memory(0, weights, 0, batch * facts.vocab * 4, kv_cache=kv)
        fits = _fits(mem, g)
        concurrent = batch
        layout = f"{batch}x{replicas}"
    else:
        budget = int(memory_utilization * g.memory_gib * GIB) - weights
        capacity = max(budget, 0) // kv_token
        fits = capacity >= (max_model_len or seq) and memory_utilization * g.memory_gib + RESERVED_GIB <= g.memory_gib
        concurrent = max(1, min(batch * samples, capacity // seq))
        mem = Memory(0, weights, 0, 0, kv_cache=max(budget, 0))
        layout = f"tp{tensor_parallel}x{replicas}"
        notes.append(f"vLLM KV cache holds {capacity} tokens: {capacity // seq} sequences of {seq} at once")
    flops_prefill = 2 * facts.total * concurrent * prompt / tensor_parallel
    prefill = flops_prefill / (g.bf16_tflops * 1e12 * MFU)
    kv_mean = concurrent * (prompt + new_tokens // 2) * kv_token
    step = decode_seconds(weights, kv_mean, 2 * facts.total * concurrent / tensor_parallel, g)
    batch_seconds = prefill + new_tokens * step
    batches = math.ceil(EVAL_ITEMS * samples / (concurrent * replicas))
    return StagePlan(
        stage=name,
        kind="generate",
        checkpoint=facts.checkpoint,
        layout=layout,
        zero=None,
        checkpointing=None,
        seq=seq,
        total_params=facts.total,
        trainable_params=0,
        memory=mem,
        peak_gib=mem.peak(g),
        gpu_gib=g.memory_gib,
        fits=fits,
        tokens_per_step=concurrent * seq,
        step_seconds=batches * batch_seconds,
        steps=None,
        fix="" if fits else "none found",
        notes=notes,
    )


# ---------------------------------------------------------------------------------------- from params


def _checkpoint_of(model: str, params, where: str) -> str:
    """The pinned checkpoint a stage's model name or path stands for (a stage output: the model it came from)."""
    from audioreason.models.paper_shape import CHECKPOINTS

    if model in CHECKPOINTS:
        return model
    sources = {
        "outputs/sft_cot/": params.sft_cot.base,
        "outputs/ser_finetune/": params.ser_finetune.base,
        "outputs/distill/": params.distill.student,
        "outputs/instruct_base/": None,
    }
    for prefix, base in sources.items():
        if model.startswith(prefix) and base in CHECKPOINTS:
            return base
    raise ValueError(f"{where}: {model!r} is neither a pinned checkpoint ({', '.join(CHECKPOINTS)}) nor a stage output")


def _trainer_default(cls_name: str, key: str):
    """TRL's default for a trainer key the params leave unset."""
    import trl

    fields = {f.name: f.default for f in dataclasses.fields(getattr(trl, cls_name))}
    return fields[key]


def distill_shapes(params) -> list[tuple[str, TrainShape, dict[str, Any], str]]:
    """Paper 01 Table 1 rows that train: student + W_i trained; teacher and (acoustic rows) S0 frozen replicas."""
    from audioreason.losses.layer_map import layer_map

    cfg = params.distill
    student = model_facts(_checkpoint_of(cfg.student, params, "distill.student"))
    teacher = model_facts(_checkpoint_of(cfg.teacher, params, "distill.teacher"))
    out = []
    for row_name, row in cfg.rows.items():
        if not row.train:
            continue
        pairs = layer_map(row.layers, student.decoder.layers, teacher.decoder.layers, cfg.skip_k)
        projections = len(pairs) * teacher.decoder.hidden * student.decoder.hidden
        s0 = student.without_head if row.acoustic and cfg.alpha_ac > 0 else 0
        uses_teacher = row.top > 0 or bool(pairs)
        seq = cfg.max_length
        # Teacher's bf16 logits over the sequence, and its hidden states when layer KD reads them.
        extra = seq * teacher.vocab * 2 if uses_teacher else 0
        if pairs:
            extra += (teacher.decoder.layers + 1) * seq * teacher.decoder.hidden * 2
        if s0:
            extra += (student.decoder.layers + 1) * seq * student.decoder.hidden * 2
        frozen_flops = (2 * teacher.total if uses_teacher else 0) + 2 * s0
        shape = TrainShape(
            facts=student,
            total=student.total + projections,
            trainable=student.total + projections,
            largest_module=student.largest_module,
            frozen_replica=teacher.total + s0,
            reference=0,
            seq=seq,
            loss_positions=seq,
            encoder_trained=True,
            extra_activation_bytes_per_seq=extra,
            frozen_flops_per_token=frozen_flops,
        )
        out.append((f"distill/{row_name}", shape, cfg.trainer, cfg.launch))
    return out


def lora_shape(facts: ModelFacts, lora, trainer: dict[str, Any]) -> TrainShape:
    """An SFT stage: LoRA on the decoder (``r: 0`` trains every parameter)."""
    trainable = lora_parameters(facts, lora.r, lora.target_modules) if lora.r else facts.total
    total = facts.total + (trainable if lora.r else 0)
    seq = int(trainer.get("max_length") or _trainer_default("SFTConfig", "max_length"))
    return TrainShape(
        facts=facts,
        total=total,
        trainable=trainable,
        largest_module=facts.largest_module,
        frozen_replica=0,
        reference=0,
        seq=seq,
        loss_positions=seq,
        encoder_trained=lora.r == 0,
        extra_activation_bytes_per_seq=0,
        frozen_flops_per_token=0,
    )


def grpo_shape(facts: ModelFacts, trainer: dict[str, Any], with_audio: bool) -> TrainShape:
    """A GRPO row: full fine-tuning, the reference model when beta > 0, rollouts in a colocated vLLM engine."""
    completion = int(trainer.get("max_completion_length") or _trainer_default("GRPOConfig", "max_completion_length"))
    prompt = PROMPT_TEXT_TOKENS + (audio_tokens(facts, AUDIO_SECONDS) if with_audio else 0)
    beta = float(trainer.get("beta", _trainer_default("GRPOConfig", "beta")))
    colocate = trainer.get("use_vllm") and trainer.get("vllm_mode", "server") == "colocate"
    share = float(
        trainer.get("vllm_gpu_memory_utilization", _trainer_default("GRPOConfig", "vllm_gpu_memory_utilization"))
    )
    reference = facts.total if beta > 0 else 0
    return TrainShape(
        facts=facts,
        total=facts.total,
        trainable=facts.total,
        largest_module=facts.largest_module,
        frozen_replica=0,
        reference=reference,
        seq=prompt + completion,
        loss_positions=completion,
        encoder_trained=with_audio,
        # The reference model's bf16 logits over the completion.
        extra_activation_bytes_per_seq=completion * facts.vocab * 2 if reference else 0,
        frozen_flops_per_token=2 * reference,
        rollout=(prompt, completion, share) if colocate else None,
    )


def _steps(trainer: dict[str, Any]) -> int | None:
    """``max_steps`` when the trainer sets it (> 0), else None (the stage counts epochs)."""
    steps = trainer.get("max_steps", -1)
    return int(steps) if steps and steps > 0 else None


def plan_params(params_path: str | Path, g: Gpu, gpus: int, *, root: Path | None = None) -> list[StagePlan]:
    """Every paper-scale training stage (rows that train) and generation stage of ``params_path`` on ``gpus`` x ``g``.

    Stages that train 0 steps (``max_steps: 0``) are left out; hosted teachers (``openai`` backend) use no GPU.

    Raises:
        ConfigError: the params file does not validate.
        ValueError: a stage's model or DeepSpeed config cannot be planned (the message names the field).
    """
    from audioreason.config import load_params

    params_path = Path(params_path)
    root = root or params_path.resolve().parent
    params = load_params(params_path)
    plans: list[StagePlan] = []
    training: list[tuple[str, TrainShape, dict[str, Any], str, list[str]]] = []
    for name, shape, trainer, launch in distill_shapes(params):
        training.append((name, shape, trainer, launch, ["steps: 3 epochs over D_text"] if not _steps(trainer) else []))
    for section in ("pretrain_student", "train_text_teacher", "instruct_base"):
        trainer = getattr(params, section).trainer
        if trainer.get("max_steps", -1) != 0:
            raise ValueError(f"{section}.trainer: only max_steps: 0 (given checkpoints) can be planned at paper scale")
    sft = params.sft_cot
    sft_facts = model_facts(_checkpoint_of(sft.base, params, "sft_cot.base"))
    for row_name, row in sft.rows.items():
        if row.train:
            training.append(
                (f"sft_cot/{row_name}", lora_shape(sft_facts, sft.lora, sft.trainer), sft.trainer, sft.launch, [])
            )
    for row_name, row in params.grpo.rows.items():
        if not row.train:
            continue
        trainer = {**params.grpo.recipes[row.paper].trainer, **row.trainer}
        facts = model_facts(_checkpoint_of(row.init, params, f"grpo.rows.{row_name}.init"))
        training.append(
            (f"grpo/{row_name}", grpo_shape(facts, trainer, row.with_audio), trainer, params.grpo.launch, [])
        )
    ser = params.ser_finetune
    if ser.trainer.get("max_steps", -1) != 0:
        ser_facts = model_facts(_checkpoint_of(ser.base, params, "ser_finetune.base"))
        training.append(("ser_finetune", lora_shape(ser_facts, ser.lora, ser.trainer), ser.trainer, "python", []))
    for name, shape, trainer, launch, notes in training:
        processes = launch_processes(launch)
        used = min(gpus, processes)
        if processes < gpus:
            notes = [*notes, f"launch starts {processes} process(es): {used} of the {gpus} GPUs used"]
        layout = resolve_layout(trainer, launch, used, name.split("/")[0], root=root)
        plans.append(plan_training(name, shape, layout, g, _steps(trainer), notes))
    plans.extend(_generation_plans(params, g, gpus))
    return plans


def _generation_plans(params, g: Gpu, gpus: int) -> list[StagePlan]:
    """Teacher generation (vLLM backends) and the evaluation stages (HF ``generate``, one replica per GPU)."""
    plans = []
    for stage in ("textualize_cota", "teacher_cot"):
        cfg = getattr(params, stage)
        spec = params.teachers[cfg.teacher]
        if spec.backend != "vllm":
            continue
        facts = model_facts(_checkpoint_of(spec.model, params, f"teachers.{cfg.teacher}.model"))
        o = spec.options
        plans.append(
            plan_generation(
                stage,
                facts,
                g,
                gpus,
                batch=spec.batch_size,
                prompt=PROMPT_TEXT_TOKENS
                + audio_tokens(facts, AUDIO_SECONDS)
                + (VIDEO_TOKENS if stage == "teacher_cot" else 0),
                new_tokens=cfg.sampling.max_tokens,
                samples=cfg.sampling.n,
                tensor_parallel=int(o["tensor_parallel_size"]),
                memory_utilization=float(o["gpu_memory_utilization"]),
                max_model_len=int(o["max_model_len"]),
            )
        )
    evals = [
        ("distill.eval", params.distill.student, params.distill.eval),
        ("sft_cot.eval", params.sft_cot.base, params.sft_cot.eval),
    ]
    seen = set()
    for row in params.grpo.rows.values():
        checkpoint = _checkpoint_of(row.init, params, "grpo.rows.init")
        if checkpoint not in seen:
            seen.add(checkpoint)
            evals.append((f"grpo.eval [{checkpoint.split('/')[1]}]", checkpoint, params.grpo.eval))
    evals.append(("evaluate", params.evaluate.model, params.evaluate))
    for name, model, cfg in evals:
        facts = model_facts(_checkpoint_of(model, params, f"{name.split()[0]} model"))
        plans.append(
            plan_generation(
                name,
                facts,
                g,
                gpus,
                batch=cfg.batch_size,
                prompt=PROMPT_TEXT_TOKENS + audio_tokens(facts, AUDIO_SECONDS),
                new_tokens=cfg.generation.max_new_tokens,
            )
        )
    return plans


# ---------------------------------------------------------------------------------------------- output


def _gb(b: float) -> str:
    """Bytes as GiB with one decimal."""
    return f"{b / GIB:.1f}"


def _count(n: int) -> str:
    """A parameter count in billions (or millions below 0.1 B)."""
    return f"{n / 1e9:.2f}B" if n >= 1e8 else f"{n / 1e6:.1f}M"


def _hours(p: StagePlan) -> str:
    """Train: total hours ("-" for epoch-counted stages); generate: hours per :data:`EVAL_ITEMS` items."""
    if p.kind == "generate":
        return f"{p.step_seconds / 3600:.2f}/1k"
    return "-" if p.total_hours is None else f"{p.total_hours:.1f}"


COLUMNS = (
    "stage", "model", "layout", "ZeRO", "GC", "seq", "params", "train", "states", "frozen", "act", "logits",
    "kv", "peak", "GiB", "fits", "tok/step", "step s", "hours", "fix",
)  # fmt: skip


def format_table(plans: list[StagePlan], g: Gpu, gpus: int) -> str:
    """The plan as one aligned plain-text table (memory in GiB per GPU), its notes and assumptions below."""
    rows = []
    for p in plans:
        m = p.memory
        rows.append(
            (
                p.stage,
                p.checkpoint.split("/")[1],
                p.layout,
                "-" if p.zero is None else str(p.zero),
                "-" if p.checkpointing is None else ("on" if p.checkpointing else "off"),
                str(p.seq),
                _count(p.total_params),
                _count(p.trainable_params) if p.trainable_params else "-",
                _gb(m.model_states),
                _gb(m.frozen),
                _gb(m.activations),
                _gb(m.logits),
                _gb(m.kv_cache),
                f"{p.peak_gib:.1f}",
                f"{p.gpu_gib:.0f}",
                "yes" if p.fits else "NO",
                f"{p.tokens_per_step:,}",
                f"{p.step_seconds:.1f}",
                _hours(p),
                p.fix,
            )
        )
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(COLUMNS)]
    lines = [f"{gpus} x {g.name} ({g.memory_gib:.0f} GiB, {g.bf16_tflops:g} TFLOP/s bf16, {g.bandwidth_tbs:g} TB/s)"]
    for r in (COLUMNS, *rows):
        lines.append("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    notes = [f"  {p.stage}: {n}" for p in plans for n in p.notes]
    if notes:
        lines += ["notes:", *notes]
    lines.append(
        f"assumptions: MFU {MFU:.0%}, decode at {BANDWIDTH_UTILIZATION:.0%} of memory bandwidth, {RESERVED_GIB:g} GiB "
        f"reserved per GPU, {AUDIO_SECONDS:g} s audio, {PROMPT_TEXT_TOKENS} prompt text tokens; generation rows: "
        f"step s and hours per {EVAL_ITEMS} items"
    )
    return "\n".join(lines)
