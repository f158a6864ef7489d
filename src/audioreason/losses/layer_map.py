"""Which teacher layer teaches which student layer (paper 01 §3.2), and the projections W_i.

Layers are numbered from 1 (the first transformer block) to L, as in the paper;
``hidden_states[l]`` of a Hugging Face decoder is the output of block ``l`` (index 0 is
the embeddings).
"""

from __future__ import annotations

import torch
from torch import nn


def proportional_layer_map(n_student: int, n_teacher: int) -> list[tuple[int, int]]:
    """Eq. 4: student layer l_S is taught by teacher layer floor((l_S - 1) / L_S * L_T + 1).

    Exact integer arithmetic (no float rounding at the floor).

    >>> proportional_layer_map(2, 4)
    [(1, 1), (2, 3)]
    """
    if n_student < 1 or n_teacher < 1:
        raise ValueError(f"layer counts must be positive, got {n_student}, {n_teacher}")
    return [(ls, (ls - 1) * n_teacher // n_student + 1) for ls in range(1, n_student + 1)]


def skip_layer_map(n_student: int, n_teacher: int, k: int) -> list[tuple[int, int]]:
    """Eq. 7: one layer in k, i.e. student layers k, 2k, ..., with their eq. 4 teacher layers.

    >>> skip_layer_map(28, 36, 7)
    [(7, 8), (14, 17), (21, 26), (28, 35)]
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    full = dict(proportional_layer_map(n_student, n_teacher))
    return [(ls, full[ls]) for ls in range(k, n_student + 1, k)]


def layer_map(mode: str, n_student: int, n_teacher: int, k: int) -> list[tuple[int, int]]:
    """``top``: none (top-layer KD only); ``skip``: eq. 7; ``all``: eq. 4 for every student layer."""
    if mode == "top":
        return []
    if mode == "skip":
        return skip_layer_map(n_student, n_teacher, k)
    if mode == "all":
        return proportional_layer_map(n_student, n_teacher)
    raise ValueError(f"unknown layer mode {mode!r} (top, skip, all)")


class LayerProjections(nn.Module):
    """The learnable W_i of eq. 5, one ``D_T -> D_S`` linear map per distilled student layer.

    Trained with the student and saved with the training state (so a resumed run keeps
    them); never part of the exported student.
    """

    def __init__(self, pairs: list[tuple[int, int]], teacher_dim: int, student_dim: int):
        super().__init__()
        self.pairs = list(pairs)
        self.maps = nn.ModuleDict({str(ls): nn.Linear(teacher_dim, student_dim, bias=False) for ls, _ in self.pairs})

    def forward(self, student_layer: int, teacher_hidden: torch.Tensor) -> torch.Tensor:
        return self.maps[str(student_layer)](teacher_hidden)
