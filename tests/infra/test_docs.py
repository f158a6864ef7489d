"""README.md is an index and docs/ holds the manual: links resolve, every stage and page is reachable.

Relative links (``[x](path)``, ``[x](path#anchor)``, ``[x](#anchor)``) in README.md and
docs/**/*.md must name an existing file or folder of the repository, and an anchor into a
Markdown file must match one of its headings under GitHub's slug rule. Code (fenced blocks and
inline spans) is not prose: links written there are not checked.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
MAX_README_LINES = 200

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
EXTERNAL = ("http://", "https://", "mailto:")


def doc_pages(root: Path = REPO) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def prose_lines(text: str) -> list[str]:
    """The Markdown's lines outside fenced code blocks (a fenced line becomes empty, so numbering holds)."""
    lines, fence = [], None
    for line in text.splitlines():
        m = FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)[0] * len(m.group(1))
            lines.append("")
        elif fence is not None:
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                fence = None
            lines.append("")
        else:
            lines.append(line)
    return lines


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: rendered text, lower case, punctuation dropped, spaces -> '-'.

    >>> github_slug("`distill@<row>`: the KD trainer")
    'distillrow-the-kd-trainer'
    >>> github_slug("Promotion: the champion gate")
    'promotion-the-champion-gate'
    """
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link renders as its text
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)  # \w: Unicode letters, digits, underscore
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading anchor of a Markdown page (repeated headings get -1, -2 ... as on GitHub)."""
    seen: dict[str, int] = {}
    out = set()
    for line in prose_lines(page.read_text(encoding="utf-8")):
        m = HEADING.match(line)
        if not m:
            continue
        slug = github_slug(m.group(2))
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def relative_links(page: Path) -> list[tuple[int, str]]:
    """(line number, target) of every relative link in the page's prose."""
    found = []
    for number, line in enumerate(prose_lines(page.read_text(encoding="utf-8")), start=1):
        for m in LINK.finditer(INLINE_CODE.sub("", line)):
            target = m.group(1)
            if not target.lower().startswith(EXTERNAL):
                found.append((number, target))
    return found


def resolve(page: Path, target: str, root: Path = REPO) -> tuple[Path, str]:
    """The path a link points at (relative to its page; ``/x`` to the repository root) and its anchor."""
    path, _, anchor = target.partition("#")
    path = unquote(path)
    if not path:
        return page, anchor
    base = root if path.startswith("/") else page.parent
    return (base / path.lstrip("/")).resolve(), anchor


def broken_links(page: Path, root: Path = REPO) -> list[str]:
    """Each relative link of the page that names no file or folder, or no heading, of the repository."""
    problems = []
    for number, target in relative_links(page):
        where = f"{page.relative_to(root)}:{number}: ({target})"
        path, anchor = resolve(page, target, root)
        if not path.is_relative_to(root.resolve()):
            problems.append(f"{where} points outside the repository")
        elif not path.exists():
            problems.append(f"{where} names no file or folder")
        elif anchor and path.suffix == ".md" and path.is_file() and anchor not in anchors(path):
            problems.append(f"{where} names no heading of {path.relative_to(root.resolve())}")
    return problems


def section(text: str, title: str) -> str:
    """The body of the README's level-2 section ``## <title>``, up to the next level-2 heading."""
    lines = prose_lines(text)
    raw = text.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"^## {re.escape(title)}\s*$", line))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(raw[start + 1 : end])


def test_readme_is_an_index():
    n = len(README.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_README_LINES, f"README.md has {n} lines; move detail into docs/ (at most {MAX_README_LINES})"


@pytest.mark.parametrize("page", doc_pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(page):
    assert broken_links(page) == []


def test_every_dvc_stage_is_in_the_readme_pipeline_section():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    pipeline = section(README.read_text(encoding="utf-8"), "Pipeline")
    missing = [name for name in stages if not re.search(rf"`{re.escape(name)}(@[^`]*)?`", pipeline)]
    assert missing == [], f"dvc.yaml stages not listed in README.md's Pipeline section: {missing}"


def test_every_docs_page_is_linked_from_the_readme():
    linked = {resolve(README, target)[0] for _, target in relative_links(README)}
    pages = [p.resolve() for p in sorted((REPO / "docs").rglob("*.md"))]
    assert pages, "docs/ holds no pages"
    assert [str(p.relative_to(REPO)) for p in pages if p not in linked] == []


def test_the_link_check_reports_broken_links_and_anchors(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "src").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A page\n\n## The `distill` stage\n\n```\n## not a heading\n```\n")
    (tmp_path / "README.md").write_text(
        "# Index\n\n"
        "[ok](docs/a.md) [ok](docs/a.md#the-distill-stage) [ok](src/) [ok](#index) [web](https://example.org/x)\n"
        "[gone](docs/missing.md) [bad anchor](docs/a.md#not-a-heading) [here](#nowhere)\n"
        "`[in code](docs/missing.md)`\n"
        "```\n[in a block](docs/missing.md)\n```\n"
    )
    problems = broken_links(tmp_path / "README.md", root=tmp_path)
    assert [p.split(": ", 1)[1] for p in problems] == [
        "(docs/missing.md) names no file or folder",
        "(docs/a.md#not-a-heading) names no heading of docs/a.md",
        "(#nowhere) names no heading of README.md",
    ]
    assert all(p.startswith("README.md:4: ") for p in problems)
