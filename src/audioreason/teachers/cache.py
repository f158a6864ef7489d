"""Cached, resumable generation: every finished item is on disk before the next batch starts.

A generation is stored under a key of (backend, model, backend options, prompt template,
sampling params, item id, request content), so changing any of them regenerates exactly the affected
items, and an interrupted stage reruns only what is missing. The cache is a JSON Lines
file appended one line per item and flushed after every batch; a line torn by a kill
is counted (``torn_lines``) and its item generated again.

    gens, stats = generate_cached(backend, requests, sampling, cache=path, batch_size=32)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from tqdm.auto import tqdm

from audioreason.teachers.base import ChatRequest, Generation, SamplingParams, TeacherBackend

log = logging.getLogger(__name__)


def _options(backend: TeacherBackend) -> dict:
    options = getattr(backend, "options", None)
    return dataclasses.asdict(options) if dataclasses.is_dataclass(options) else {}


def cache_key(backend: TeacherBackend, request: ChatRequest, sampling: SamplingParams) -> str:
    """sha256 over everything that determines a generation (the backend's options included:
    the oracle's error rates, a server's dtype)."""
    ident = json.dumps(
        {
            "backend": backend.name,
            "model": backend.model,
            "options": _options(backend),
            "template": request.template,
            "sampling": sampling.to_json(),
            "item": request.item_id,
            "content": request.content_json(),
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(ident.encode("utf-8")).hexdigest()


@dataclass
class GenerationStats:
    """What one :func:`generate_cached` call did (logged by every generation stage)."""

    items: int = 0
    cached: int = 0
    generated: int = 0
    backend_calls: int = 0
    torn_lines: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    samples: int = 0
    by_template: dict[str, int] = field(default_factory=dict)

    @property
    def items_per_s(self) -> float:
        return self.generated / self.seconds if self.seconds > 0 else 0.0

    def metrics(self, prefix: str = "generation") -> dict[str, float]:
        return {
            f"{prefix}.items": self.items,
            f"{prefix}.cached": self.cached,
            f"{prefix}.generated": self.generated,
            f"{prefix}.backend_calls": self.backend_calls,
            f"{prefix}.torn_cache_lines": self.torn_lines,
            f"{prefix}.prompt_tokens": self.prompt_tokens,
            f"{prefix}.completion_tokens": self.completion_tokens,
            f"{prefix}.seconds": round(self.seconds, 3),
            f"{prefix}.items_per_s": round(self.items_per_s, 3),
        }


def read_cache(path: Path, *, repair: bool = False) -> tuple[dict[str, Generation], int]:
    """Cached generations by key, and the number of unreadable (torn) lines skipped.

    With ``repair``, a file holding torn lines is rewritten without them (atomically), so
    lines appended afterwards never join a torn one.
    """
    done: dict[str, Generation] = {}
    good: list[str] = []
    torn = 0
    if not path.exists():
        return done, torn
    with path.open(encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                done[row["key"]] = Generation.from_json(row["generation"])
                good.append(line if line.endswith("\n") else line + "\n")
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                torn += 1
    if repair and torn:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text("".join(good), encoding="utf-8")
        tmp.replace(path)
    return done, torn


def generate_cached(
    backend: TeacherBackend,
    requests: Sequence[ChatRequest],
    sampling: SamplingParams,
    *,
    cache: str | Path,
    batch_size: int,
    desc: str = "generate",
) -> tuple[list[Generation], GenerationStats]:
    """Generate for every request not yet in ``cache``; returns generations in request order.

    Raises:
        ValueError: two requests share an item id (their cache entries would collide),
            or the backend returned the wrong number of generations or samples.
    """
    ids = [r.item_id for r in requests]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise ValueError(f"duplicate item id {dup!r} among the requests")
    path = Path(cache)
    path.parent.mkdir(parents=True, exist_ok=True)
    done, torn = read_cache(path, repair=True)
    if torn:
        log.warning("%s: %d torn cache line(s) (an interrupted run); their items are generated again", path, torn)
    keys = [cache_key(backend, r, sampling) for r in requests]
    todo = [(k, r) for k, r in zip(keys, requests) if k not in done]
    stats = GenerationStats(items=len(requests), cached=len(requests) - len(todo), torn_lines=torn)
    for r in requests:
        stats.by_template[r.template] = stats.by_template.get(r.template, 0) + 1
    start = time.perf_counter()
    bar = tqdm(total=len(todo), desc=desc, unit="item", disable=None)
    with path.open("a", encoding="utf-8") as sink:
        for i in range(0, len(todo), batch_size):
            chunk = todo[i : i + batch_size]
            gens = backend.generate([r for _, r in chunk], sampling)
            stats.backend_calls += 1
            if len(gens) != len(chunk):
                raise ValueError(f"backend {backend.name} returned {len(gens)} generations for {len(chunk)} requests")
            for (key, req), gen in zip(chunk, gens):
                if len(gen.texts) != sampling.n:
                    raise ValueError(
                        f"{req.item_id}: backend {backend.name} returned {len(gen.texts)} samples, "
                        f"expected n={sampling.n}"
                    )
                sink.write(
                    json.dumps(
                        {"key": key, "item_id": req.item_id, "template": req.template, "generation": gen.to_json()},
                        ensure_ascii=False,
                    )
                    + "\n"
                )
                done[key] = gen
                stats.generated += 1
                stats.samples += len(gen.texts)
                stats.prompt_tokens += gen.prompt_tokens
                stats.completion_tokens += gen.completion_tokens
            sink.flush()
            bar.update(len(chunk))
            elapsed = time.perf_counter() - start
            bar.set_postfix(items_s=f"{stats.generated / elapsed:.1f}" if elapsed else "-", tok=stats.completion_tokens)
    bar.close()
    stats.seconds = time.perf_counter() - start
    return [done[k] for k in keys], stats
