"""Layer maps of paper 01 (eq. 4 and eq. 7) written out."""

from __future__ import annotations

import pytest
import torch

from audioreason.losses.layer_map import LayerProjections, layer_map, proportional_layer_map, skip_layer_map

# eq. 4 for the paper's student (Qwen2.5-Omni-7B thinker, 28 layers) and teacher (Qwen3-8B, 36 layers):
# l_T = floor((l_S - 1) / 28 * 36 + 1)
PAPER_MAP = [
    (1, 1),
    (2, 2),
    (3, 3),
    (4, 4),
    (5, 6),
    (6, 7),
    (7, 8),
    (8, 10),
    (9, 11),
    (10, 12),
    (11, 13),
    (12, 15),
    (13, 16),
    (14, 17),
    (15, 19),
    (16, 20),
    (17, 21),
    (18, 22),
    (19, 24),
    (20, 25),
    (21, 26),
    (22, 28),
    (23, 29),
    (24, 30),
    (25, 31),
    (26, 33),
    (27, 34),
    (28, 35),
]


def test_proportional_map_paper_sizes():
    assert proportional_layer_map(28, 36) == PAPER_MAP


def test_proportional_map_tiny_sizes():
    assert proportional_layer_map(2, 2) == [(1, 1), (2, 2)]
    assert proportional_layer_map(2, 3) == [(1, 1), (2, 2)]
    assert proportional_layer_map(4, 6) == [(1, 1), (2, 2), (3, 4), (4, 5)]
    assert proportional_layer_map(3, 2) == [(1, 1), (2, 1), (3, 2)]


def test_skip_one_in_seven():
    assert skip_layer_map(28, 36, 7) == [(7, 8), (14, 17), (21, 26), (28, 35)]
    assert skip_layer_map(2, 2, 2) == [(2, 2)]
    assert layer_map("top", 28, 36, 7) == [] and layer_map("all", 28, 36, 7) == PAPER_MAP
    with pytest.raises(ValueError):
        layer_map("every", 2, 2, 1)


def test_projections_map_teacher_width_to_student_width():
    proj = LayerProjections([(7, 8), (14, 17)], teacher_dim=12, student_dim=8)
    assert proj(7, torch.randn(2, 3, 12)).shape == (2, 3, 8)
    assert sorted(proj.state_dict()) == ["maps.14.weight", "maps.7.weight"]
