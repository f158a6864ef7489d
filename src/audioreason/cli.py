"""The ``audioreason`` command line.

audioreason world --out data [--seed N]     write the synthetic audio world
audioreason check-data                      data/ matches data.dvc
audioreason data inspect --format F PATH    what the importer makes of a dataset on disk (JSON)
audioreason score mmau PRED.json            official MMAU scoring of a prediction file
audioreason score music_avqa PRED.json      MUSIC-AVQA accuracy per type / group (vocabulary mapping)
audioreason score ser PRED.json             SER UA / WA and the confusion matrix (IEMOCAP, FAU-Aibo)
audioreason params --from F [--overrides Y] [--set K=V ...]
                                            write params.yaml from a scale's file with checked overrides
audioreason serve-teacher NAME              run `vllm serve` for teachers.NAME as params configure it
audioreason plan [--params F] [--gpu G] [--gpus N] [--json PATH]
                                            GPU memory and time of every paper-scale stage
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
score_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Score prediction files.")
app.add_typer(score_app, name="score")
data_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Datasets on disk.")
app.add_typer(data_app, name="data")


@app.command()
def world(
    out: Path = typer.Option(Path("data"), help="Folder to write the world into (data/ is what data.dvc tracks)."),
    seed: int | None = typer.Option(None, help="Override params world.seed."),
    params: Path = typer.Option(Path("params.yaml"), help="Params file holding the `world` section."),
) -> None:
    """Write the synthetic audio world in the real dataset formats (deterministic)."""
    import dataclasses

    from audioreason.config import load_params
    from audioreason.world.write import write_world

    cfg = load_params(params, sections=["world"])["world"]
    if seed is not None:
        cfg = dataclasses.replace(cfg, seed=seed)
    counts = write_world(out, cfg)
    typer.echo(json.dumps({"out": str(out), **counts}))


@app.command("check-data")
def check_data(
    data: Path = typer.Option(Path("data"), help="The raw-input folder."),
    dvc_file: Path = typer.Option(Path("data.dvc"), help="The .dvc file that tracks it."),
) -> None:
    """Fail unless DATA hashes (as DVC hashes it) to what DVC_FILE records.

    ``dvc status`` cannot tell a mismatch from a fresh clone's empty cache; this can.
    """
    from audioreason.tracking import dvc_hash, dvc_tracked_hash

    expected, actual = dvc_tracked_hash(dvc_file), dvc_hash(data)
    if expected != actual:
        typer.echo(
            f"error: {data}/ hashes to {actual} but {dvc_file} records {expected}: regenerate it "
            f"(rm -rf {data} && audioreason world --out {data}) or accept it (dvc add {data})",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(f"{data}/ matches {dvc_file} ({actual})")


@data_app.command("inspect")
def data_inspect(
    path: Path = typer.Argument(
        ..., help="What the format's importer reads (file or folder; see datasets/formats.py)."
    ),
    fmt: str = typer.Option(
        ...,
        "--format",
        help="Dataset format: avqa, mmau, music_avqa, iemocap, fau_aibo, vctk, "
        "desed, maestro, vggsound, audiosetcaps, cota.",
    ),
    check_audio: bool = typer.Option(True, help="Count records whose audio file is missing as quarantined."),
) -> None:
    """Read PATH as FORMAT and print one JSON object: records, quarantined, errors, labels/gender/types/tasks.

    Malformed records are quarantined and counted (the first few listed under ``errors``,
    each naming file and record); records the dataset's standard protocol leaves out
    (IEMOCAP outside the 4-way set) are counted under ``filtered``. Exit status 1 when
    the path or format is unusable.
    """
    from audioreason.datasets.inspect import inspect_dataset

    try:
        summary = inspect_dataset(fmt, path, check_audio_exists=check_audio)
    except (ValueError, FileNotFoundError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from e
    typer.echo(json.dumps(summary, indent=2, sort_keys=True))


@score_app.command("mmau")
def score_mmau_cmd(
    predictions: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        help="MMAU evaluation input: the test-mini list with a `model_output` key per item.",
    ),
) -> None:
    """Score PRED.json with the official MMAU rule; print one JSON object (percentages)."""
    from audioreason.evaluation.mmau import score_mmau_file

    typer.echo(json.dumps(score_mmau_file(predictions), indent=2, sort_keys=True))


@score_app.command("music_avqa")
def score_music_avqa_cmd(
    predictions: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        help="JSON list of items with `answer`, `group`, `type` and `prediction` (a raw completion or the answer).",
    ),
) -> None:
    """Score MUSIC-AVQA predictions (vocabulary mapping); accuracy per type, per group, overall as JSON."""
    from audioreason.evaluation.music_avqa import score_music_avqa

    typer.echo(json.dumps(score_music_avqa(json.loads(predictions.read_text())), indent=2, sort_keys=True))


@score_app.command("ser")
def score_ser_cmd(
    predictions: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="JSON list of items with `answer` (class label) and `prediction` (text)."
    ),
    dataset: str = typer.Option("iemocap", help="Class set: iemocap (4-way) or fau_aibo (5-class)."),
    confusion_png: Path = typer.Option(None, help="Also draw the confusion matrix here."),
) -> None:
    """Score SER predictions: UA, WA, per-class recall and the confusion matrix as JSON."""
    from audioreason.evaluation.ser import CLASS_WORDS, plot_confusion, predicted_class, score_ser

    if dataset not in CLASS_WORDS:
        raise typer.BadParameter(f"unknown dataset {dataset!r} (have: {', '.join(CLASS_WORDS)})")
    words = CLASS_WORDS[dataset]
    items = json.loads(predictions.read_text())
    scores = score_ser(
        [i["answer"] for i in items], [predicted_class(str(i["prediction"]), words) for i in items], list(words)
    )
    if confusion_png:
        plot_confusion(scores, confusion_png, dataset)
    typer.echo(json.dumps(scores, indent=2, sort_keys=True))


@app.command("params")
def params_cmd(
    source: Path = typer.Option(
        Path("params.paper.yaml"), "--from", exists=True, dir_okay=False, help="The scale's params file to start from."
    ),
    out: Path = typer.Option(Path("params.yaml"), help="Where to write (what `dvc repro` reads)."),
    overrides_files: list[Path] = typer.Option(
        [], "--overrides", exists=True, dir_okay=False, help="YAML file of section.key: value, applied before --set."
    ),
    overrides: list[str] = typer.Option([], "--set", help="section.key=value (YAML value); the key must exist."),
) -> None:
    """Write OUT from SOURCE with overrides; every key must exist and the result must validate."""
    from audioreason.config import ConfigError
    from audioreason.deploy import write_params

    try:
        write_params(source, out, overrides, overrides_files)
    except ConfigError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from e
    typer.echo(
        f"{out}: written from {source}"
        + "".join(f" + {f}" for f in overrides_files)
        + (f" with {', '.join(overrides)}" if overrides else "")
    )


@app.command("serve-teacher")
def serve_teacher(
    name: str = typer.Argument(..., help="A teachers.<name> entry whose backend is vllm."),
    params: Path = typer.Option(Path("params.yaml"), exists=True, dir_okay=False, help="Params file."),
    host: str = typer.Option("0.0.0.0", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port of the OpenAI-compatible API."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the command instead of running it."),
) -> None:
    """Serve teachers.NAME with `vllm serve` (tensor parallel size, context, media limits from params)."""
    import os
    import shlex
    import shutil

    from audioreason.config import ConfigError
    from audioreason.deploy import vllm_serve_argv

    try:
        argv = vllm_serve_argv(name, params, host=host, port=port)
    except ConfigError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from e
    if dry_run:
        typer.echo(shlex.join(argv))
        return
    exe = shutil.which(argv[0])
    if exe is None:
        typer.echo(
            "error: `vllm` is not installed here (GPU image: docker/gpu.Dockerfile, or "
            "pip install 'audioreason[vllm]')",
            err=True,
        )
        raise typer.Exit(1)
    os.execv(exe, argv)


@app.command("plan")
def plan_cmd(
    params: Path = typer.Option(
        Path("params.paper.yaml"), exists=True, dir_okay=False, help="Params file whose stages are planned."
    ),
    gpu_name: str = typer.Option(
        "a800-80g", "--gpu", help="a800-80g, a40-48g, a6000-48g, h200-141g or h100-80g (see audioreason.planning.GPUS)."
    ),
    gpus: int = typer.Option(8, min=1, help="GPUs on the node."),
    json_path: Path = typer.Option(None, "--json", help="Also write the plan here as JSON."),
) -> None:
    """Per stage: parameters, memory per GPU (ZeRO-aware), whether it fits, tokens per step and wall time.

    A stage that does not fit names the smallest change that makes it fit. DeepSpeed configs named by the
    params are read relative to the params file's folder.
    """
    from audioreason.config import ConfigError
    from audioreason.planning import format_table, gpu, plan_params

    try:
        device = gpu(gpu_name)
        plans = plan_params(params, device, gpus)
    except (ConfigError, ValueError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from e
    typer.echo(format_table(plans, device, gpus))
    if json_path:
        payload = {"gpu": device.name, "gpus": gpus, "params": str(params), "stages": [p.to_dict() for p in plans]}
        json_path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    app()
