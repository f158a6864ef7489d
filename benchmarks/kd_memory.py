"""Peak memory and time of the chunked KD loss against the naive one (paper 01's JSD, CPU, fp32).

Each variant runs in a fresh process: it allocates the student and teacher logits
(``[seq, vocab]``, fp32; the default is Qwen's vocabulary, 151,936, and a 2,048-token
response), records its resident memory, runs forward and backward of the JSD over every
position, and reports the peak resident memory above that baseline (``ru_maxrss``) and
the wall time. The student's logit gradient (one ``[seq, vocab]`` tensor) is part of both.

    python benchmarks/kd_memory.py                    # vocab 151936, seq 2048, chunk 256
    python benchmarks/kd_memory.py --vocab 32000 --seq 512
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def measure(variant: str, vocab: int, seq: int, chunk: int) -> dict:
    import torch

    from audioreason.losses.divergences import chunked_kd_loss, kd_loss

    torch.manual_seed(0)
    student = torch.randn(1, seq, vocab, requires_grad=True)
    teacher = torch.randn(1, seq, vocab)
    mask = torch.ones(1, seq, dtype=torch.bool)
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    if variant == "naive":
        loss = kd_loss(student, teacher, mask, kind="jsd", beta=0.5)
    else:
        loss = chunked_kd_loss(student, teacher, mask, kind="jsd", beta=0.5, chunk_size=chunk)
    loss.backward()
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "variant": variant,
        "loss": float(loss),
        "seconds": seconds,
        "peak_above_inputs_gb": (peak_kb - base_kb) / 2**20,
        "grad_norm": float(student.grad.norm()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=int, default=151936)
    parser.add_argument("--seq", type=int, default=2048)
    parser.add_argument("--chunk", type=int, default=256)
    parser.add_argument("--child", choices=["naive", "chunked"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.vocab, args.seq, args.chunk)))
        return
    results = {}
    for variant in ("naive", "chunked"):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                variant,
                "--vocab",
                str(args.vocab),
                "--seq",
                str(args.seq),
                "--chunk",
                str(args.chunk),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        results[variant] = json.loads(out.stdout.strip().splitlines()[-1])
    n, c = results["naive"], results["chunked"]
    logits_gb = args.seq * args.vocab * 4 / 2**30
    print(f"JSD over {args.seq} tokens x {args.vocab} vocabulary, fp32 (one logits tensor = {logits_gb:.2f} GB)")
    for r in (n, c):
        print(
            f"  {r['variant']:8s} peak above inputs {r['peak_above_inputs_gb']:6.2f} GB   time {r['seconds']:6.2f} s"
            f"   loss {r['loss']:.6f}"
        )
    print(
        f"  chunked / naive: peak memory {c['peak_above_inputs_gb'] / n['peak_above_inputs_gb']:.3f}, "
        f"time {c['seconds'] / n['seconds']:.3f}; |loss difference| {abs(c['loss'] - n['loss']):.2e}"
    )


if __name__ == "__main__":
    main()
