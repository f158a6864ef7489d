"""Tests of the scene captions: one faithful sentence per kind, an error for unknown kinds."""

from __future__ import annotations

import numpy as np
import pytest

from audioreason.world.captions import caption_for
from audioreason.world.scenes import KINDS, VIEW_KIND, render


@pytest.mark.parametrize("kind", [*KINDS, VIEW_KIND], ids=lambda k: k.name)
def test_every_kind_has_a_one_sentence_caption(kind):
    scene = render(kind, np.random.default_rng(0), 8000, 1.0)
    cap = caption_for({"kind": kind.name, **scene.truth})
    assert cap[0].isupper() and cap.endswith(".") and cap.count(".") == 1


def test_captions_name_what_the_clip_holds():
    assert caption_for({"kind": "count", "events": ["Dog", "Dog"]}) == "A dog barks twice over a quiet room tone."
    assert caption_for({"kind": "order", "events": ["Cat", "Dog"]}) == "First a cat meows, then a dog barks."
    assert caption_for({"kind": "n_speakers", "speakers": ["Man", "Robot"]}) == (
        "Two people take turns speaking: a man, a robotic voice."
    )


def test_unknown_kind_is_an_error():
    with pytest.raises(ValueError, match="no caption template"):
        caption_for({"kind": "weather"})
