"""The distill stage's resume rule (paper 01): a checkpoint resumes only under the params it was trained with."""

from __future__ import annotations

import json

from audioreason.stages.distill import RESUME_FILE, params_fingerprint, resumable_run


def test_a_checkpoint_resumes_only_under_the_params_it_was_trained_with(tmp_path):
    ckpt = tmp_path / "checkpoints"
    (ckpt / "checkpoint-4").mkdir(parents=True)
    params = {"distill.trainer.max_steps": 100}
    (ckpt / RESUME_FILE).write_text(json.dumps({"run_id": "abc", "params": params_fingerprint(params)}))
    assert resumable_run(ckpt, params) == "abc" and ckpt.is_dir()
    assert resumable_run(ckpt, {"distill.trainer.max_steps": 160}) is None
    assert not ckpt.exists()  # a checkpoint of other params is discarded, not resumed
    (ckpt).mkdir()
    (ckpt / RESUME_FILE).write_text(json.dumps({"run_id": "abc", "params": params_fingerprint(params)}))
    assert resumable_run(ckpt, params) is None  # nothing saved yet: nothing to resume
