"""SER prompts (paper 04): each token condition changes only the tokens, and the questions carry them."""

from __future__ import annotations

from pathlib import Path

import pytest

from audioreason.config import load_params
from audioreason.features.concept_tokens import conflict, serialise
from audioreason.features.ser_prompts import condition_tokens, questions
from helpers import token_rows

REPO = Path(__file__).resolve().parents[3]
CFG = load_params(REPO / "params.yaml").interventions


def test_conditions_change_only_the_tokens():
    r = token_rows()
    assert condition_tokens(r, "audio_only") is None
    assert condition_tokens(r, "correct") == [x["tokens"] for x in r]
    assert condition_tokens(r, "conflict") == [conflict(x["tokens"]) for x in r]
    shuffled = condition_tokens(r, "shuffle", seed=1)
    assert sorted(map(serialise, shuffled)) == sorted(
        serialise(x["tokens"]) for x in r
    ) and shuffled != condition_tokens(r, "correct")
    assert condition_tokens(r, "corrupt", p=0.0) == condition_tokens(r, "correct")
    assert condition_tokens(r, "corrupt", p=1.0, seed=3) == condition_tokens(r, "corrupt", p=1.0, seed=3)
    with pytest.raises(ValueError, match="unknown condition"):
        condition_tokens(r, "reverse")
    plain, tokened = questions(r, None, CFG, "iemocap"), questions(r, condition_tokens(r, "conflict"), CFG, "iemocap")
    assert (
        plain[0].question == "What emotion does the speaker express? Please choose the answer from the following "
        "options: ['angry', 'happy', 'neutral', 'sad']"
    )
    assert tokened[0].question == plain[0].question + " Acoustic concept tokens: " + serialise(conflict(r[0]["tokens"]))
    assert [q.audio for q in tokened] == [x["audio"] for x in r] and tokened[1].answer == "happy"
