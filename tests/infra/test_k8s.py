"""k8s/: every manifest is schema-valid and runs only what exists.

Kubernetes kinds are checked with kubernetes-validate --strict (1.37); the Kubeflow PyTorchJob
against the CRD's own openAPIV3Schema, closed the way the API server's strict field
validation closes it. Every command a pod runs must parse as a real ``dvc`` / ``make`` /
``audioreason`` / ``torchrun`` invocation, every params key it sets must exist and the result
must validate, and the resources around the commands (GPUs, /dev/shm, secrets, volumes) must
agree with each other and with params.
"""

from __future__ import annotations

import copy
import importlib.util
import re
import shlex
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from audioreason.deploy import parse_override, read_overrides_file, vllm_serve_argv, write_params

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
CRD = REPO.parent / "shared" / "reference" / "k8s" / "kubeflow.org_pytorchjobs.yaml"
K8S_VERSION = "1.37.0"
MANIFESTS = sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")
POD_KINDS = {"Job", "CronJob", "Deployment", "PyTorchJob"}


def documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


ALL = [(p, d) for p in MANIFESTS for d in documents(p)]


def ident(item) -> str:
    path, doc = item
    return f"{path.relative_to(K8S)}:{doc['kind']}/{doc['metadata']['name']}"


# --------------------------------------------------------------------------- schema helpers


def closed(schema):
    """The CRD schema with every object that lists its properties closed to others (strict field validation)."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if (
                node.get("type") == "object"
                and "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(schema)
    return schema


def crd_validator():
    crd = yaml.safe_load(CRD.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return (
        crd["spec"]["group"],
        crd["spec"]["names"]["kind"],
        jsonschema.Draft7Validator(closed(version["schema"]["openAPIV3Schema"])),
    )


def validate(doc: dict) -> None:
    """Raise unless ``doc`` is valid: Kubernetes kinds by kubernetes-validate --strict, PyTorchJob by its CRD."""
    if doc.get("kind") == "PyTorchJob":
        if not CRD.is_file():
            pytest.skip(f"the PyTorchJob CRD schema is not at {CRD}")
        group, kind, validator = crd_validator()
        assert doc["apiVersion"] == f"{group}/v1"
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        if errors:
            raise jsonschema.ValidationError(
                "; ".join(f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)
            )
        return
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


@pytest.mark.parametrize("item", ALL, ids=ident)
def test_every_manifest_validates_strictly(item):
    validate(item[1])


def test_the_cli_agrees_on_every_plain_manifest():
    plain = [str(p) for p in MANIFESTS if all(d["kind"] != "PyTorchJob" for d in documents(p))]
    r = subprocess.run(
        [
            str(Path(__import__("sys").executable).parent / "kubernetes-validate"),
            "--strict",
            "--quiet",
            "-k",
            K8S_VERSION,
            *plain,
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def first_job() -> dict:
    return copy.deepcopy(documents(K8S / "jobs" / "distill.yaml")[0])


def pytorchjob() -> dict:
    return copy.deepcopy(documents(K8S / "pytorchjob-distill.yaml")[0])


def _set(doc, path, value):
    node = doc
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value


def _rename(doc, path, new):
    node = doc
    for p in path[:-1]:
        node = node[p]
    node[new] = node.pop(path[-1])


@pytest.mark.parametrize(
    "make, mutate",
    [
        (first_job, lambda d: _rename(d, ["spec", "backoffLimit"], "backofLimit")),
        (first_job, lambda d: _set(d, ["spec", "activeDeadlineSeconds"], "3600")),
        (first_job, lambda d: _rename(d, ["spec", "template", "spec", "containers", 0, "resources"], "resource")),
        (first_job, lambda d: _set(d, ["spec", "template", "spec", "securityContext", "runAsNonRoot"], "yes")),
        (pytorchjob, lambda d: _rename(d, ["spec", "nprocPerNode"], "nprocPerNod")),
        (pytorchjob, lambda d: _set(d, ["spec", "pytorchReplicaSpecs", "Worker", "replicas"], "2")),
        (pytorchjob, lambda d: _set(d, ["spec", "runPolicy", "backoffLimit"], "1")),
        (
            pytorchjob,
            lambda d: _rename(
                d, ["spec", "pytorchReplicaSpecs", "Master", "template", "spec", "containers", 0, "image"], "imagee"
            ),
        ),
    ],
    ids=[
        "job-typo",
        "job-string-int",
        "container-typo",
        "job-string-bool",
        "ptj-typo",
        "ptj-string-int",
        "ptj-runpolicy-string-int",
        "ptj-pod-typo",
    ],
)
def test_broken_manifests_are_rejected(make, mutate):
    doc = make()
    validate(doc)  # the original passes ...
    mutate(doc)
    with pytest.raises((kubernetes_validate.ValidationError, jsonschema.ValidationError)):
        validate(doc)  # ... the broken copy does not


# --------------------------------------------------------------------------- pods and their commands


def pod_specs(doc: dict) -> list[dict]:
    kind = doc["kind"]
    if kind in ("Job", "Deployment"):
        return [doc["spec"]["template"]["spec"]]
    if kind == "CronJob":
        return [doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]]
    if kind == "PyTorchJob":
        return [r["template"]["spec"] for r in doc["spec"]["pytorchReplicaSpecs"].values()]
    return []


PODS = [(p, d) for p, d in ALL if d["kind"] in POD_KINDS]


def commands(container: dict) -> list[list[str]]:
    """The command lines a container runs: its script's lines when it is ``bash -ceu SCRIPT``."""
    argv = container.get("command", []) + container.get("args", [])
    if not argv:
        return []  # the image's own entrypoint (postgres)
    if argv[:2] == ["bash", "-ceu"] or argv[:2] == ["sh", "-c"]:
        lines = [line.strip() for line in argv[2].splitlines() if line.strip()]
        out = [shlex.split(line) for line in lines]
    else:
        out = [argv]
    return [c[1:] if c[0] == "exec" else c for c in out]


def dvc_stages() -> set[str]:
    return set(yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"])


def check_command(argv: list[str], tmp_path: Path) -> dict:
    """Assert ``argv`` is a real invocation; return what it tells (params written, torchrun args)."""
    tool = argv[0]
    if tool == "make":
        r = subprocess.run(
            ["make", "-n", "-C", str(REPO), *argv[1:]],
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin", "DVC_CACHE_DIR": "/c", "DVC_REMOTE_URL": "s3://b"},
        )
        assert r.returncode == 0, f"{shlex.join(argv)}: {r.stderr}"
        return {}
    if tool == "dvc":
        from dvc.cli import parse_args

        try:
            args = parse_args(argv[1:])
        except BaseException as e:  # argparse exits, DVC raises its parser error
            pytest.fail(f"{shlex.join(argv)} is not a dvc command line: {e!r}")
        for target in getattr(args, "targets", None) or []:
            assert target.split("@")[0] in dvc_stages(), f"{shlex.join(argv)}: no stage {target!r} in dvc.yaml"
        return {}
    if tool in ("audioreason", "mlflow"):
        import click
        import typer

        if tool == "mlflow":
            from mlflow.cli import cli as group
        else:
            from audioreason.cli import app

            group = typer.main.get_command(app)
        ctx = click.Context(group, info_name=tool)
        name = argv[1]
        sub = group.get_command(ctx, name)
        assert sub is not None, f"{shlex.join(argv)}: {tool} has no command {name!r}"
        try:
            sub.make_context(name, list(argv[2:]), parent=ctx)
        except click.UsageError as e:
            pytest.fail(f"{shlex.join(argv)}: {e}")
        if tool == "mlflow":
            return {}
        if name == "params":
            source = argv[argv.index("--from") + 1]
            sets = [argv[i + 1] for i, a in enumerate(argv) if a == "--set"]
            files = [REPO / argv[i + 1] for i, a in enumerate(argv) if a == "--overrides"]
            out = tmp_path / "params.yaml"
            return {
                "params": write_params(REPO / source, out, sets, files),
                "params_path": out,
                "sets": [o for f in files for o in read_overrides_file(f)] + sets,
            }
        return {"serve": name, "argv": argv}
    if tool == "torchrun":
        from torch.distributed.run import get_args_parser

        args = get_args_parser().parse_args(argv[1:])
        assert args.module, f"{shlex.join(argv)}: run a module of the package with -m"
        assert importlib.util.find_spec(args.training_script), f"{args.training_script} is not importable"
        return {"torchrun": args}
    pytest.fail(f"{shlex.join(argv)}: not a package entry point, dvc, make or the pinned mlflow's CLI")


@pytest.mark.parametrize("item", PODS, ids=ident)
def test_every_command_is_real_and_every_params_key_exists(item, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    path, doc = item
    for pod in pod_specs(doc):
        for container in pod["containers"]:
            told = {}
            for argv in commands(container):
                told.update(check_command(argv, tmp_path))
            params = told.get("params")
            for text in told.get("sets", []):
                key, value = parse_override(text)
                if key[-1] == "deepspeed":
                    assert (REPO / value).is_file(), f"{path.name}: {value} does not exist"
                gpus = container["resources"]["limits"].get("nvidia.com/gpu")
                if key[-1] == "launch" and gpus:
                    nproc = re.search(r"--nproc_per_node[= ](\d+)", value)
                    assert nproc and int(nproc.group(1)) == gpus, f"{path.name}: {value!r} vs {gpus} GPUs"
            if told.get("serve"):
                assert params is not None, f"{path.name}: serve-teacher without params written first"
                argv = vllm_serve_argv(told["argv"][2], told["params_path"])
                tp = int(argv[argv.index("--tensor-parallel-size") + 1])
                assert container["resources"]["limits"]["nvidia.com/gpu"] == tp
            if "torchrun" in told and doc["kind"] == "PyTorchJob":
                row = told["torchrun"].training_script_args
                assert row[0] == "--row" and row[1] in params["distill"]["rows"]


def test_training_pods_hold_one_8_gpu_node_safely():
    trained = [
        (p, d)
        for p, d in PODS
        if d["kind"] in ("Job", "CronJob", "PyTorchJob")
        and any("nvidia.com/gpu" in c["resources"]["limits"] for s in pod_specs(d) for c in s["containers"])
    ]
    assert {p.name for p, _ in trained} >= {
        "distill.yaml",
        "grpo.yaml",
        "cronjob-retrain.yaml",
        "pytorchjob-distill.yaml",
    }
    for path, doc in trained:
        spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
        policy = spec.get("runPolicy", spec)
        assert isinstance(policy["backoffLimit"], int) and policy["activeDeadlineSeconds"] > 0, path.name
        for pod in pod_specs(doc):
            assert pod["nodeSelector"]["nvidia.com/gpu.present"] == "true"
            assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
            shm = {v["name"]: v for v in pod["volumes"]}
            (c,) = pod["containers"]
            mount = [m for m in c["volumeMounts"] if m["mountPath"] == "/dev/shm"]
            assert mount and shm[mount[0]["name"]]["emptyDir"]["medium"] == "Memory", path.name
            assert c["resources"]["limits"]["nvidia.com/gpu"] == 8 and c["resources"]["requests"]["cpu"]


def test_pods_run_unprivileged_and_read_secrets_only_by_reference():
    templates = documents(K8S / "secrets.template.yaml")
    secret_keys = {d["metadata"]["name"]: set(d["stringData"]) for d in templates}
    config = {d["metadata"]["name"]: set(d["data"]) for d in documents(K8S / "config.yaml")}
    claims = {d["metadata"]["name"] for d in documents(K8S / "storage.yaml")}
    for path, doc in PODS:
        for pod in pod_specs(doc):
            assert pod["securityContext"]["runAsNonRoot"] is True, path.name
            assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
            for v in pod.get("volumes", []):
                if "persistentVolumeClaim" in v:
                    assert v["persistentVolumeClaim"]["claimName"] in claims
            for c in pod["containers"]:
                assert c["securityContext"]["allowPrivilegeEscalation"] is False
                assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
                for e in c.get("env", []):
                    if re.search(r"PASSWORD|SECRET|TOKEN|API_KEY|ACCESS_KEY", e["name"]):
                        assert "value" not in e, f"{path.name}: {e['name']} is inlined"
                    ref = e.get("valueFrom", {}).get("secretKeyRef")
                    if ref:
                        assert ref["key"] in secret_keys[ref["name"]], f"{path.name}: {ref}"
                    ref = e.get("valueFrom", {}).get("configMapKeyRef")
                    if ref:
                        assert ref.get("optional") is True or ref["key"] in config[ref["name"]], ref
                for src in c.get("envFrom", []):
                    assert src["configMapRef"]["name"] in config
    for d in templates:
        assert set(d["stringData"].values()) <= {"REPLACE_ME", "mlflow"}, d["metadata"]["name"]


def test_the_cronjob_retrains_then_gates_and_never_overlaps():
    (cron,) = documents(K8S / "cronjob-retrain.yaml")
    spec = cron["spec"]
    assert spec["concurrencyPolicy"] == "Forbid" and spec["startingDeadlineSeconds"] > 0
    assert spec["successfulJobsHistoryLimit"] >= 1 and spec["failedJobsHistoryLimit"] >= 1
    (container,) = pod_specs(cron)[0]["containers"]
    steps = [" ".join(c[:2]) for c in commands(container)]
    assert [s for s in steps if s.startswith("dvc ")] == ["dvc pull", "dvc repro", "dvc push"]
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert (
        "register" in stages
        and stages["register"]["cmd"] == "python -m audioreason.warm -m audioreason.stages.register"
    )
    env = {e["name"] for e in container["env"]} | set(documents(K8S / "config.yaml")[0]["data"])
    assert "MLFLOW_TRACKING_URI" in env


def test_kustomization_lists_existing_files_and_leaves_secret_templates_out():
    k = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert all((K8S / r).is_file() for r in k["resources"])
    assert "secrets.template.yaml" not in k["resources"]
    images = {i["name"] for i in k["images"]}
    used = {c["image"].split(":")[0] for _, d in PODS for s in pod_specs(d) for c in s["containers"]}
    assert used - {"postgres"} <= images


def written_params(doc: dict, tmp_path: Path) -> list[dict]:
    out = []
    for pod in pod_specs(doc):
        for container in pod["containers"]:
            for argv in commands(container):
                if argv[:2] == ["audioreason", "params"]:
                    out.append(check_command(argv, tmp_path)["params"])
    return out


def test_every_pipeline_pod_writes_the_same_params(tmp_path, monkeypatch):
    """One pipeline state on the outputs volume needs one params.yaml: a key set by one Job only would
    make the next Job see that Job's stages as stale."""
    monkeypatch.chdir(REPO)
    by_file = {}
    for path, doc in PODS:
        if doc["metadata"]["name"] == "vllm-textualizer":
            continue  # the server reads the teacher's own vllm spec
        for params in written_params(doc, tmp_path):
            by_file[path.name] = params
    assert {
        "distill.yaml",
        "grpo.yaml",
        "textualize-cota.yaml",
        "cronjob-retrain.yaml",
        "pytorchjob-distill.yaml",
    } <= set(by_file)
    first = next(iter(by_file.values()))
    assert all(p == first for p in by_file.values()), sorted(by_file)
    assert first["distill"]["launch"] == first["grpo"]["launch"] == "torchrun --nproc_per_node=8"
    assert first["sft_cot"]["launch"] == "torchrun --nproc_per_node=8"
    assert first["sft_cot"]["trainer"]["deepspeed"] == "docker/deepspeed/sft_p02.json"


def test_the_textualizer_client_reaches_the_vllm_server(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    cluster = write_params(REPO / "params.paper.yaml", tmp_path / "c.yaml", (), [REPO / "params.cluster.yaml"])
    client = cluster["teachers"]["textualizer"]
    (deploy, service) = documents(K8S / "vllm-textualizer.yaml")
    (server_params,) = written_params(deploy, tmp_path)
    port = service["spec"]["ports"][0]["port"]
    host = f"http://{service['metadata']['name']}.{service['metadata']['namespace']}.svc.cluster.local:{port}/v1"
    assert client["backend"] == "openai" and client["options"]["base_url"] == host
    served = vllm_serve_argv("textualizer", tmp_path / "params.yaml")
    assert served[served.index("--served-model-name") + 1] == client["model"]
    assert served[served.index("--port") + 1] == str(port)


def upstream_stages(targets: list[str]) -> set[str]:
    """The ``dvc.yaml`` stages ``dvc repro TARGETS`` may run (all of them without targets)."""
    import networkx as nx
    from dvc.repo import Repo

    with Repo(str(REPO)) as repo:
        graph = repo.index.graph
        chosen = [s for s in graph.nodes if not targets or s.addressing.split("@")[0] in targets]
        return {s.addressing.split("@")[0] for s in chosen} | {
            d.addressing.split("@")[0] for s in chosen for d in nx.descendants(graph, s)
        }


def test_pods_carry_the_api_keys_of_the_teachers_their_stages_call(tmp_path, monkeypatch):
    """A stage upstream of a Job's target that calls a hosted teacher needs its key in that pod, or the
    Job fails after hours of upstream work; the key must be required (pod start fails at once)."""
    monkeypatch.chdir(REPO)
    for path, doc in PODS:
        for pod in pod_specs(doc):
            for container in pod["containers"]:
                runs = [c for c in commands(container) if c[:2] == ["dvc", "repro"]]
                if not runs:
                    continue
                (params,) = written_params(
                    {"kind": "Job", "spec": {"template": {"spec": {"containers": [container]}}}}, tmp_path
                )
                targets = [a for a in runs[0][2:] if not a.startswith("-")]
                keys = {
                    params["teachers"][params[stage]["teacher"]]["options"].get("api_key_env")
                    for stage in upstream_stages(targets)
                    if isinstance(params.get(stage), dict) and params[stage].get("teacher") in params["teachers"]
                } - {None, ""}
                env = {e["name"]: e for e in container.get("env", [])}
                for key in keys:
                    assert key in env, f"{path.name}: {targets or 'all stages'} reach a teacher that needs {key}"
                    assert not env[key]["valueFrom"]["secretKeyRef"].get("optional"), f"{path.name}: {key} optional"
