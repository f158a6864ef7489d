"""The ``audioreason`` command line.

    audioreason world --out data [--seed N]     write the synthetic audio world
    audioreason score mmau PRED.json            official MMAU scoring of a prediction file
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
score_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Score prediction files.")
app.add_typer(score_app, name="score")


@app.command()
def world(
    out: Path = typer.Option(Path("data"), help="Folder to write the world into (data/ is what data.dvc tracks)."),
    seed: int | None = typer.Option(None, help="Override params world.seed."),
    params: Path = typer.Option(Path("params.yaml"), help="Params file holding the `world` section."),
) -> None:
    """Write the synthetic audio world in the real dataset formats (deterministic)."""
    import dataclasses

    from audioreason.config import load_params
    from audioreason.world.generator import write_world

    cfg = load_params(params, sections=["world"])["world"]
    if seed is not None:
        cfg = dataclasses.replace(cfg, seed=seed)
    counts = write_world(out, cfg)
    typer.echo(json.dumps({"out": str(out), **counts}))


@score_app.command("mmau")
def score_mmau_cmd(
    predictions: Path = typer.Argument(..., exists=True, dir_okay=False, help="MMAU evaluation input: the test-mini list with a `model_output` key per item."),
) -> None:
    """Score PRED.json with the official MMAU rule; print one JSON object (percentages)."""
    from audioreason.evaluation.mmau import score_mmau_file

    typer.echo(json.dumps(score_mmau_file(predictions), indent=2, sort_keys=True))


if __name__ == "__main__":
    app()
