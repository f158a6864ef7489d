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

:func:`kd_loss` is the reference: autograd through every ``[N, V]`` intermediate at once.
:func:`chunked_kd_loss` gives the same value and gradient (closed-form gradients, checked
against the reference by tests) but walks the sequence in chunks, so at most one chunk's
vocabulary-sized intermediates exist at a time; ``benchmarks/kd_memory.py`` measures the peak.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

KINDS = ("forward_kl", "reverse_kl", "jsd", "skew_kl")


def _up(x: torch.Tensor) -> torch.Tensor:
    """bf16 / fp16 logits are upcast to fp32 for the softmaxes; fp32 and fp64 stay as they are."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def token_divergence(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    *,
    kind: str = "jsd",
    temperature: float = 1.0,
    beta: float = 0.5,
    detach_teacher: bool = True,
) -> torch.Tensor:
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
    log_m = (
        log_q
        if beta == 0.0
        else torch.logsumexp(torch.stack([log_p + math.log(beta), log_q + math.log(1 - beta)]), dim=0)
    )
    return (log_p.exp() * (log_p - log_m)).sum(-1)


def _masked_rows(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``[B, S, V]`` and ``[B, S]`` -> the ``[N, V]`` rows where ``mask`` holds."""
    if x.shape[:-1] != mask.shape:
        raise ValueError(f"logits {tuple(x.shape)} do not match mask {tuple(mask.shape)}")
    return x[mask.bool()]


def kd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    mask: torch.Tensor,
    *,
    kind: str = "jsd",
    temperature: float = 1.0,
    beta: float = 0.5,
) -> torch.Tensor:
    """Reference: mean divergence over the masked positions, every intermediate at once.

    Args:
        student_logits, teacher_logits: ``[B, S, V]``, aligned position by position.
        mask: ``[B, S]``, true at the response tokens.
    """
    s, t = _masked_rows(student_logits, mask), _masked_rows(teacher_logits, mask)
    if s.shape[0] == 0:
        return student_logits.sum() * 0.0
    return token_divergence(s, t, kind=kind, temperature=temperature, beta=beta).mean()


def _divergence_and_grad(
    s: torch.Tensor, t: torch.Tensor, kind: str, temperature: float, beta: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row divergence ``[n]`` and its gradient with respect to the student logits ``[n, V]``, in closed form.

    With q = softmax(z / T) and g = d divergence / d q, the chain rule through the softmax gives
    dz = q * (g - sum(q * g)) / T. Per kind (m is the mixture):
    forward KL: dz = (q - p) / T; reverse KL: g = log q - log p (+1, which cancels);
    JSD: g = (1 - beta) (log q - log m); skew KL: q * g = -(1 - alpha) p q / m.
    """
    log_q = F.log_softmax(_up(s) / temperature, dim=-1)  # [n, V]
    log_p = F.log_softmax(_up(t) / temperature, dim=-1)  # [n, V]
    q = log_q.exp()
    if kind == "forward_kl":
        p = log_p.exp()
        return (p * (log_p - log_q)).sum(-1), (q - p) / temperature
    if kind == "reverse_kl":
        r = log_q - log_p
        value = (q * r).sum(-1)
        return value, q * (r - value.unsqueeze(-1)) / temperature
    if (kind == "jsd" and beta in (0.0, 1.0)) or (kind == "skew_kl" and beta == 1.0):
        return torch.zeros_like(log_q[:, 0]), torch.zeros_like(log_q)
    if kind == "skew_kl" and beta == 0.0:
        return _divergence_and_grad(s, t, "forward_kl", temperature, 0.0)
    log_m = torch.logsumexp(torch.stack([log_p + math.log(beta), log_q + math.log(1 - beta)]), dim=0)
    p = log_p.exp()
    if kind == "jsd":
        value = beta * (p * (log_p - log_m)).sum(-1) + (1 - beta) * (q * (log_q - log_m)).sum(-1)
        qg = q * (1 - beta) * (log_q - log_m)
    else:  # skew_kl
        value = (p * (log_p - log_m)).sum(-1)
        qg = -(1 - beta) * torch.exp(log_p + log_q - log_m)
    return value, (qg - q * qg.sum(-1, keepdim=True)) / temperature


class _ChunkedKD(torch.autograd.Function):
    """Mean divergence over ``rows`` of ``[P, V]`` logits, walked ``chunk`` rows at a time.

    The gradient is computed in the forward pass, chunk by chunk, into one buffer shaped
    like the student's logits, so no ``[N, V]`` intermediate (softmaxes, mixture,
    products) ever exists beyond one chunk; backward only scales that buffer.
    """

    @staticmethod
    def forward(ctx, student, teacher, rows, teacher_rows, kind, temperature, beta, chunk):
        grad = torch.zeros_like(student) if student.requires_grad else None
        total = torch.zeros((), dtype=_up(student[:1]).dtype, device=student.device)
        n = rows.numel()
        with torch.no_grad():
            for start in range(0, n, chunk):
                idx = rows[start : start + chunk]
                value, g = _divergence_and_grad(
                    student.index_select(0, idx),
                    teacher.index_select(0, teacher_rows[start : start + chunk]),
                    kind,
                    temperature,
                    beta,
                )
                total += value.sum()
                if grad is not None:
                    grad.index_copy_(0, idx, (g / n).to(grad.dtype))
        ctx.save_for_backward(grad)
        return total / n

    @staticmethod
    def backward(ctx, grad_output):
        (grad,) = ctx.saved_tensors
        return (None if grad is None else grad * grad_output.to(grad.dtype)), None, None, None, None, None, None, None


def chunked_kd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    mask: torch.Tensor,
    *,
    kind: str = "jsd",
    temperature: float = 1.0,
    beta: float = 0.5,
    chunk_size: int = 256,
) -> torch.Tensor:
    """:func:`kd_loss`, computed ``chunk_size`` positions at a time.

    The value and its gradient (closed forms, :func:`_divergence_and_grad`) are computed
    per chunk in one pass; peak memory holds the inputs, one gradient buffer shaped like
    the student's logits (which backward needs anyway) and one chunk's ``[chunk, V]``
    intermediates, not ``[N, V]`` of each. Masked rows are indexed in place, never copied
    out as a whole.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown divergence {kind!r} (known: {', '.join(KINDS)})")
    if temperature <= 0 or not 0.0 <= beta <= 1.0:
        raise ValueError(f"temperature must be positive and beta in [0, 1], got {temperature}, {beta}")
    if student_logits.shape[:-1] != mask.shape or teacher_logits.shape != student_logits.shape:
        raise ValueError(
            f"logits {tuple(student_logits.shape)} / {tuple(teacher_logits.shape)} do not match "
            f"mask {tuple(mask.shape)}"
        )
    rows = mask.reshape(-1).nonzero().squeeze(-1)
    if rows.numel() == 0:
        return student_logits.sum() * 0.0
    vocab = student_logits.shape[-1]
    return _ChunkedKD.apply(
        student_logits.reshape(-1, vocab),
        teacher_logits.detach().reshape(-1, vocab),
        rows,
        rows,
        kind,
        temperature,
        beta,
        chunk_size,
    )


def aligned_kd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    student_positions: torch.Tensor,
    teacher_positions: torch.Tensor,
    mask: torch.Tensor,
    *,
    kind: str = "jsd",
    temperature: float = 1.0,
    beta: float = 0.5,
    chunk_size: int = 256,
) -> torch.Tensor:
    """:func:`chunked_kd_loss` between two sequences of different layouts, aligned per response token.

    Row ``k`` of sample ``b`` compares ``student_logits[b, student_positions[b, k]]`` with
    ``teacher_logits[b, teacher_positions[b, k]]`` where ``mask[b, k]``; the rows are indexed
    in place (no ``[B, Y, V]`` gathered copy of either model's logits).

    Args:
        student_logits: ``[B, S_s, V]``; teacher_logits: ``[B, S_t, V]`` (the same V).
        student_positions, teacher_positions, mask: ``[B, Y]``.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown divergence {kind!r} (known: {', '.join(KINDS)})")
    if temperature <= 0 or not 0.0 <= beta <= 1.0:
        raise ValueError(f"temperature must be positive and beta in [0, 1], got {temperature}, {beta}")
    if student_logits.shape[-1] != teacher_logits.shape[-1]:
        raise ValueError(f"vocabularies differ: {student_logits.shape[-1]} vs {teacher_logits.shape[-1]}")
    mask = mask.bool()
    if not mask.any():
        return student_logits.sum() * 0.0
    b = torch.arange(mask.shape[0], device=mask.device).unsqueeze(1).expand_as(mask)
    s_rows = (b * student_logits.shape[1] + student_positions)[mask]
    t_rows = (b * teacher_logits.shape[1] + teacher_positions)[mask]
    vocab = student_logits.shape[-1]
    return _ChunkedKD.apply(
        student_logits.reshape(-1, vocab),
        teacher_logits.detach().reshape(-1, vocab),
        s_rows,
        t_rows,
        kind,
        temperature,
        beta,
        chunk_size,
    )


HIDDEN_KINDS = ("softmax", "mse", "cosine")


def hidden_kd_loss(
    teacher_hidden: torch.Tensor,
    student_hidden: torch.Tensor,
    mask: torch.Tensor,
    *,
    kind: str = "softmax",
    divergence: str = "jsd",
    temperature: float = 1.0,
    beta: float = 0.5,
) -> torch.Tensor:
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
        return token_divergence(s, t, kind=divergence, temperature=temperature, beta=beta, detach_teacher=False).mean()
    if kind == "mse":
        return (_up(s) - _up(t)).pow(2).mean(-1).mean()
    return (1 - F.cosine_similarity(_up(s), _up(t), dim=-1)).mean()
