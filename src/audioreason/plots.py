"""The one matplotlib setup of the package: headless figures written as PNG.

Stages run without a display, so every figure is drawn on the file-only Agg backend and
freed once written. The plots that several stages draw (a bar per metric, a training-loss
curve, GRPO's reward curves) live here; a plot that one scorer or stage alone draws uses
:func:`figure` and :func:`save_figure`.
"""

from __future__ import annotations

import csv
from pathlib import Path


def figure():
    """``matplotlib.pyplot`` on the file-only Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, png: Path, dpi: int = 100) -> Path:
    """Lay out, write ``png`` (creating its folder) and free the figure."""
    plt = figure()
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=dpi)
    plt.close(fig)
    return png


def bar_plot(
    values: dict[str, float],
    png: Path,
    *,
    title: str,
    ylabel: str,
    ylim: tuple[float, float] | None = None,
    reference: float | None = None,
) -> Path:
    """One bar per key, the value written above it; ``reference`` draws a dashed line (a target share)."""
    plt = figure()
    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(values) + 2), 3))
    keys = list(values)
    ax.bar(keys, [values[k] for k in keys], color="#1f77b4")
    for i, k in enumerate(keys):
        ax.text(i, values[k], f"{values[k]:.2f}", ha="center", va="bottom", fontsize=8)
    if reference is not None:
        ax.axhline(reference, ls="--", color="#888")
    ax.set(title=title, ylabel=ylabel)
    if ylim:
        ax.set_ylim(*ylim)
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    return save_figure(fig, png)


def plot_loss(history: list[dict], png: Path, csv_path: Path) -> Path:
    """The logged training loss per step: ``csv_path`` (step, loss) for ``dvc plots`` and ``png``.

    Args:
        history: Trainer log lines (:class:`audioreason.training.callbacks.TrackerCallback`);
            lines without a ``loss`` (evaluation, the final summary) are skipped.
    """
    rows = [h for h in history if "loss" in h]
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["step", "loss"])
        w.writeheader()
        w.writerows({"step": h["step"], "loss": h["loss"]} for h in rows)
    fig, ax = figure().subplots(figsize=(5, 3))
    ax.plot([h["step"] for h in rows], [h["loss"] for h in rows], marker="o")
    ax.set(xlabel="step", ylabel="train loss (answer tokens)", title="SFT")
    return save_figure(fig, png)


def plot_rewards(history: list[dict], names: list[str], png: Path) -> Path:
    """GRPO's mean reward per reward function and step (TRL's ``rewards/<name>/mean``), KL dashed."""
    fig, ax = figure().subplots(figsize=(5, 3))
    for name in names:
        points = [(h["step"], h[f"rewards/{name}/mean"]) for h in history if f"rewards/{name}/mean" in h]
        if points:
            ax.plot(*zip(*points), marker="o", label=name)
    kl = [(h["step"], h["kl"]) for h in history if "kl" in h]
    if kl:
        ax.plot(*zip(*kl), ls="--", color="#888", label="kl")
    ax.set(xlabel="step", ylabel="mean reward", title="GRPO rewards")
    ax.legend(fontsize=7)
    return save_figure(fig, png)
