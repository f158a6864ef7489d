"""The audio GRPO trainer: the clip must reach the rollout, every log-prob forward and the gradient.

Each test here fails on TRL's stock ``GRPOTrainer`` behaviour (audio dropped from the
forward, or clips out of step with their completions).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audioreason.config import ConfigError, load_params
from audioreason.datasets.records import QARecord
from audioreason.models.factory import build_tiny_model, load_model
from audioreason.models.tokenizer import train_tokenizer
from audioreason.training.distill import audio_tower
from audioreason.training.grpo import AudioGRPOTrainer, build_grpo_config, grpo_dataset

REPO_ROOT = Path(__file__).resolve().parents[3]
PROMPT = "{question} Please choose the answer from the following options: {choices}"
ARCHS = ("qwen2_audio", "qwen2_5_omni_thinker")


def completion_length(completions, **kwargs):
    """A reward that differs inside every group, so advantages (and gradients) are non-zero."""
    return [float(len(c)) for c in completions]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    m = load_params(REPO_ROOT / "params.yaml", sections=["models"])["models"]
    small = dict(intermediate_size=64, num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512)
    cfg = dataclasses.replace(
        m,
        audio_encoder=dataclasses.replace(
            m.audio_encoder, d_model=16, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=32
        ),
        text_decoder=dataclasses.replace(m.text_decoder, hidden_size=32, num_hidden_layers=2, **small),
    )
    root = tmp_path_factory.mktemp("grpo")
    tok = train_tokenizer(
        [PROMPT.format(question="Which sound is heard?", choices="['dog', 'cat', 'bell']")] * 8,
        vocab_size=300,
        min_frequency=2,
    )
    paths = {n: build_tiny_model(n, cfg, tok, root / n)["path"] for n in ARCHS}
    t = np.arange(16000) / 16000
    clips = []
    for i, wave in enumerate(
        [
            0.3 * np.sin(2 * np.pi * 300 * t),
            0.3 * np.random.default_rng(0).standard_normal(16000),
            0.3 * np.sign(np.sin(2 * np.pi * 55 * t)),
        ]
    ):
        clips.append(str(root / f"clip{i}.wav"))
        sf.write(clips[-1], wave.astype(np.float32), 16000)
    return {**paths, "clips": clips, "root": root}


def records(tiny, n):
    return [
        QARecord(
            str(i),
            "avqa",
            "train",
            tiny["clips"][i % len(tiny["clips"])],
            f"Which sound is heard {i}?",
            ("dog", "cat", "bell"),
            ("dog", "cat", "bell")[i % 3],
        )
        for i in range(n)
    ]


def trainer_for(tiny, arch, *, beta=0.0, batch=4, steps_per_generation=2, group=4, max_steps=1, **extra):
    model, processor = load_model(tiny[arch])
    args = build_grpo_config(
        dict(
            max_steps=max_steps,
            per_device_train_batch_size=batch,
            steps_per_generation=steps_per_generation,
            num_generations=group,
            max_completion_length=6,
            learning_rate=1e-3,
            beta=beta,
            temperature=1.0,
            use_cpu=True,
            bf16=False,
            report_to="none",
            save_strategy="no",
            seed=0,
            **extra,
        ),
        str(tiny["root"] / f"out-{arch}"),
    )
    ds = grpo_dataset(records(tiny, 2), PROMPT)
    return AudioGRPOTrainer(
        model=model, args=args, reward_funcs=[completion_length], train_dataset=ds, processing_class=processor
    )


def grouped_rows(trainer, n_prompts=2, group=4):
    """The generation batch as TRL's sampler yields it: each prompt ``group`` times, consecutive."""
    rows = [trainer.train_dataset[i] for i in range(n_prompts)]
    return [dict(r) for r in rows for _ in range(group)]


def per_sample_logps(model, ids, feats, fmask, n):
    """Log-probs of an unpadded sequence's last ``n`` tokens by the model's plain forward (no trainer code)."""
    with torch.no_grad():
        logits = model(
            input_ids=ids[None],
            attention_mask=torch.ones_like(ids)[None],
            input_features=feats[None],
            feature_attention_mask=fmask[None],
        ).logits[0]
    logps = torch.log_softmax(logits[:-1].float(), -1).gather(-1, ids[1:, None])[:, 0]
    return logps[-n:]


@pytest.mark.parametrize("arch", ARCHS)
def test_log_probs_change_when_the_audio_is_swapped(tiny, arch):
    trainer = trainer_for(tiny, arch)
    out = trainer._generate_and_score_completions(grouped_rows(trainer))
    assert out["input_features"].shape[0] == 8
    ids = torch.cat([out["prompt_ids"], out["completion_ids"]], 1)
    mask = torch.cat([out["prompt_mask"], out["completion_mask"]], 1)
    keep = out["completion_ids"].shape[1]
    cm = out["completion_mask"].bool()

    def logps(features):
        with trainer._hearing({**out, "input_features": features}):
            return trainer._get_per_token_logps_and_entropies(trainer.model, ids, mask, keep)[0]

    heard = logps(out["input_features"])
    swapped = logps(out["input_features"].flip(0))  # rows 0-3 now hear prompt 1's clip and vice versa
    assert (heard - swapped)[cm].abs().max() > 1e-4
    assert torch.allclose(heard[cm], logps(out["input_features"])[cm])
    # The same completions scored as text only (TRL's stock path) are not what the trainer computes.
    with trainer._hearing({}):
        text_only = trainer._get_per_token_logps_and_entropies(trainer.model, ids, mask, keep)[0]
    assert (heard - text_only)[cm].abs().max() > 1e-4


@pytest.mark.parametrize("arch", ARCHS)
def test_gradients_reach_the_audio_encoder(tiny, arch):
    trainer = trainer_for(tiny, arch)
    out = trainer._generate_and_score_completions(grouped_rows(trainer))
    assert out["advantages"].abs().max() > 0
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1  # set by Trainer's training loop
    trainer.model.zero_grad()
    trainer._compute_loss(trainer.model, out).backward()
    tower = audio_tower(trainer.model)
    grads = [p.grad.abs().sum().item() for p in tower.parameters() if p.grad is not None]
    assert grads and sum(grads) > 0
    # Without the clip in the batch the audio encoder receives nothing.
    trainer.model.zero_grad()
    trainer._compute_loss(
        trainer.model, {k: v for k, v in out.items() if k not in ("input_features", "feature_attention_mask")}
    ).backward()
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in tower.parameters())


def test_batch_2_by_group_4_keeps_each_clip_with_its_completions(tiny):
    """Reference log-probs from the trainer (chunked by 4, beta > 0) equal a per-sample forward with the row's own clip,
    and after TRL's shuffle and split every micro-batch row still carries its own prompt's features."""
    trainer = trainer_for(tiny, "qwen2_audio", beta=0.04)
    rows = grouped_rows(trainer)
    out = trainer._generate_and_score_completions(rows)
    ids = torch.cat([out["prompt_ids"], out["completion_ids"]], 1)
    mask = torch.cat([out["prompt_mask"], out["completion_mask"]], 1)
    for i in range(8):
        n = int(out["completion_mask"][i].sum())
        expected = per_sample_logps(
            trainer.ref_model, ids[i][mask[i].bool()], out["input_features"][i], out["feature_attention_mask"][i], n
        )
        assert torch.allclose(out["ref_per_token_logps"][i][:n], expected, atol=1e-4), i
    # The features of prompt 0 (rows 0-3) and prompt 1 (rows 4-7) differ; the trainer's buffered micro-batches keep
    # each row's features with that row's prompt.
    by_prompt = {
        tuple(out["prompt_ids"][i][out["prompt_mask"][i].bool()].tolist()): out["input_features"][i] for i in (0, 4)
    }
    assert not torch.equal(*by_prompt.values())
    trainer.model.train()
    trainer._step, trainer._buffered_inputs = 0, None
    first = trainer._prepare_inputs(rows)
    second = trainer._buffered_inputs[1]
    for micro in (first, second):
        assert micro["input_features"].shape[0] == 4
        for j in range(4):
            key = tuple(micro["prompt_ids"][j][micro["prompt_mask"][j].bool()].tolist())
            assert torch.equal(micro["input_features"][j], by_prompt[key])


def test_two_steps_train_and_log_rewards(tiny):
    trainer = trainer_for(tiny, "qwen2_audio", beta=0.04, max_steps=2, logging_steps=1, batch=8, steps_per_generation=1)
    trainer.train()
    logged = [h for h in trainer.state.log_history if "loss" in h]
    assert len(logged) == 2 and all("rewards/completion_length/mean" in h and "kl" in h for h in logged)


def test_text_only_rows_train_without_features(tiny):
    model, processor = load_model(tiny["qwen2_5_omni_thinker"])
    args = build_grpo_config(
        dict(
            max_steps=1,
            per_device_train_batch_size=4,
            num_generations=4,
            max_completion_length=4,
            use_cpu=True,
            bf16=False,
            report_to="none",
            save_strategy="no",
        ),
        str(tiny["root"] / "text"),
    )
    ds = grpo_dataset(records(tiny, 1), PROMPT, with_audio=False)
    assert ds[0]["audio"] == ""
    trainer = AudioGRPOTrainer(
        model=model, args=args, reward_funcs=[completion_length], train_dataset=ds, processing_class=processor
    )
    out = trainer._generate_and_score_completions(grouped_rows(trainer, 1))
    assert "input_features" not in out
    audio_token = processor.tokenizer.convert_tokens_to_ids("<|AUDIO|>")
    assert not (out["prompt_ids"] == audio_token).any()


def test_a_batch_mixing_audio_and_text_rows_is_refused(tiny):
    trainer = trainer_for(tiny, "qwen2_audio")
    rows = grouped_rows(trainer)
    rows[5]["audio"] = ""
    with pytest.raises(ValueError, match="mixes rows with and without audio"):
        trainer._generate_and_score_completions(rows)


def test_config_errors_name_the_params_key():
    with pytest.raises(ConfigError, match="grpo.rows.x.trainer"):
        build_grpo_config({"num_generationz": 4}, "/tmp/x", where="grpo.rows.x.trainer")
    with pytest.raises(ConfigError, match="remove_unused_columns"):
        build_grpo_config({"remove_unused_columns": True}, "/tmp/x")


def test_lora_policy_with_beta_uses_the_adapter_free_model_as_reference(tiny):
    from peft import LoraConfig

    model, processor = load_model(tiny["qwen2_audio"])
    args = build_grpo_config(
        dict(
            max_steps=2,
            per_device_train_batch_size=8,
            num_generations=4,
            max_completion_length=6,
            learning_rate=1e-2,
            beta=0.04,
            use_cpu=True,
            bf16=False,
            report_to="none",
            save_strategy="no",
            logging_steps=1,
        ),
        str(tiny["root"] / "lora"),
    )
    trainer = AudioGRPOTrainer(
        model=model,
        args=args,
        reward_funcs=[completion_length],
        train_dataset=grpo_dataset(records(tiny, 2), PROMPT),
        processing_class=processor,
        peft_config=LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"),
    )
    assert trainer.ref_model is None  # the reference is the base with the adapter disabled
    trainer.train()
    logged = [h for h in trainer.state.log_history if "kl" in h]
    assert len(logged) == 2 and logged[-1]["kl"] > 0  # the adapter moved the policy away from the reference
    assert trainer.audio_rows_in_loss == 16
    trainable = {n for n, p in trainer.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)


def test_vllm_requests_carry_each_rows_waveform():
    from audioreason.training.grpo import completions_from_vllm, vllm_audio_requests

    waves = [(np.full(4, i, dtype=np.float32), 16000) for i in range(3)]
    requests = vllm_audio_requests([[1, 2], [3], [4, 5, 6]], waves)
    assert [r["prompt_token_ids"] for r in requests] == [[1, 2], [3], [4, 5, 6]]
    assert [float(r["multi_modal_data"]["audio"][0][0][0]) for r in requests] == [0.0, 1.0, 2.0]

    class Logprob:
        def __init__(self, v):
            self.logprob = v

    class Completion:
        def __init__(self, ids):
            self.token_ids = ids
            self.logprobs = [{t: Logprob(-0.1 * t), t + 1000: Logprob(-9.0)} for t in ids]

    class Output:
        def __init__(self, ids):
            self.outputs = [Completion(ids)]

    ids, logprobs = completions_from_vllm([Output([7, 8]), Output([9])])
    assert ids == [[7, 8], [9]]
    assert logprobs == [[pytest.approx(-0.7), pytest.approx(-0.8)], [pytest.approx(-0.9)]]  # the sampled token's


def test_vllm_server_mode_is_refused_with_the_reason(tiny):
    model, processor = load_model(tiny["qwen2_audio"])
    args = build_grpo_config(
        dict(
            max_steps=1,
            per_device_train_batch_size=4,
            num_generations=4,
            use_cpu=True,
            bf16=False,
            report_to="none",
            use_vllm=True,
            vllm_mode="server",
        ),
        str(tiny["root"] / "server"),
    )
    with pytest.raises(ValueError, match="colocate"):
        AudioGRPOTrainer(
            model=model,
            args=args,
            reward_funcs=[completion_length],
            train_dataset=grpo_dataset(records(tiny, 1), PROMPT),
            processing_class=processor,
        )


@pytest.mark.gpu
def test_colocated_vllm_rollouts_hear_the_clip(tiny):
    model, processor = load_model(tiny["qwen2_audio"])
    args = build_grpo_config(
        dict(
            max_steps=1,
            per_device_train_batch_size=8,
            num_generations=4,
            max_completion_length=6,
            report_to="none",
            use_vllm=True,
            vllm_mode="colocate",
            vllm_gpu_memory_utilization=0.2,
        ),
        str(tiny["root"] / "vllm"),
    )
    trainer = AudioGRPOTrainer(
        model=model,
        args=args,
        reward_funcs=[completion_length],
        train_dataset=grpo_dataset(records(tiny, 2), PROMPT),
        processing_class=processor,
    )
    trainer.train()
    assert trainer.audio_rows_in_loss == 8


# --- the objective: papers 02 eq. 2 and 03 eq. 3 ----------------------------------------------------------------
PARAMS_FILES = ("params.yaml", "params.paper.yaml")


def positional_reward(completions, **kwargs):
    """Known rewards by position in the generation batch (0, 1, 2, 0, 1, 2, ...), never constant within a group."""
    return [float((7 * i) % 3) for i in range(len(completions))]


def group_advantages(rewards: torch.Tensor, group: int) -> torch.Tensor:
    """Paper 03 eq. 1, ``(r_i - mean(r)) / std(r)`` within each group; std as TRL takes it (the sample std, n - 1)
    plus 1e-4 (the paper does not say which std, nor how a group of equal rewards is handled)."""
    g = rewards.view(-1, group)
    return ((g - g.mean(1, keepdim=True)) / (g.std(1, keepdim=True) + 1e-4)).flatten()


def hand_grpo_loss(
    policy, reference, batch, advantages, *, beta: float, epsilon: float, temperature: float
) -> torch.Tensor:
    """``-J_GRPO`` of paper 02 eq. 2 / paper 03 eq. 3, written out with plain per-sequence forwards (no trainer code).

    Each row is run unpadded with its own clip; ``pi_theta_old = pi_theta`` (first step, one iteration), so the
    ratio is 1 in value and carries the policy gradient; the KL is eq. 4 (k3, DeepSeekMath). The policies are read
    at the sampling temperature (``softmax(logits / T)``, the distribution the G outputs were drawn from, as TRL
    reads them; T 1.2 in paper 03 §IV.A). Returns the mean over the rows of
    (1/|o_i|) sum_t [min(rho A, clip(rho, 1 - eps, 1 + eps) A) - beta KL], negated.
    """
    ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], 1)
    mask = torch.cat([batch["prompt_mask"], batch["completion_mask"]], 1)
    per_sequence = []
    for i in range(ids.size(0)):
        n = int(batch["completion_mask"][i].sum())
        seq = ids[i][mask[i].bool()]  # the prompt without its padding, then the first n completion tokens

        def logps(model, seq=seq, i=i, n=n):
            logits = model(
                input_ids=seq[None],
                attention_mask=torch.ones_like(seq)[None],
                input_features=batch["input_features"][i][None],
                feature_attention_mask=batch["feature_attention_mask"][i][None],
            ).logits[0]
            logits = logits[:-1].float() / temperature
            return torch.log_softmax(logits, -1).gather(-1, seq[1:, None])[:, 0][-n:]  # [n]

        logp = logps(policy)
        with torch.no_grad():
            ref = logps(reference)
        ratio = torch.exp(logp - logp.detach())
        a = advantages[i]
        surrogate = torch.min(ratio * a, torch.clamp(ratio, 1 - epsilon, 1 + epsilon) * a)
        kl = torch.exp(ref - logp) - (ref - logp) - 1
        per_sequence.append((surrogate - beta * kl).mean())
    return -torch.stack(per_sequence).mean()


def recipe_trainer(tiny, recipe: str, **overrides):
    """``AudioGRPOTrainer`` with the tiny params' recipe as it is, but for short completions and no saving; its
    generation batch is 2 prompts x G (the recipe's batch)."""
    r = load_params(REPO_ROOT / "params.yaml", sections=["grpo"])["grpo"].recipes[recipe]
    trainer_args = {**r.trainer, "max_completion_length": 6, "max_steps": 1, "save_strategy": "no", **overrides}
    model, processor = load_model(tiny["qwen2_audio"])
    args = build_grpo_config(trainer_args, str(tiny["root"] / f"objective-{recipe}"))
    assert args.per_device_train_batch_size * args.steps_per_generation == 2 * args.num_generations
    return AudioGRPOTrainer(
        model=model,
        args=args,
        reward_funcs=[positional_reward],
        train_dataset=grpo_dataset(records(tiny, 2), r.prompt),
        processing_class=processor,
    )


def scored_batch(trainer):
    """One rollout of 2 prompts x G, with completions cut to unequal lengths (1..6 tokens) so that normalising per
    sequence (eq. 2) and per token (DAPO) differ, and the policy moved off the reference so that the KL acts."""
    group = trainer.num_generations
    out = trainer._generate_and_score_completions(grouped_rows(trainer, 2, group))
    lengths = torch.tensor([1 + (5 * i) % 6 for i in range(2 * group)])
    lengths = torch.minimum(lengths, out["completion_mask"].sum(1)).clamp(min=1)
    keep = torch.arange(out["completion_mask"].size(1))[None] < lengths[:, None]
    out["completion_mask"] = out["completion_mask"] * keep
    out["num_items_in_batch"] = out["completion_mask"].sum()
    assert len(set(out["completion_mask"].sum(1).tolist())) > 1
    torch.manual_seed(0)
    with torch.no_grad():
        for p in trainer.model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1  # set by Trainer's training loop
    return out


def loss_and_grads(loss: torch.Tensor, model) -> tuple[float, list[torch.Tensor]]:
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return loss.item(), [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]


def same_grads(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    scale = max(g.abs().max().item() for g in a)
    return all(torch.allclose(x, y, rtol=1e-4, atol=1e-5 * scale) for x, y in zip(a, b))


@pytest.mark.parametrize("recipe", ["p02", "p03"])
def test_the_recipes_loss_and_gradient_are_eq_2_by_hand(tiny, recipe):
    """The recipe's loss on a batch of G completions with known rewards equals eq. 2 computed by hand, in value and
    in gradient; TRL's defaults (DAPO, the ratio-weighted KL, the vLLM correction) would not."""
    trainer = recipe_trainer(tiny, recipe)
    assert (trainer.loss_type, trainer.scale_rewards, trainer.args.use_bias_correction_kl) == ("grpo", "group", False)
    assert trainer.args.vllm_importance_sampling_correction is False and trainer.beta == pytest.approx(0.04)
    group = trainer.num_generations
    out = scored_batch(trainer)
    advantages = group_advantages(torch.tensor(positional_reward([None] * 2 * group)), group)
    assert torch.allclose(out["advantages"], advantages, atol=1e-5)

    eq2 = hand_grpo_loss(
        trainer.model,
        trainer.ref_model,
        out,
        advantages,
        beta=trainer.beta,
        epsilon=trainer.args.epsilon,
        temperature=trainer.temperature,
    )
    hand_value, hand_grads = loss_and_grads(eq2, trainer.model)
    value, grads = loss_and_grads(trainer._compute_loss(trainer.model, out), trainer.model)
    assert value == pytest.approx(hand_value, rel=1e-4, abs=1e-6)
    assert same_grads(hand_grads, grads)
    kl = trainer._metrics["train"]["kl"][-1]
    assert kl > 1e-3  # the KL term is live: the policy is off the reference

    # TRL's default aggregation (DAPO: one token mean over the batch) gives another value on the same batch.
    trainer.loss_type = "dapo"
    dapo_value, _ = loss_and_grads(trainer._compute_loss(trainer.model, out), trainer.model)
    assert abs(dapo_value - hand_value) > 1e-3 * max(1.0, abs(hand_value))
    trainer.loss_type = "grpo"

    # TRL's default ratio-weighted KL keeps the value at ratio 1 but not the gradient of eq. 3's KL.
    trainer.args.use_bias_correction_kl = True
    weighted_value, weighted_grads = loss_and_grads(trainer._compute_loss(trainer.model, out), trainer.model)
    assert weighted_value == pytest.approx(hand_value, rel=1e-4, abs=1e-6) and not same_grads(
        hand_grads, weighted_grads
    )
    trainer.args.use_bias_correction_kl = False

    # Rollouts from vLLM: the recipe leaves the loss eq. 2; TRL's default correction rescales each sequence.
    trainer.use_vllm = True
    out["importance_sampling_ratio"] = torch.linspace(0.5, 1.5, 2 * group)[:, None]
    assert loss_and_grads(trainer._compute_loss(trainer.model, out), trainer.model)[0] == pytest.approx(
        hand_value, rel=1e-4, abs=1e-6
    )
    trainer.vllm_importance_sampling_correction = True
    corrected_value, _ = loss_and_grads(trainer._compute_loss(trainer.model, out), trainer.model)
    assert abs(corrected_value - hand_value) > 1e-3 * max(1.0, abs(hand_value))


@pytest.mark.parametrize("name", PARAMS_FILES)
def test_both_scales_state_the_papers_objective(name):
    """Every recipe, at both scales, optimises eqs. 2-3: the keys are set explicitly (TRL's defaults are not the
    papers') and equal across scales, so the tiny objective test covers the paper-scale recipes."""
    from audioreason.config.p02_p03 import GRPO_OBJECTIVE_KEYS
    from audioreason.training.grpo import objective_tags

    grpo = load_params(REPO_ROOT / name, sections=["grpo"])["grpo"]
    tiny = load_params(REPO_ROOT / "params.yaml", sections=["grpo"])["grpo"]
    for recipe, r in grpo.recipes.items():
        assert {k: r.trainer[k] for k in GRPO_OBJECTIVE_KEYS} == {
            "loss_type": "grpo",
            "scale_rewards": "group",
            "use_bias_correction_kl": False,
            "vllm_importance_sampling_correction": False,
        }, recipe
        assert r.trainer["beta"] == tiny.recipes[recipe].trainer["beta"] == 0.04
        assert r.trainer.get("num_iterations", 1) == 1  # pi_theta_old = pi_theta at each step's loss
        for row, spec in grpo.rows.items():
            if spec.paper == recipe:
                assert not set(GRPO_OBJECTIVE_KEYS) & set(spec.trainer), row
    trainer = {
        k: v for k, v in grpo.recipes["p03"].trainer.items() if k not in ("use_vllm", "vllm_mode", "deepspeed", "bf16")
    }
    tags = objective_tags(build_grpo_config({**trainer, "use_cpu": True}, "/tmp/objective-tags"))
    assert tags["grpo.loss_type"] == "grpo" and tags["grpo.use_bias_correction_kl"] == "False"
    assert tags["grpo.vllm_importance_sampling_correction"] == "False" and tags["grpo.beta"] == "0.04"


@pytest.mark.parametrize("key", ["loss_type", "use_bias_correction_kl"])
def test_a_recipe_that_leaves_the_objective_to_trls_defaults_is_refused(key):
    import yaml

    from audioreason.config.p02_p03 import GrpoConfig
    from audioreason.config.schema import build_section

    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())["grpo"]
    del raw["recipes"]["p03"]["trainer"][key]
    with pytest.raises(ConfigError, match=rf"recipes\.p03\.trainer: {key} not set"):
        build_section(GrpoConfig, raw, "grpo")


def test_text_only_data_must_train_without_audio():
    import yaml

    from audioreason.config.p02_p03 import GrpoConfig
    from audioreason.config.schema import build_section

    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())["grpo"]
    raw["rows"]["grpo_arc_easy"]["with_audio"] = True
    with pytest.raises(ConfigError, match=r"rows\.grpo_arc_easy\.with_audio: 'arc_easy' has no audio"):
        build_section(GrpoConfig, raw, "grpo")


def test_grpo_dataset_of_text_only_records(tiny):
    arc = [
        QARecord(f"arc{i}", "arc_easy", "train", "", f"Which is a metal {i}?", ("iron", "wood"), "iron") for i in (0, 1)
    ]
    ds = grpo_dataset(arc, PROMPT, with_audio=False)
    assert ds["audio"] == ["", ""] and ds[0]["prompt"].startswith("Which is a metal 0?") and ds[0]["answer"] == "iron"
    with pytest.raises(ValueError, match="2 of 2 records have no audio \\(first: 'arc0'\\)"):
        grpo_dataset(arc, PROMPT)
    with pytest.raises(ValueError, match="no training questions"):
        grpo_dataset([], PROMPT, with_audio=False)


def test_a_full_omni_checkpoint_gets_its_thinker_as_the_reference(tiny):
    """``Qwen/Qwen2.5-Omni-7B`` is a full-model checkpoint (``Qwen2_5OmniModel``, the thinker under ``thinker.``):
    with beta > 0 TRL cannot infer a class for the reference from it; the trainer reads its thinker, as the policy."""
    from safetensors.torch import save_file
    from transformers import Qwen2_5OmniConfig, Qwen2_5OmniThinkerForConditionalGeneration

    thinker, processor = load_model(tiny["qwen2_5_omni_thinker"])
    full = tiny["root"] / "omni-full-form"
    config = Qwen2_5OmniConfig(thinker_config=thinker.config.to_dict(), enable_audio_output=False)
    config.architectures = ["Qwen2_5OmniModel"]
    config.save_pretrained(full)
    state = {f"thinker.{k}": v.clone().contiguous() for k, v in thinker.state_dict().items()}
    save_file(state, str(full / "model.safetensors"), metadata={"format": "pt"})
    processor.save_pretrained(full)
    model, processor = load_model(str(full))
    args = build_grpo_config(
        dict(max_steps=1, per_device_train_batch_size=4, num_generations=4, beta=0.04, use_cpu=True, bf16=False),
        str(tiny["root"] / "omni-full-form-out"),
    )
    trainer = AudioGRPOTrainer(
        model=model,
        args=args,
        reward_funcs=[completion_length],
        train_dataset=grpo_dataset(records(tiny, 1), PROMPT),
        processing_class=processor,
    )
    assert isinstance(trainer.ref_model, Qwen2_5OmniThinkerForConditionalGeneration)
    ref = dict(trainer.ref_model.named_parameters())
    assert all(torch.equal(p, ref[n]) for n, p in trainer.model.named_parameters())
