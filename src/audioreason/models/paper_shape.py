"""The papers' checkpoints at their real shapes, with the depth cut: configs, models, tokenizers, processors.

``params.paper.yaml`` points the stages at four published checkpoints (paper 01 §4.2: Qwen2.5-Omni-7B's
thinker as student, Qwen3-8B as text teacher; paper 02 §4.1: Qwen2-Audio-7B-Instruct as student,
Qwen2.5-VL-32B-Instruct as vision teacher; paper 03 §III.A: Qwen2.5-Omni-7B as policy). None can be
downloaded here, so their published facts are pinned as data (``checkpoints/*.json``: config.json
values, the added-token table with ids, feature-extractor settings, chat-template facts and the
published parameter count, each with its source and revision) and this module rebuilds them.

What is real: every width (hidden, intermediate, heads, kv heads, head_dim, audio and vision towers),
the vocabulary (embedding rows), rope settings including ``mrope_section``, the token layout (every
added token at its published id above a 151,643-entry byte-level BPE), the chat template's audio
placeholder, system prompt and generation prompt, the audio window (128 mel bins; 30 s / 3000 frames
for Qwen2-Audio, 300 s / 30000 frames for Omni) and the audio-token count per clip.

What is cut: depth only (``text_layers``, ``audio_layers``, ``vision_layers``), so one training step
runs at the real widths and token layouts on a CPU. The embedding and LM head are not cut (about
0.55 G parameters each for the 7B models), because the vocabulary is part of what must be checked.

What is not real: the BPE merges. The published merges cannot be downloaded; one byte-level BPE is
trained on a fixed corpus and shared by every checkpoint (as the real Qwen2 BPE is), padded with
unreachable filler entries up to id 151642, so the same text has the same ids in every checkpoint's
tokenizer wherever the added tokens agree, and a token id means the same thing as in the real table
for every added token.

Two facts of transformers 5.23 shape the processors. ``Qwen2_5OmniProcessor.__init__`` checks its
``video_processor`` against the auto video-processor mapping, which without torchvision is a
placeholder (``AttributeError: ... VIDEO_PROCESSOR_MAPPING has no attribute '_extra_content'``;
``video_processor=None`` is refused with a ``TypeError``), and its only video processor class,
``Qwen2VLVideoProcessor``, requires torchvision, which this stack must not install. So the Omni
checkpoint gets a ``Qwen2AudioProcessor`` with Omni's own Whisper settings (300 s window) and Omni's
chat template. Both processors replace each ``<|AUDIO|>`` by ``((L - 1) // 2 + 1 - 2) // 2 + 1``
copies, ``L`` = valid mel frames (``feature_attention_mask.sum()``), and keep the template's
``<|audio_bos|>``/``<|audio_eos|>``: 50 tokens for 2 s, 750 for 30 s. What differs between the two
checkpoints is the template (Qwen2-Audio writes ``Audio 1: `` before and a newline after the
placeholder, Omni writes the bare ``<|audio_bos|><|AUDIO|><|audio_eos|>``) and the padded window
(3000 vs 30000 frames). Second, the Omni thinker config has no ``vision_start_token_id`` field,
which its rope index code reads, so it is set from the pinned value.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from tokenizers import AddedToken, Regex, Tokenizer, models, pre_tokenizers, trainers
from transformers import (
    PretrainedConfig,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2_5OmniThinkerForConditionalGeneration,
    Qwen2AudioConfig,
    Qwen2AudioEncoderConfig,
    Qwen2AudioForConditionalGeneration,
    Qwen2AudioProcessor,
    Qwen2Config,
    Qwen2Tokenizer,
    Qwen3Config,
    Qwen3ForCausalLM,
    WhisperFeatureExtractor,
)
from transformers.initialization import no_init_weights
from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX
from transformers.models.qwen2_5_omni.configuration_qwen2_5_omni import (
    Qwen2_5OmniAudioEncoderConfig,
    Qwen2_5OmniConfig,
    Qwen2_5OmniTextConfig,
    Qwen2_5OmniThinkerConfig,
    Qwen2_5OmniVisionEncoderConfig,
)

QWEN2_AUDIO = "Qwen/Qwen2-Audio-7B-Instruct"
QWEN2_5_OMNI = "Qwen/Qwen2.5-Omni-7B"
QWEN3 = "Qwen/Qwen3-8B"
QWEN2_5_VL = "Qwen/Qwen2.5-VL-32B-Instruct"
CHECKPOINTS = (QWEN2_AUDIO, QWEN2_5_OMNI, QWEN3, QWEN2_5_VL)
"""The hub ids pinned under ``checkpoints/``."""

MODEL_CLASSES = {
    QWEN2_AUDIO: Qwen2AudioForConditionalGeneration,
    QWEN2_5_OMNI: Qwen2_5OmniThinkerForConditionalGeneration,
    QWEN3: Qwen3ForCausalLM,
    QWEN2_5_VL: Qwen2_5_VLForConditionalGeneration,
}
"""The class this package loads for each checkpoint (Omni: its thinker)."""

AUDIO_CHECKPOINTS = (QWEN2_AUDIO, QWEN2_5_OMNI)


def _known(checkpoint: str) -> str:
    if checkpoint not in CHECKPOINTS:
        raise KeyError(f"{checkpoint!r} is not a pinned checkpoint; pinned: {', '.join(CHECKPOINTS)}")
    return checkpoint


@functools.cache
def _facts_text(checkpoint: str) -> str:
    name = checkpoint.split("/", 1)[1] + ".json"
    return resources.files("audioreason.models").joinpath("checkpoints", name).read_text(encoding="utf-8")


def facts(checkpoint: str) -> dict[str, Any]:
    """The pinned published facts of ``checkpoint`` (a fresh copy of ``checkpoints/<name>.json``).

    Raises:
        KeyError: ``checkpoint`` is not one of :data:`CHECKPOINTS` (the message lists them).
    """
    return json.loads(_facts_text(_known(checkpoint)))


# ---------------------------------------------------------------------------------------------- configs


def _cut(value: int, layers: int | None, what: str) -> int:
    if layers is None:
        return value
    if not 1 <= layers <= value:
        raise ValueError(f"{what} must be in 1..{value} (the published depth), got {layers}")
    return layers


def _rope(text: dict[str, Any]) -> dict[str, Any]:
    """``rope_parameters`` as transformers 5 reads them, from the published ``rope_theta``/``rope_scaling``."""
    rope = {"rope_type": "default", "rope_theta": float(text["rope_theta"])}
    scaling = text.get("rope_scaling") or {}
    if "mrope_section" in scaling:
        rope["mrope_section"] = list(scaling["mrope_section"])
    return rope


_TEXT_KEYS = (
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "hidden_act",
    "max_position_embeddings",
    "rms_norm_eps",
    "vocab_size",
    "tie_word_embeddings",
    "sliding_window",
    "use_sliding_window",
    "head_dim",
    "attention_bias",
    "bos_token_id",
    "eos_token_id",
)


def _text_kwargs(text: dict[str, Any], layers: int | None) -> dict[str, Any]:
    kw = {k: text[k] for k in _TEXT_KEYS if k in text}
    kw["num_hidden_layers"] = _cut(text["num_hidden_layers"], layers, "text_layers")
    # max_window_layers only matters with use_sliding_window, which every pinned checkpoint leaves off.
    kw["max_window_layers"] = kw["num_hidden_layers"]
    kw["rope_parameters"] = _rope(text)
    return kw


def _vision_kwargs(vision: dict[str, Any], layers: int | None) -> dict[str, Any]:
    keys = ("depth", "hidden_size", "hidden_act", "intermediate_size", "num_heads", "in_channels", "patch_size")
    keys += ("spatial_merge_size", "temporal_patch_size", "window_size", "out_hidden_size", "tokens_per_second")
    kw = {k: vision[k] for k in keys if k in vision}
    depth = _cut(vision["depth"], layers, "vision_layers")
    kw["depth"] = depth
    # Full-attention block indexes beyond the cut depth do not exist; keep the last block full so
    # every cut tower still has one global-attention block, as each real window of 8 blocks does.
    kept = [i for i in vision["fullatt_block_indexes"] if i < depth]
    kw["fullatt_block_indexes"] = kept or [depth - 1]
    return kw


def _qwen2_audio_config(f: dict[str, Any], text_layers, audio_layers, vision_layers) -> Qwen2AudioConfig:
    if vision_layers is not None:
        raise ValueError(f"{QWEN2_AUDIO} has no vision tower: vision_layers must be None")
    pub = f["config"]["published"]
    text = {**f["config"]["class_defaults"]["text_config"], **pub["text_config"]}
    audio = dict(pub["audio_config"])
    audio.pop("model_type")
    audio["encoder_layers"] = _cut(audio["encoder_layers"], audio_layers, "audio_layers")
    return Qwen2AudioConfig(
        audio_config=Qwen2AudioEncoderConfig(**audio),
        text_config=Qwen2Config(**_text_kwargs(text, text_layers)),
        audio_token_index=pub["audio_token_index"],
    )


def _omni_thinker_config(f: dict[str, Any], text_layers, audio_layers, vision_layers) -> Qwen2_5OmniThinkerConfig:
    pub = f["config"]["published"]
    audio = dict(pub["audio_config"])
    audio.pop("model_type")
    audio["encoder_layers"] = _cut(audio["encoder_layers"], audio_layers, "audio_layers")
    vision = _vision_kwargs(pub["vision_config"], vision_layers)
    text = _text_kwargs(pub["text_config"], text_layers)
    config = Qwen2_5OmniThinkerConfig(
        audio_config=Qwen2_5OmniAudioEncoderConfig(**audio),
        vision_config=Qwen2_5OmniVisionEncoderConfig(**vision),
        text_config=Qwen2_5OmniTextConfig(**text),
        audio_token_index=pub["audio_token_index"],
        image_token_index=pub["image_token_index"],
        video_token_index=pub["video_token_index"],
        audio_start_token_id=pub["audio_start_token_id"],
        audio_end_token_id=pub["audio_end_token_id"],
        user_token_id=pub["user_token_id"],
        position_id_per_seconds=pub["position_id_per_seconds"],
        seconds_per_chunk=pub["seconds_per_chunk"],
    )
    # Not a field of transformers 5.23's thinker config, but read by its rope index code.
    config.vision_start_token_id = pub["vision_start_token_id"]
    return config


def _qwen3_config(f: dict[str, Any], text_layers, audio_layers, vision_layers) -> Qwen3Config:
    if audio_layers is not None or vision_layers is not None:
        raise ValueError(f"{QWEN3} is text-only: audio_layers and vision_layers must be None")
    return Qwen3Config(**_text_kwargs(f["config"]["published"], text_layers))


def _qwen2_5_vl_config(f: dict[str, Any], text_layers, audio_layers, vision_layers) -> Qwen2_5_VLConfig:
    if audio_layers is not None:
        raise ValueError(f"{QWEN2_5_VL} has no audio tower: audio_layers must be None")
    pub = f["config"]["published"]
    return Qwen2_5_VLConfig(
        text_config=_text_kwargs(pub["text_config"], text_layers),
        vision_config=_vision_kwargs(pub["vision_config"], vision_layers),
        image_token_id=pub["image_token_id"],
        video_token_id=pub["video_token_id"],
        vision_start_token_id=pub["vision_start_token_id"],
        vision_end_token_id=pub["vision_end_token_id"],
        tie_word_embeddings=pub["text_config"]["tie_word_embeddings"],
    )


_CONFIGS = {
    QWEN2_AUDIO: _qwen2_audio_config,
    QWEN2_5_OMNI: _omni_thinker_config,
    QWEN3: _qwen3_config,
    QWEN2_5_VL: _qwen2_5_vl_config,
}


def paper_config(
    checkpoint: str,
    *,
    text_layers: int | None = None,
    audio_layers: int | None = None,
    vision_layers: int | None = None,
) -> PretrainedConfig:
    """The transformers config of the class loaded for ``checkpoint``, from the pinned published values.

    ``*_layers`` cut the depth of the text decoder, audio tower and vision tower (``None``: the published
    depth); nothing else changes, not the vocabulary, widths, token ids or audio window.

    Raises:
        KeyError: unknown checkpoint.
        ValueError: a depth outside ``1..published`` or for a tower the checkpoint does not have.
    """
    return _CONFIGS[_known(checkpoint)](facts(checkpoint), text_layers, audio_layers, vision_layers)


def build_model(
    checkpoint: str, *, device: str | torch.device = "meta", dtype: torch.dtype = torch.bfloat16, seed: int = 0, **depth
):
    """The model class of ``checkpoint`` at its paper shape, on ``device`` (``meta``: no storage at all).

    ``depth``: ``text_layers``/``audio_layers``/``vision_layers`` as for :func:`paper_config`. Off ``meta``
    the weights are random: norms 1, biases 0, every other weight from a seeded N(0, initializer_range^2)
    pool tiled over the tensor (transformers' own init draws each value and takes about 40 s for the
    1.4 G parameters of a depth-1 Omni thinker on 2 cores; tiling takes about a second).
    """
    config = paper_config(checkpoint, **depth)
    cls = MODEL_CLASSES[checkpoint]
    if torch.device(device).type == "meta":
        with torch.device("meta"):
            return cls._from_config(config, dtype=dtype)
    with no_init_weights(), torch.device(device):
        model = cls._from_config(config, dtype=dtype)
    _fill_random(model, std=getattr(config, "initializer_range", 0.02), seed=seed)
    return model


_POOL = 1 << 20


@torch.no_grad()
def _fill_random(model: torch.nn.Module, *, std: float, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    pool = (torch.randn(2 * _POOL, generator=g) * std).to(next(model.parameters()).dtype)
    step = 0
    for module in model.modules():
        is_norm = "Norm" in type(module).__name__
        for name, param in module.named_parameters(recurse=False):
            if name == "bias" or (is_norm and name != "weight"):
                param.zero_()
            elif is_norm:
                param.fill_(1.0)
            else:
                # One broadcast copy per tensor: the cost is the first touch of its pages, not Python.
                offset = (step * 7919) % _POOL  # a different window of the pool for each tensor
                window, flat = pool[offset : offset + _POOL], param.view(-1)
                rows, rest = divmod(flat.numel(), _POOL)
                flat[: rows * _POOL].view(rows, _POOL).copy_(window.expand(rows, _POOL))
                flat[rows * _POOL :].copy_(window[:rest])
                step += 1


def count_parameters(model: torch.nn.Module) -> int:
    """Distinct parameters (a tied embedding counts once); works on ``meta``."""
    return sum(p.numel() for p in model.parameters())


# -------------------------------------------------------------------------------------------- tokenizers

BASE_BPE_SIZE = 151643
"""Ids of the Qwen2 byte-level BPE (0..151642); every Qwen checkpoint's first added token is 151643."""

_BPE_MERGE_VOCAB = 2048
# A fixed corpus: what the shared BPE learns merges from. It only has to be fixed (ids are
# reproducible) and cover the package's prompt vocabulary, so prompts are not spelled byte by byte.
_BPE_CORPUS = (
    "The answer is (a). Question: what sound is heard in the audio clip? Choices: a dog barking, a bell "
    "ringing, water running, an engine idling, footsteps, a beep, speech, music, silence. "
    "<THINK> <PLANNING> </PLANNING> <CAPTION> </CAPTION> <REASONING> </REASONING> <SUMMARY> </SUMMARY> "
    "</THINK> <RESPONSE> </RESPONSE> <think> </think> <answer> </answer> "
    "First, I listen to the audio and describe what I hear. Then I compare it with each option, reason "
    "about the source, count the events, note their order and loudness, and choose the best answer. "
    "The speaker sounds happy, sad, angry, neutral, or surprised; the pitch is high or low, the energy "
    "loud or quiet, the rate fast or slow. The scene is a street, a park, a kitchen, an office, a station. "
    "The music has a slow tempo, a fast tempo, a piano, a guitar, a violin, drums, three notes, five notes. "
    "0 1 2 3 4 5 6 7 8 9 10 100 2025 1.5 dB SNR -5 +10 seconds minutes Hz kHz. "
    "You are a helpful assistant. Please answer the question about the audio. "
)


@functools.cache
def _base_bpe() -> tuple[tuple[tuple[str, int], ...], tuple[tuple[str, str], ...]]:
    """(vocab, merges) of the shared byte-level BPE: trained merges, then unreachable filler up to 151642."""
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=_BPE_MERGE_VOCAB,
        min_frequency=2,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator([_BPE_CORPUS] * 8, trainer=trainer)
    model = json.loads(bpe.to_str())["model"]
    vocab = dict(model["vocab"])
    merges = tuple(tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"])
    # Filler entries no merge produces ("Ā" is byte 0x00 in the byte-level alphabet, "#" never follows
    # it in a merge): they hold ids up to 151642 so added tokens land at their published ids.
    for i in range(len(vocab), BASE_BPE_SIZE):
        vocab[f"ĀĀ#{i}"] = i
    return tuple(vocab.items()), merges


def _chat_template(checkpoint: str, chat: dict[str, Any]) -> str:
    """A ChatML template writing the pinned system prompt, audio placeholder and generation prompt."""
    system = chat.get("system_prompt")
    default_system = (
        "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\n" + system + "<|im_end|>\n{% endif %}"
        if system
        else ""
    )
    if checkpoint == QWEN3:
        return (
            "{% set ns = namespace(last_user=-1) %}"
            "{% for message in messages %}{% if message['role'] == 'user' %}"
            "{% set ns.last_user = loop.index0 %}{% endif %}{% endfor %}"
            "{% for message in messages %}"
            "{% set content = message['content'] if message['content'] is string else "
            "message['content'] | selectattr('type', 'equalto', 'text') | map(attribute='text') | join('') %}"
            "{% if message['role'] == 'assistant' and '</think>' in content %}"
            "{% set reasoning = content.split('</think>')[0].split('<think>')[-1].strip('\n') %}"
            "{% set answer = content.split('</think>')[-1].lstrip('\n') %}"
            "{% if loop.index0 > ns.last_user %}"
            "<|im_start|>assistant\n<think>\n{{ reasoning }}\n</think>\n\n{{ answer }}<|im_end|>\n"
            "{% else %}<|im_start|>assistant\n{{ answer }}<|im_end|>\n{% endif %}"
            "{% else %}<|im_start|>{{ message['role'] }}\n{{ content }}<|im_end|>\n{% endif %}"
            "{% endfor %}"
            "{% if add_generation_prompt %}<|im_start|>assistant\n"
            "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n{% endif %}"
            "{% endif %}"
        )
    if checkpoint == QWEN2_AUDIO:
        audio = (
            "{% set audio_count.value = audio_count.value + 1 %}"
            "Audio {{ audio_count.value }}: <|audio_bos|><|AUDIO|><|audio_eos|>\n"
        )
        image = ""
    elif checkpoint == QWEN2_5_OMNI:
        audio = "<|audio_bos|><|AUDIO|><|audio_eos|>"
        image = "<|vision_bos|><|IMAGE|><|vision_eos|>"
    else:
        audio = ""
        image = "<|vision_start|><|image_pad|><|vision_end|>"
    return (
        "{% set audio_count = namespace(value=0) %}"
        "{% for message in messages %}" + default_system + "<|im_start|>{{ message['role'] }}\n"
        "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
        "{% else %}{% for content in message['content'] %}"
        "{% if content['type'] == 'audio' or 'audio' in content or 'audio_url' in content %}" + audio + ""
        "{% elif content['type'] == 'image' or 'image' in content %}" + image + ""
        "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
        "{% endfor %}<|im_end|>\n{% endif %}"
        "{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )


@functools.cache
def _base_tokenizer_json() -> str:
    """The shared BPE wrapped as ``Qwen2Tokenizer`` (it adds ``<|endoftext|>`` at 151643), serialised once."""
    vocab, merges = _base_bpe()
    return Qwen2Tokenizer(vocab=dict(vocab), merges=list(merges)).backend_tokenizer.to_str()


@functools.cache
def _tokenizer_json(checkpoint: str) -> tuple[str, dict[str, Any]]:
    f = facts(checkpoint)["tokenizer"]
    raw = Tokenizer.from_str(_base_tokenizer_json())
    for entry in f["added_tokens"]:
        if raw.token_to_id(entry["content"]) is None:
            token = AddedToken(entry["content"], special=entry["special"], normalized=False)
            (raw.add_special_tokens if entry["special"] else raw.add_tokens)([token])
        got = raw.token_to_id(entry["content"])
        if got != entry["id"]:
            raise AssertionError(f"{checkpoint}: {entry['content']} landed at {got}, published {entry['id']}")
    return raw.to_str(), f


def paper_tokenizer(checkpoint: str) -> Qwen2Tokenizer:
    """A ``Qwen2Tokenizer`` with ``checkpoint``'s real token layout and a chat template from the pinned facts.

    Ids 0..151642 are the shared offline BPE (see the module docstring); every pinned added token sits at
    its published id, so ``len(tokenizer)`` is the published length. A new object each call (cheap: the
    tokenizer is built once per checkpoint and copied from its serialised form).
    """
    text, f = _tokenizer_json(_known(checkpoint))
    tok = Qwen2Tokenizer(tokenizer_object=Tokenizer.from_str(text))
    tok.eos_token = f["eos_token"]
    tok.pad_token = f["pad_token"]
    if f["named_tokens"]:
        # Named multimodal tokens (tokenizer.audio_token, .audio_token_id, ...) as the published
        # tokenizer_config's model_specific_special_tokens declare them; the tokens already exist.
        tok._set_model_specific_special_tokens(special_tokens=dict(f["named_tokens"]))
    tok.chat_template = _chat_template(checkpoint, facts(checkpoint)["chat_template"])
    return tok


# -------------------------------------------------------------------------------------------- processors


def paper_feature_extractor(checkpoint: str) -> WhisperFeatureExtractor:
    """The checkpoint's published ``WhisperFeatureExtractor`` settings (128 mel bins, its audio window)."""
    fe = facts(_known(checkpoint))["feature_extractor"]
    if fe is None:
        raise ValueError(f"{checkpoint} takes no audio: it has no feature extractor")
    p = fe["published"]
    return WhisperFeatureExtractor(
        feature_size=p["feature_size"],
        sampling_rate=p["sampling_rate"],
        hop_length=p["hop_length"],
        chunk_length=p["chunk_length"],
        n_fft=p["n_fft"],
        padding_value=p["padding_value"],
        padding_side=p["padding_side"],
        return_attention_mask=p["return_attention_mask"],
        dither=p.get("dither", 0.0),
    )


def paper_processor(checkpoint: str):
    """What the stages get from ``AutoProcessor.from_pretrained`` for ``checkpoint``, from pinned settings.

    Qwen2-Audio: ``Qwen2AudioProcessor`` (128 mel bins, 30 s window). Omni: ``Qwen2AudioProcessor``
    with Omni's Whisper settings (300 s window) and Omni's template, since ``Qwen2_5OmniProcessor``
    cannot be built without torchvision (module docstring); the audio-token count is the same.
    Qwen3: its tokenizer (text-only, as :func:`audioreason.models.factory.load_model` returns).

    Raises:
        ValueError: Qwen2.5-VL, whose processor needs a torchvision video processor (it is a
            generation-only teacher, served by vLLM at paper scale).
    """
    if _known(checkpoint) == QWEN3:
        return paper_tokenizer(checkpoint)
    if checkpoint == QWEN2_5_VL:
        raise ValueError(
            f"{checkpoint}: Qwen2_5_VLProcessor needs Qwen2VLVideoProcessor, which needs torchvision; "
            "use paper_tokenizer() for its token layout"
        )
    tok = paper_tokenizer(checkpoint)
    return Qwen2AudioProcessor(
        feature_extractor=paper_feature_extractor(checkpoint), tokenizer=tok, chat_template=tok.chat_template
    )


def audio_token_count(n_frames: int) -> int:
    """Audio placeholders for ``n_frames`` valid mel frames (stride-2 conv, then the 2x pooling).

    >>> audio_token_count(200), audio_token_count(3000)
    (50, 750)
    """
    return ((n_frames - 1) // 2 + 1 - 2) // 2 + 1


# -------------------------------------------------------------------------------------------- checkpoints


def _save_omni_full_form(model, out: Path) -> None:
    """Write the thinker as a full Qwen2.5-Omni checkpoint holds it: weights under ``thinker.``.

    ``load_model`` then takes the same branch as for ``Qwen/Qwen2.5-Omni-7B`` (``model_type`` qwen2_5_omni,
    thinker read with ``key_mapping={"^thinker\\.": ""}``). There are no talker/token2wav weights, so
    ``enable_audio_output`` is off.
    """
    from safetensors.torch import save_file

    full = Qwen2_5OmniConfig(thinker_config=model.config.to_dict(), enable_audio_output=False)
    full.architectures = ["Qwen2_5OmniModel"]
    full.thinker_config.vision_start_token_id = model.config.vision_start_token_id
    full.save_pretrained(out)
    state = {f"thinker.{k}": v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})


def save_checkpoint(checkpoint: str, out_dir: str | Path, *, dtype: torch.dtype = torch.bfloat16, **depth) -> Path:
    """Save a random-init, depth-cut ``checkpoint`` with its processor/tokenizer, loadable by ``load_model``.

    ``audioreason.models.factory.load_model(out_dir)`` reads it exactly as the real checkpoint: the same
    config class, model class and processor class, in the same on-disk form (Omni: the full-model form).

    Raises:
        ValueError: Qwen2.5-VL, which ``load_model`` does not load (a vLLM-served teacher).
    """
    if _known(checkpoint) == QWEN2_5_VL:
        raise ValueError(f"{checkpoint} is served by vLLM at paper scale; load_model does not load it")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = build_model(checkpoint, device="cpu", dtype=dtype, **depth)
    tok = paper_tokenizer(checkpoint)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = [tok.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")]
    if checkpoint == QWEN2_5_OMNI:
        _save_omni_full_form(model, out)
        model.generation_config.save_pretrained(out)
    else:
        model.save_pretrained(out)
    paper_processor(checkpoint).save_pretrained(out)
    return out
