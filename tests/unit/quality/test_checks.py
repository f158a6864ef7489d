"""The check-key catalogue and the fail/quarantine policy."""

from __future__ import annotations

import pytest

from audioreason.quality.checks import AUDIO_CHECKS, CHECKS, MANIFEST_CHECKS, OVERLAP_CHECKS, TABLE_CHECKS, Policy


def test_keys_are_namespaced_and_disjoint():
    assert all(k.startswith("manifest.") for k in {**TABLE_CHECKS, **MANIFEST_CHECKS})
    assert all(k.startswith("audio.") for k in AUDIO_CHECKS)
    assert set(OVERLAP_CHECKS) == {"overlap.clip_id", "overlap.fingerprint"}
    assert len(CHECKS) == len(TABLE_CHECKS) + len(MANIFEST_CHECKS) + len(AUDIO_CHECKS) + len(OVERLAP_CHECKS)


def test_policy_resolves_every_key():
    p = Policy({"default": "quarantine", "audio.truncated": "fail"})
    resolved = p.to_json()
    assert set(resolved) == set(CHECKS)
    assert resolved["audio.truncated"] == "fail"
    assert resolved["manifest.answer_in_choices"] == "quarantine"
    # Manifest-level checks have no rows to set aside.
    assert all(resolved[k] == "fail" for k in TABLE_CHECKS)


@pytest.mark.parametrize(
    "mapping, message",
    [
        ({"audio.silent": "fail"}, "missing key 'default'"),
        ({"default": "fail", "audio.silence": "fail"}, "unknown check 'audio.silence'"),
        ({"default": "drop"}, "default: action must be one of fail, quarantine, got 'drop'"),
        (
            {"default": "fail", "manifest.row_count": "quarantine"},
            "manifest.row_count: a manifest-level check always fails",
        ),
    ],
)
def test_bad_policies_are_rejected(mapping, message):
    with pytest.raises(ValueError, match=message):
        Policy(mapping)
