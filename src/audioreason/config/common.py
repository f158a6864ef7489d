"""Sections and types every paper shares.

The types several stages' sections nest (:class:`Generation`, the decoding settings of every
evaluation; :class:`LoraConfigSection`, the adapters of every LoRA fine-tune) and the
sections of the pipeline as a whole: ``models`` (the tiny models every paper starts from),
``report``, ``register`` and ``tracking``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from audioreason.config.schema import ConfigError, _positive

ModelName = Literal["qwen2_audio", "qwen2_5_omni_thinker", "qwen3"]
"""The keys of :data:`audioreason.models.factory.BUILDERS` (a unit test keeps them equal)."""


@dataclass(frozen=True)
class Generation:
    """Decoding settings of a model's answers (``model.generate``; paper 01 §4.3 samples with
    T=0.6, top-k 5, top-p 0.5). :class:`audioreason.evaluation.generate.GenerationSettings` is this class."""

    max_new_tokens: int
    """Most tokens generated per answer."""
    do_sample: bool
    """Sample (with the three settings below); false decodes greedily and ignores them."""
    temperature: float
    """Softmax temperature when sampling."""
    top_k: int
    """Sample among the k most likely tokens (when sampling)."""
    top_p: float
    """Sample within the smallest token set of this much probability (nucleus; when sampling)."""
    seed: int
    """Torch seed set before the first batch."""

    def __post_init__(self):
        _positive(self, "max_new_tokens")

    def generate_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``model.generate``: the sampling settings only when sampling.

        >>> Generation(8, False, 0.6, 5, 0.5, 0).generate_kwargs()
        {'max_new_tokens': 8, 'do_sample': False}
        """
        kw: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "do_sample": self.do_sample}
        if self.do_sample:
            kw.update(temperature=self.temperature, top_k=self.top_k, top_p=self.top_p)
        return kw


EvalEngineName = Literal["transformers", "vllm"]
"""What generates an evaluation's answers (:func:`audioreason.evaluation.generate.load_eval_model`)."""

VllmDtype = Literal["auto", "half", "float16", "bfloat16", "float", "float32"]
"""The dtypes :data:`audioreason.teachers.vllm_backend.DTYPES` allows (a unit test keeps them equal)."""


@dataclass(frozen=True)
class EvalVllmEngine:
    """The offline ``vllm.LLM`` of an evaluation run with ``engine: vllm`` (built into
    :class:`audioreason.teachers.vllm_backend.VllmOptions`, one clip per prompt, no video)."""

    tensor_parallel_size: int
    """GPUs one checkpoint is sharded over (tensor parallelism); 1 for a 7B model on one 80 GB GPU."""
    gpu_memory_utilization: float
    """Fraction of the GPU's memory vLLM takes for weights, activations and KV cache, in (0, 1]."""
    max_model_len: int
    """Context length in tokens: the prompt, its audio tokens (750 for a 30 s clip) and ``max_new_tokens``."""
    dtype: VllmDtype
    """Weight and activation dtype (``auto``: the checkpoint's)."""

    def __post_init__(self):
        _positive(self, "tensor_parallel_size", "max_model_len")
        if not 0 < self.gpu_memory_utilization <= 1:
            raise ConfigError(
                f"EvalVllmEngine.gpu_memory_utilization must lie in (0, 1], got {self.gpu_memory_utilization}"
            )


def check_vllm_context(engine: str, vllm: EvalVllmEngine, generation: Generation) -> None:
    """An ``eval`` section's check: with ``engine: vllm`` the context must hold a prompt beside the answer.

    Raises:
        ConfigError: ``vllm.max_model_len`` is not above ``generation.max_new_tokens``.
    """
    if engine == "vllm" and vllm.max_model_len <= generation.max_new_tokens:
        raise ConfigError(
            f"vllm.max_model_len ({vllm.max_model_len}) leaves no room for a prompt beside "
            f"generation.max_new_tokens ({generation.max_new_tokens})"
        )


@dataclass(frozen=True)
class LoraConfigSection:
    """LoRA adapters (PEFT); ``r: 0`` trains all parameters instead."""

    r: int
    """Adapter rank (0: no adapters, full fine-tuning)."""
    alpha: int
    """LoRA scaling numerator (the update is scaled by ``alpha / r``)."""
    dropout: float
    """Dropout on the adapters' input."""
    target_modules: list[str]
    """Names of the linear layers that get adapters (``q_proj``, ...)."""
    modules_to_save: list[str]
    """Modules trained in full beside the adapters (PEFT ``modules_to_save``); ``[]`` in the papers."""


@dataclass(frozen=True)
class TokenizerConfig:
    """Byte-level BPE tokenizer trained offline on the world's text (tiny scale)."""

    vocab_size: int
    """Vocabulary size, special tokens included."""
    min_frequency: int
    """Fewest occurrences for a merge to be learned."""


@dataclass(frozen=True)
class FeatureExtractorConfig:
    """``WhisperFeatureExtractor`` settings (log-mel front end of Qwen2-Audio / Omni)."""

    feature_size: int
    """Mel bins: 80 in the default extractor, 128 in the real Qwen2-Audio."""
    sampling_rate: int
    """Sample rate the extractor expects, Hz (clips are resampled to it on load)."""
    chunk_length: int
    """Seconds every clip is padded/cut to (30 in the real models)."""
    hop_length: int
    """STFT hop, samples (160: 10 ms at 16 kHz, 100 mel frames a second)."""


@dataclass(frozen=True)
class AudioEncoderConfig:
    """Whisper-style audio tower shared by the Qwen2-Audio and Omni thinker tiny configs."""

    d_model: int
    """Width of the encoder layers."""
    encoder_layers: int
    """Transformer layers of the encoder."""
    encoder_attention_heads: int
    """Attention heads per encoder layer."""
    encoder_ffn_dim: int
    """Feed-forward width of the encoder layers."""


@dataclass(frozen=True)
class TextDecoderConfig:
    """Qwen2 / Qwen3 text decoder sizes."""

    hidden_size: int
    """Width of the decoder layers."""
    intermediate_size: int
    """Feed-forward (MLP) width."""
    num_hidden_layers: int
    """Decoder layers (L_S or L_T of paper 01 eq. 4)."""
    num_attention_heads: int
    """Query heads per layer."""
    num_key_value_heads: int
    """Key/value heads per layer (grouped-query attention)."""
    max_position_embeddings: int
    """Longest sequence the rotary embeddings are sized for, tokens."""


@dataclass(frozen=True)
class ModelsConfig:
    """Tiny random-init models of the real architectures, saved like real checkpoints.

    ``build`` names which of ``qwen2_audio``, ``qwen2_5_omni_thinker``, ``qwen3`` the
    ``models`` stage writes to ``outputs/models/<name>/``; at paper scale it is empty and
    the training stages read real checkpoints (local path or hub id) from their own
    ``model`` key.
    """

    seed: int
    """Seed of the random initialisation."""
    build: list[ModelName]
    """The models to write (``[]`` at paper scale, where real checkpoints are read instead)."""
    tokenizer: TokenizerConfig
    """The tokenizer every tiny model shares."""
    feature_extractor: FeatureExtractorConfig
    """The audio models' log-mel front end."""
    audio_encoder: AudioEncoderConfig
    """The audio models' audio tower."""
    text_decoder: TextDecoderConfig
    """The audio models' decoder (Qwen2-Audio, the Omni thinker: the students)."""
    teacher_text_decoder: TextDecoderConfig
    """Qwen3's decoder (paper 01's textual teacher): deeper and wider than the student, as
    Qwen3-8B (36 layers, 4096) is than the Omni-7B thinker (28 layers, 3584), so the layer
    map of eq. 4 and the projections W_i have work to do."""


@dataclass(frozen=True)
class TrackingConfig:
    """MLflow conventions."""

    uri: str
    """Tracking URI; ``sqlite:///mlflow.db`` is the store at the repository root."""
    experiment: str
    """Base name: each paper's runs go to ``<experiment>-p0N``, the report's to ``<experiment>``."""
    scale: Literal["tiny", "paper"]
    """``tiny`` or ``paper``: a tag on every run and the heading of the report's tables (a label, never a branch)."""


@dataclass(frozen=True)
class ReportConfig:
    """The paper-vs-run report (:mod:`audioreason.evaluation.paper_tables`)."""

    metrics_dir: str
    """Where the runs' ``<stage>/<row>.json`` metrics are."""
    scale_note: str
    """One sentence under the title: what this scale is."""


@dataclass(frozen=True)
class RegisterSpec:
    """One paper's champion: the candidates that compete and the metric that picks one."""

    name: str
    """Registered model name."""
    metric: str
    """The validation metric that picks the best candidate (higher is better)."""
    candidates: list[str]
    """``<stage>/<row>`` whose ``metrics/<stage>/<row>.json`` and ``outputs/<stage>/<row>/model`` compete."""


@dataclass(frozen=True)
class RegisterConfig:
    """Each paper's champion in the Model Registry (:mod:`audioreason.stages.register`)."""

    models: dict[str, RegisterSpec]
    """Paper (``p02``, ``p03``) -> its champion's registration."""
