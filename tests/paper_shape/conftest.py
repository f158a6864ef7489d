"""Each paper-shape test holds 10-18 GiB; what a finished one leaves in reference cycles is freed before the next."""

import gc

import pytest


@pytest.fixture(autouse=True)
def collect_after():
    yield
    gc.collect()
