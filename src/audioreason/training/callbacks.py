"""Trainer callbacks shared by every training stage (SFT, distillation, GRPO)."""

from __future__ import annotations

from transformers import TrainerCallback

from audioreason.tracking import NullTracker


class TrackerCallback(TrainerCallback):
    """Forward every Trainer log line (loss, lr, grad norm, token accuracy, rewards) to the tracker.

    ``history`` keeps the lines with their step, for the loss and reward plots
    (:mod:`audioreason.plots`).
    """

    def __init__(self, tracker: NullTracker):
        self.tracker = tracker
        self.history: list[dict] = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        numeric = {k: v for k, v in (logs or {}).items() if isinstance(v, (int, float))}
        if numeric:
            self.tracker.log_metrics(numeric, step=state.global_step)
            self.history.append({"step": state.global_step, **numeric})
