"""Divergences against closed forms and against each other; conventions pinned."""

from __future__ import annotations

import math

import pytest
import torch

from audioreason.losses.divergences import chunked_kd_loss, hidden_kd_loss, kd_loss, token_divergence

torch.manual_seed(0)


def logits_of(*probs):
    return torch.tensor([list(p) for p in probs], dtype=torch.float64).log()


P = (0.7, 0.2, 0.1)
Q = (0.1, 0.3, 0.6)


def kl(a, b):
    return sum(x * math.log(x / y) for x, y in zip(a, b))


def test_forward_and_reverse_kl_closed_forms():
    s, t = logits_of(Q), logits_of(P)
    assert token_divergence(s, t, kind="forward_kl").item() == pytest.approx(kl(P, Q), abs=1e-12)
    assert token_divergence(s, t, kind="reverse_kl").item() == pytest.approx(kl(Q, P), abs=1e-12)


@pytest.mark.parametrize("beta", [0.1, 0.5, 0.9])
def test_jsd_closed_form_and_mixture_weight_convention(beta):
    m = [beta * p + (1 - beta) * q for p, q in zip(P, Q)]
    expected = beta * kl(P, m) + (1 - beta) * kl(Q, m)
    got = token_divergence(logits_of(Q), logits_of(P), kind="jsd", beta=beta).item()
    assert got == pytest.approx(expected, abs=1e-12)
    # beta weighs the TEACHER: swapping the roles equals using 1 - beta
    swapped = token_divergence(logits_of(P), logits_of(Q), kind="jsd", beta=1 - beta).item()
    assert swapped == pytest.approx(got, abs=1e-12)


def test_jsd_symmetric_zero_iff_equal_and_bounded_by_ln2():
    a, b = torch.randn(50, 11, dtype=torch.float64), torch.randn(50, 11, dtype=torch.float64)
    ab = token_divergence(a, b, kind="jsd")
    assert torch.allclose(ab, token_divergence(b, a, kind="jsd"), atol=1e-12)
    assert torch.all(ab > 0)
    assert torch.allclose(token_divergence(a, a.clone(), kind="jsd"), torch.zeros(50, dtype=torch.float64), atol=1e-12)
    # disjoint supports reach the bound
    s = torch.tensor([[0.0, -1e4]], dtype=torch.float64)
    t = torch.tensor([[-1e4, 0.0]], dtype=torch.float64)
    assert token_divergence(s, t, kind="jsd").item() == pytest.approx(math.log(2), abs=1e-9)
    assert torch.all(ab <= math.log(2))


def test_skew_kl_closed_form_and_limits():
    alpha = 0.3
    m = [alpha * p + (1 - alpha) * q for p, q in zip(P, Q)]
    got = token_divergence(logits_of(Q), logits_of(P), kind="skew_kl", beta=alpha).item()
    assert got == pytest.approx(kl(P, m), abs=1e-12)
    assert token_divergence(logits_of(Q), logits_of(P), kind="skew_kl", beta=0.0).item() == pytest.approx(kl(P, Q))


def test_temperature_is_applied_once_to_both_without_t_squared():
    s, t = torch.randn(4, 7, dtype=torch.float64), torch.randn(4, 7, dtype=torch.float64)
    T = 2.5
    for kind in ("forward_kl", "reverse_kl", "jsd", "skew_kl"):
        scaled = token_divergence(s, t, kind=kind, temperature=T)
        assert torch.allclose(scaled, token_divergence(s / T, t / T, kind=kind), atol=1e-12)


def test_teacher_gets_no_gradient():
    s = torch.randn(3, 5, requires_grad=True)
    t = torch.randn(3, 5, requires_grad=True)
    token_divergence(s, t, kind="forward_kl").sum().backward()
    assert s.grad is not None and t.grad is None


@pytest.mark.parametrize("kind", ["forward_kl", "reverse_kl", "jsd", "skew_kl"])
def test_chunked_equals_reference_in_value_and_gradient(kind):
    B, S, V = 3, 37, 50
    s0 = torch.randn(B, S, V, dtype=torch.float64)
    t = torch.randn(B, S, V, dtype=torch.float64)
    mask = torch.rand(B, S) > 0.3
    s_ref, s_chk = s0.clone().requires_grad_(), s0.clone().requires_grad_()
    ref = kd_loss(s_ref, t, mask, kind=kind, temperature=1.5, beta=0.3)
    chk = chunked_kd_loss(s_chk, t, mask, kind=kind, temperature=1.5, beta=0.3, chunk_size=8)
    ref.backward()
    chk.backward()
    assert chk.item() == pytest.approx(ref.item(), abs=1e-6)
    assert torch.allclose(s_chk.grad, s_ref.grad, atol=1e-6)
    # gradients only at masked positions
    assert torch.all(s_ref.grad[~mask] == 0)


def test_loss_is_a_mean_over_response_tokens():
    s, t = torch.randn(1, 4, 6), torch.randn(1, 4, 6)
    mask = torch.tensor([[False, True, True, False]])
    per_token = token_divergence(s[0, 1:3], t[0, 1:3], kind="jsd")
    assert kd_loss(s, t, mask).item() == pytest.approx(per_token.mean().item(), abs=1e-7)
    assert kd_loss(s, t, torch.zeros(1, 4, dtype=torch.bool)).item() == 0.0


def test_hidden_kd_softmax_over_hidden_dim_and_options():
    th, sh = torch.randn(2, 5, 8, dtype=torch.float64), torch.randn(2, 5, 8, dtype=torch.float64)
    mask = torch.ones(2, 5, dtype=torch.bool)
    lit = hidden_kd_loss(th, sh, mask, kind="softmax", divergence="jsd")
    assert lit.item() == pytest.approx(token_divergence(sh.reshape(-1, 8), th.reshape(-1, 8)).mean().item())
    assert hidden_kd_loss(th, th, mask, kind="mse").item() == 0.0
    assert hidden_kd_loss(th, 3 * th, mask, kind="cosine").item() == pytest.approx(0.0, abs=1e-12)
    # the projection on the teacher side is trained: its gradient flows
    w = torch.nn.Linear(8, 8).double()
    hidden_kd_loss(w(th), sh, mask, kind="softmax").backward()
    assert w.weight.grad is not None and w.weight.grad.abs().sum() > 0


def test_bad_arguments_are_named():
    s = torch.randn(2, 3)
    with pytest.raises(ValueError, match="unknown divergence 'l2'"):
        token_divergence(s, s, kind="l2")
    with pytest.raises(ValueError, match="temperature must be positive"):
        token_divergence(s, s, temperature=0.0)
    with pytest.raises(ValueError, match="do not match mask"):
        kd_loss(torch.randn(1, 3, 4), torch.randn(1, 3, 4), torch.ones(1, 2))


def test_aligned_loss_equals_gathering_then_the_reference():
    from audioreason.losses.divergences import aligned_kd_loss

    B, Ss, St, V = 2, 9, 12, 30
    s0 = torch.randn(B, Ss, V, dtype=torch.float64)
    t = torch.randn(B, St, V, dtype=torch.float64)
    s_pos = torch.tensor([[2, 3, 4, 5], [4, 5, 6, 0]])
    t_pos = torch.tensor([[6, 7, 8, 9], [3, 4, 5, 0]])
    mask = torch.tensor([[True, True, True, True], [True, True, True, False]])
    a, r = s0.clone().requires_grad_(), s0.clone().requires_grad_()
    got = aligned_kd_loss(a, t, s_pos, t_pos, mask, kind="jsd", chunk_size=3)

    def gather(x, pos):
        return torch.gather(x, 1, pos.unsqueeze(-1).expand(-1, -1, x.shape[-1]))

    ref = kd_loss(gather(r, s_pos), gather(t, t_pos), mask, kind="jsd")
    got.backward()
    ref.backward()
    assert got.item() == pytest.approx(ref.item(), abs=1e-9)
    assert torch.allclose(a.grad, r.grad, atol=1e-9)
