"""The tokenizer that the model tests build their tiny checkpoints with."""

from __future__ import annotations

import pytest

from audioreason.models.tokenizer import train_tokenizer

CORPUS = [
    "You are a helpful assistant.",
    "Which sound source can be heard in the audio? Please choose the answer from the following options: "
    "['dog barking', 'cat meowing', 'alarm bell']. Output the final answer in <answer> </answer>.",
    "How many times does the dog barking sound occur in the audio?",
    "<answer>dog barking</answer>",
    "<answer>cat meowing</answer>",
] * 10


@pytest.fixture(scope="module")
def tokenizer():
    """A byte-level BPE tokenizer of at most 400 tokens, trained once per test module on :data:`CORPUS`."""
    return train_tokenizer(CORPUS, vocab_size=400, min_frequency=2)
