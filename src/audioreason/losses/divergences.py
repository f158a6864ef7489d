"""Divergences for knowledge distillation (paper 01 §3.2-3.3), over response tokens only.

Conventions, pinned by tests (public KD trainers get these wrong: mixture weights
reversed, temperature applied twice, fused and reference losses disagreeing):

- ``p`` is the teacher's distribution, ``q`` the student's; both are ``softmax(logits / T)``
  with the temperature ``T`` applied once, to both, and no ``T**2`` factor.
- ``forward_kl``  KL(p || q) = sum p (log p - log q)            (mode-covering)
- ``reverse_kl``  KL(q || p)                                    (mode-seeking)
- ``jsd``         JSD_beta(p, q) = beta KL(p || m) + (1 - beta) KL(q || m), m = beta p + (1 - beta) q;
  beta = 0.5 is the symmetric Jensen-Shannon divergence, bounded by ln 2 (paper 01 §4.2
  uses it "because it is symmetric and bounded").
- ``skew_kl``     SKL_alpha(p, q) = KL(p || alpha p + (1 - alpha) q)   (alpha = ``beta``)

A token loss is averaged over the positions where ``mask`` is true (the response tokens
T_y of eq. 6; a mean rather than the paper's sum, so the weights alpha do not depend on
the response length).

:func:`kd_loss` is the reference: it materialises every ``[N, V]`` intermediate at once.
:func:`chunked_kd_loss` gives the same value and gradient but walks the sequence in chunks
under activation checkpointing, so at most one chunk's vocabulary-sized intermediates
exist at a time (forward and backward); ``benchmarks/kd_memory.py`` measures the peak.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

KINDS = ("forward_kl", "reverse_kl", "jsd", "skew_kl")


def _up(x: torch.Tensor) -> torch.Tensor:
    """bf16 / fp16 logits are upcast to fp32 for the softmaxes; fp32 and fp64 stay as they are."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def token_divergence(student_logits: torch.Tensor, teacher_logits: torch.Tensor, *, kind: str = "jsd",
                     temperature: float = 1.0, beta: float = 0.5, detach_teacher: bool = True) -> torch.Tensor:
    """Divergence per row between the teacher's and the student's distributions.

    Args:
        student_logits: ``[N, V]``.
        teacher_logits: ``[N, V]``; no gradient is taken through it unless ``detach_teacher`` is
            false (hidden-state KD, where the teacher side carries the learnable projection W_i).
        kind: One of :data:`KINDS`.
        temperature: Softmax temperature ``T`` (applied once, to both).
        beta: JSD mixture weight of the teacher, or the skew ``alpha`` of ``skew_kl``.

    Returns:
        ``[N]`` divergences, in nats.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown divergence {kind!r} (known: {', '.join(KINDS)})")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must lie in [0, 1], got {beta}")
    log_q = F.log_softmax(_up(student_logits) / temperature, dim=-1)  # [N, V]
    teacher_logits = teacher_logits.detach() if detach_teacher else teacher_logits
    log_p = F.log_softmax(_up(teacher_logits) / temperature, dim=-1)  # [N, V]
    if kind == "forward_kl":
        return (log_p.exp() * (log_p - log_q)).sum(-1)
    if kind == "reverse_kl":
        return (log_q.exp() * (log_q - log_p)).sum(-1)
    if kind == "jsd":
        if beta in (0.0, 1.0):
            return torch.zeros(log_q.shape[0], dtype=log_q.dtype, device=log_q.device)  # m equals p or q
        # log m = logsumexp(log beta + log p, log(1 - beta) + log q): stable where p or q underflow
        log_m = torch.logsumexp(torch.stack([log_p + math.log(beta), log_q + math.log(1 - beta)]), dim=0)
        kl_pm = (log_p.exp() * (log_p - log_m)).sum(-1)
        kl_qm = (log_q.exp() * (log_q - log_m)).sum(-1)
        return beta * kl_pm + (1 - beta) * kl_qm
    # skew_kl: KL(p || alpha p + (1 - alpha) q)
    if beta == 1.0:
        return torch.zeros(log_q.shape[0], dtype=log_q.dtype, device=log_q.device)
    log_m = log_q if beta == 0.0 else torch.logsumexp(
        torch.stack([log_p + math.log(beta), log_q + math.log(1 - beta)]), dim=0)
    return (log_p.exp() * (log_p - log_m)).sum(-1)


def _masked_rows(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``[B, S, V]`` and ``[B, S]`` -> the ``[N, V]`` rows where ``mask`` holds."""
    if x.shape[:-1] != mask.shape:
        raise ValueError(f"logits {tuple(x.shape)} do not match mask {tuple(mask.shape)}")
    return x[mask.bool()]


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, mask: torch.Tensor, *, kind: str = "jsd",
            temperature: float = 1.0, beta: float = 0.5) -> torch.Tensor:
    """Reference: mean divergence over the masked positions, every intermediate at once.

    Args:
        student_logits, teacher_logits: ``[B, S, V]``, aligned position by position.
        mask: ``[B, S]``, true at the response tokens.
    """
    s, t = _masked_rows(student_logits, mask), _masked_rows(teacher_logits, mask)
    if s.shape[0] == 0:
        return student_logits.sum() * 0.0
    return token_divergence(s, t, kind=kind, temperature=temperature, beta=beta).mean()


def chunked_kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, mask: torch.Tensor, *,
                    kind: str = "jsd", temperature: float = 1.0, beta: float = 0.5,
                    chunk_size: int = 256) -> torch.Tensor:
    """:func:`kd_loss`, computed ``chunk_size`` positions at a time.

    Each chunk runs under non-reentrant activation checkpointing: its softmaxes, mixture
    and products are freed after its forward and recomputed in its backward, so peak
    memory holds the inputs, the student's logit gradient and one chunk's intermediates
    (``[chunk, V]``), not ``[N, V]`` of each.
    """
    s, t = _masked_rows(student_logits, mask), _masked_rows(teacher_logits, mask).detach()
    n = s.shape[0]
    if n == 0:
        return student_logits.sum() * 0.0

    def chunk_sum(s_chunk, t_chunk):
        return token_divergence(s_chunk, t_chunk, kind=kind, temperature=temperature, beta=beta).sum()

    total = _up(student_logits).new_zeros(())
    for start in range(0, n, chunk_size):
        sc, tc = s[start: start + chunk_size], t[start: start + chunk_size]
        total = total + (checkpoint(chunk_sum, sc, tc, use_reentrant=False) if sc.requires_grad else chunk_sum(sc, tc))
    return total / n


HIDDEN_KINDS = ("softmax", "mse", "cosine")


def hidden_kd_loss(teacher_hidden: torch.Tensor, student_hidden: torch.Tensor, mask: torch.Tensor, *,
                   kind: str = "softmax", divergence: str = "jsd", temperature: float = 1.0,
                   beta: float = 0.5) -> torch.Tensor:
    """Hidden-state KD of eq. 5 / eq. 8, averaged over the masked positions.

    ``softmax`` is eq. 5 taken literally: the divergence between softmax distributions over
    the hidden dimension of the (projected) teacher state W_i h^T and the student state
    h^S. ``mse`` (mean squared error over the hidden dimension) and ``cosine``
    (1 - cosine similarity) are documented alternatives.

    Args:
        teacher_hidden: ``[B, S, D]``: W_i h^T (projected), or h^{S0} for acoustic KD.
        student_hidden: ``[B, S, D]``.
        mask: ``[B, S]``.
    """
    if kind not in HIDDEN_KINDS:
        raise ValueError(f"unknown hidden-state KD {kind!r} (known: {', '.join(HIDDEN_KINDS)})")
    t, s = _masked_rows(teacher_hidden, mask), _masked_rows(student_hidden, mask)
    if s.shape[0] == 0:
        return student_hidden.sum() * 0.0
    if kind == "softmax":
        return token_divergence(s, t, kind=divergence, temperature=temperature, beta=beta,
                                detach_teacher=False).mean()
    if kind == "mse":
        return (_up(s) - _up(t)).pow(2).mean(-1).mean()
    return (1 - F.cosine_similarity(_up(s), _up(t), dim=-1)).mean()
