"""Write a pip installation report (``pip install --dry-run --report``) as an exact pin list.

    python requirements/freeze_report.py REPORT.json SOURCE.in > requirements/gpu.txt
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def pins(report: dict) -> list[str]:
    """``name==version`` for every distribution the report installs, sorted by name, local tags kept out."""
    out = {}
    for item in report["install"]:
        meta = item["metadata"]
        out[meta["name"].lower()] = f"{meta['name']}=={meta['version'].split('+')[0]}"
    return [out[k] for k in sorted(out)]


def main(report_path: str, source: str) -> None:
    report = json.loads(open(report_path).read())
    env = report.get("environment", {})
    print(f"# Resolved from {source} by `make {Path(source).stem}-lock` (pip {report.get('pip_version', '?')}) for "
          f"{env.get('sys_platform', '?')} {env.get('platform_machine', '?')}, "
          f"Python {env.get('python_full_version', '?')}. Do not edit: change {source} and rerun.")
    print("\n".join(pins(report)))


if __name__ == "__main__":
    main(*sys.argv[1:3])
