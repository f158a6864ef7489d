"""Model + processor factory: tiny random-init models of the real architectures, or real checkpoints.

Tiny scale builds, from ``params.yaml`` ``models``:

- ``qwen2_audio``: ``Qwen2AudioForConditionalGeneration`` (papers 02, 03 students);
- ``qwen2_5_omni_thinker``: ``Qwen2_5OmniThinkerForConditionalGeneration`` (paper 01
  student, paper 03 policy);
- ``qwen3``: ``Qwen3ForCausalLM`` (paper 01 text teacher);

each saved with ``save_pretrained`` next to its processor (or tokenizer), so every later
stage loads it with :func:`load_model` exactly like a real checkpoint. Paper scale skips
building and points the stages at a local path or hub id instead.

Two facts of transformers 5.23 shape this module: ``Qwen2_5OmniProcessor`` imports
torchvision (which this CPU environment must not have), and ``Qwen2AudioProcessor``
gives the thinker the same audio-token count from the same Whisper features, so the
thinker is saved with a ``Qwen2AudioProcessor``; and the thinker config has no
``vision_start_token_id``, which its rope index code reads, so it is set explicitly.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoProcessor,
    AutoTokenizer,
    Qwen2_5OmniThinkerForConditionalGeneration,
    Qwen2AudioConfig,
    Qwen2AudioEncoderConfig,
    Qwen2AudioForConditionalGeneration,
    Qwen2AudioProcessor,
    Qwen2Config,
    Qwen3Config,
    Qwen3ForCausalLM,
    WhisperFeatureExtractor,
)
from transformers.models.qwen2_5_omni.configuration_qwen2_5_omni import (
    Qwen2_5OmniAudioEncoderConfig,
    Qwen2_5OmniTextConfig,
    Qwen2_5OmniThinkerConfig,
    Qwen2_5OmniVisionEncoderConfig,
)

from audioreason.config import ModelsConfig
from audioreason.models import tokenizer as tk

ARCHITECTURES = {
    "Qwen2AudioForConditionalGeneration": Qwen2AudioForConditionalGeneration,
    "Qwen2_5OmniThinkerForConditionalGeneration": Qwen2_5OmniThinkerForConditionalGeneration,
    "Qwen3ForCausalLM": Qwen3ForCausalLM,
}


def build_feature_extractor(cfg: ModelsConfig) -> WhisperFeatureExtractor:
    fe = cfg.feature_extractor
    return WhisperFeatureExtractor(
        feature_size=fe.feature_size,
        sampling_rate=fe.sampling_rate,
        hop_length=fe.hop_length,
        chunk_length=fe.chunk_length,
    )


def build_processor(cfg: ModelsConfig, tokenizer) -> Qwen2AudioProcessor:
    return Qwen2AudioProcessor(
        feature_extractor=build_feature_extractor(cfg), tokenizer=tokenizer, chat_template=tk.CHAT_TEMPLATE
    )


def _encoder_positions(cfg: ModelsConfig) -> int:
    """Whisper encoder positions = mel frames / 2 (its stride-2 conv)."""
    fe = cfg.feature_extractor
    frames = fe.chunk_length * fe.sampling_rate // fe.hop_length
    return frames // 2


def _encoder_kwargs(cfg: ModelsConfig) -> dict[str, Any]:
    """Whisper-style audio tower sizes, shared by the Qwen2-Audio and Omni thinker configs."""
    return dict(
        dataclasses.asdict(cfg.audio_encoder),
        num_mel_bins=cfg.feature_extractor.feature_size,
        max_source_positions=_encoder_positions(cfg),
    )


def _token_ids(tokenizer) -> dict[str, int]:
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in tk.SPECIAL_TOKENS}
    ids["vocab_size"] = len(tokenizer)
    return ids


def _text_kwargs(cfg: ModelsConfig, ids: dict[str, int], teacher: bool = False) -> dict[str, Any]:
    d = dataclasses.asdict(cfg.teacher_text_decoder if teacher else cfg.text_decoder)
    eos = ids[tk.ENDOFTEXT]
    return dict(
        d,
        vocab_size=ids["vocab_size"],
        pad_token_id=eos,
        eos_token_id=[ids[tk.IM_END], eos],
        bos_token_id=None,
        tie_word_embeddings=True,
    )


def qwen2_audio_config(cfg: ModelsConfig, tokenizer) -> Qwen2AudioConfig:
    ids = _token_ids(tokenizer)
    audio = Qwen2AudioEncoderConfig(**_encoder_kwargs(cfg))
    text = Qwen2Config(**_text_kwargs(cfg, ids))
    return Qwen2AudioConfig(audio_config=audio, text_config=text, audio_token_index=ids[tk.AUDIO])


def omni_thinker_config(cfg: ModelsConfig, tokenizer) -> Qwen2_5OmniThinkerConfig:
    ids = _token_ids(tokenizer)
    dec = cfg.text_decoder
    # The thinker's tower projects straight to the decoder width; one attention window per clip.
    audio = Qwen2_5OmniAudioEncoderConfig(
        **_encoder_kwargs(cfg), n_window=_encoder_positions(cfg), output_dim=dec.hidden_size
    )
    # mrope splits each head's rotary half-dimension into (temporal, height, width).
    half = dec.hidden_size // dec.num_attention_heads // 2
    t_part = half - 2 * (half // 4)
    text_kwargs = _text_kwargs(cfg, ids)
    text_kwargs["rope_parameters"] = {
        "rope_type": "default",
        "rope_theta": 1_000_000.0,
        "mrope_section": [t_part, half // 4, half // 4],
    }
    text = Qwen2_5OmniTextConfig(**text_kwargs)
    # The vision tower is never fed at this scale; keep it as small as the class allows.
    vision = Qwen2_5OmniVisionEncoderConfig(
        depth=1,
        hidden_size=16,
        intermediate_size=32,
        num_heads=2,
        out_hidden_size=dec.hidden_size,
        fullatt_block_indexes=[0],
    )
    config = Qwen2_5OmniThinkerConfig(
        audio_config=audio,
        vision_config=vision,
        text_config=text,
        audio_token_index=ids[tk.AUDIO],
        image_token_index=ids[tk.IMAGE],
        video_token_index=ids[tk.VIDEO],
        audio_start_token_id=ids[tk.AUDIO_BOS],
        audio_end_token_id=ids[tk.AUDIO_EOS],
        user_token_id=tokenizer.convert_tokens_to_ids("user") if "user" in tokenizer.get_vocab() else ids[tk.IM_START],
    )
    config.vision_start_token_id = ids[tk.VISION_BOS]
    return config


def qwen3_config(cfg: ModelsConfig, tokenizer) -> Qwen3Config:
    ids = _token_ids(tokenizer)
    kw = _text_kwargs(cfg, ids, teacher=True)
    kw["head_dim"] = cfg.teacher_text_decoder.hidden_size // cfg.teacher_text_decoder.num_attention_heads
    return Qwen3Config(**kw)


BUILDERS = {
    "qwen2_audio": (qwen2_audio_config, Qwen2AudioForConditionalGeneration),
    "qwen2_5_omni_thinker": (omni_thinker_config, Qwen2_5OmniThinkerForConditionalGeneration),
    "qwen3": (qwen3_config, Qwen3ForCausalLM),
}


def build_tiny_model(name: str, cfg: ModelsConfig, tokenizer, out_dir: str | Path) -> dict[str, Any]:
    """Build random-init model ``name``, save it with its processor/tokenizer to ``out_dir``.

    Returns a summary (architecture, parameter count) for the manifest and MLflow.
    """
    make_config, cls = BUILDERS[name]
    torch.manual_seed(cfg.seed)
    model = cls(make_config(cfg, tokenizer))
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = [tokenizer.convert_tokens_to_ids(tk.IM_END), tokenizer.eos_token_id]
    out = Path(out_dir)
    model.save_pretrained(out)
    if name == "qwen3":
        tokenizer.save_pretrained(out)
    else:
        build_processor(cfg, tokenizer).save_pretrained(out)
    return {
        "name": name,
        "architecture": cls.__name__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "path": str(out),
    }


def load_model(path_or_id: str, *, dtype: torch.dtype = torch.float32):
    """Load model + processor (or tokenizer for text-only models) from a local path or hub id.

    The architecture comes from the checkpoint's own config, as for a real checkpoint; a full
    Qwen2.5-Omni checkpoint (``Qwen/Qwen2.5-Omni-7B``) loads as its thinker.

    Raises:
        ValueError: the checkpoint's architecture is not one this package trains.
    """
    config = AutoConfig.from_pretrained(path_or_id)
    if config.model_type == "qwen2_5_omni":
        # A full Qwen2.5-Omni checkpoint (thinker + talker + token2wav): paper 01's student is its
        # thinker, whose weights sit under ``thinker.``; the talker's are left unread.
        model = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(
            path_or_id, config=config.thinker_config, key_mapping={r"^thinker\.": ""}, dtype=dtype
        )
        return model, AutoProcessor.from_pretrained(path_or_id)
    arch = (config.architectures or [None])[0]
    if arch not in ARCHITECTURES:
        raise ValueError(f"{path_or_id}: architecture {arch!r} is not one of {sorted(ARCHITECTURES)}")
    model = ARCHITECTURES[arch].from_pretrained(path_or_id, dtype=dtype)
    if arch == "Qwen3ForCausalLM":
        return model, AutoTokenizer.from_pretrained(path_or_id)
    return model, AutoProcessor.from_pretrained(path_or_id)


def load_checkpoint(checkpoint: Path, base: str | None = None):
    """A saved training checkpoint as ``(model, processor)``; a LoRA adapter is merged into ``base``.

    Raises:
        ValueError: ``checkpoint`` holds an adapter and no ``base`` is given.
    """
    checkpoint = Path(checkpoint)
    if (checkpoint / "adapter_config.json").is_file():
        from peft import PeftModel

        if base is None:
            raise ValueError(f"{checkpoint} holds a LoRA adapter: its base model must be given")
        model, processor = load_model(base)
        return PeftModel.from_pretrained(model, str(checkpoint)).merge_and_unload(), processor
    return load_model(str(checkpoint))
