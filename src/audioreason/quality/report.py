"""One report over all quality gates: manifest expectations plus audio-file checks.

The ``validate`` stage builds a :class:`QualityReport`, writes :meth:`QualityReport.to_json`
as its metrics file, and raises :class:`QualityError` (whose message is
:meth:`QualityReport.to_text`) when anything failed, so the pipeline stops with a
report naming the failing records and files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from audioreason.datasets.records import QARecord
from audioreason.quality.audio_checks import AudioReport
from audioreason.quality.expectations import ManifestReport

__all__ = ["QualityError", "QualityReport", "audio_sources"]

# How many records using one bad audio file the text report lists by name.
_MAX_TEXT_AUDIO_RECORDS = 5


def audio_sources(records: Iterable[QARecord]) -> dict[str, tuple[str, ...]]:
    """Map each audio path to the ``source`` strings of the records that use it.

    Args:
        records: Manifest records (any number of manifests).

    Returns:
        ``{audio path: (source, ...)}`` in first-seen order, without repeats.
    """
    out: dict[str, dict[str, None]] = {}
    for r in records:
        out.setdefault(str(r.audio), {})[r.source or f"{r.dataset}/{r.split} id {r.id}"] = None
    return {path: tuple(sources) for path, sources in out.items()}


@dataclass
class QualityReport:
    """Manifest and audio quality results for one ``validate`` run.

    Attributes:
        manifests: One report per validated manifest.
        audio: One report per checked audio file.
        audio_records: ``{audio path: sources of the records using it}``, used to
            say which records a bad file breaks (see :func:`audio_sources`).
    """

    manifests: Sequence[ManifestReport] = ()
    audio: Sequence[AudioReport] = ()
    audio_records: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @classmethod
    def from_checks(
        cls,
        manifests: Sequence[ManifestReport],
        audio: Sequence[AudioReport],
        records: Iterable[QARecord] = (),
    ) -> "QualityReport":
        """Build a report, deriving :attr:`audio_records` from ``records``."""
        return cls(list(manifests), list(audio), audio_sources(records))

    @property
    def success(self) -> bool:
        """``True`` when every manifest passed and every audio file is ok."""
        return all(m.success for m in self.manifests) and all(a.ok for a in self.audio)

    @property
    def failed_audio(self) -> list[AudioReport]:
        """The audio reports with problems, in check order."""
        return [a for a in self.audio if not a.ok]

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-serialisable summary (every failure, every affected record)."""
        failed = self.failed_audio
        return {
            "success": self.success,
            "manifests": {
                m.name: {
                    "n_records": m.n_records,
                    "success": m.success,
                    "failures": [dict(f) for f in m.failures],
                    "gx_statistics": dict(m.gx_statistics),
                }
                for m in self.manifests
            },
            "audio": {
                "n_checked": len(self.audio),
                "n_failed": len(failed),
                "failures": [
                    {
                        "path": a.path,
                        "problems": list(a.problems),
                        "records": list(self.audio_records.get(a.path, ())),
                    }
                    for a in failed
                ],
            },
        }

    def to_text(self) -> str:
        """Return a multi-line, human-readable report naming every failing record and file."""
        failed_manifests = [m for m in self.manifests if not m.success]
        failed_audio = self.failed_audio
        n_record_failures = sum(f["n_failed"] for m in failed_manifests for f in m.failures)
        lines: list[str] = []
        if self.success:
            lines.append(
                f"Quality checks passed: {len(self.manifests)} manifest(s), "
                f"{sum(m.n_records for m in self.manifests)} records, "
                f"{len(self.audio)} audio file(s)."
            )
            return "\n".join(lines)

        summary = []
        if failed_manifests:
            n_checks = sum(len(m.failures) for m in failed_manifests)
            summary.append(
                f"{n_checks} manifest check(s) failed in {len(failed_manifests)} of "
                f"{len(self.manifests)} manifest(s) ({n_record_failures} record failure(s))"
            )
        if failed_audio:
            summary.append(f"{len(failed_audio)} of {len(self.audio)} audio file(s) failed")
        lines.append("Quality checks FAILED: " + "; ".join(summary))

        for m in self.manifests:
            status = "ok" if m.success else "FAILED"
            lines.append("")
            lines.append(f"manifest {m.name} ({m.n_records} records): {status}")
            for f in m.failures:
                head = f"  {m.name}: {f['description']}"
                if f.get("n_failed"):
                    head += f" ({f['n_failed']} record(s))"
                if f.get("detail"):
                    head += f" [{f['detail']}]"
                lines.append(head)
                for rec in f.get("records", ()):
                    lines.append(f"    {rec}")
                unlisted = int(f.get("n_failed") or 0) - len(f.get("records", ()))
                if f.get("records") and unlisted > 0:
                    lines.append(f"    ... and {unlisted} more")

        if self.audio:
            lines.append("")
            lines.append(f"audio: {len(failed_audio)} of {len(self.audio)} file(s) failed")
            for a in failed_audio:
                lines.append(f"  {a.path}: {'; '.join(a.problems)}")
                users = list(self.audio_records.get(a.path, ()))
                if users:
                    shown = ", ".join(users[:_MAX_TEXT_AUDIO_RECORDS])
                    more = len(users) - _MAX_TEXT_AUDIO_RECORDS
                    lines.append(f"    used by: {shown}" + (f" ... and {more} more" if more > 0 else ""))
        return "\n".join(lines)

    def raise_for_failure(self) -> None:
        """Raise :class:`QualityError` when any check failed.

        Raises:
            QualityError: With :meth:`to_text` as its message.
        """
        if not self.success:
            raise QualityError(self)


class QualityError(Exception):
    """A quality gate failed; the message is the full text report.

    Attributes:
        report: The failing :class:`QualityReport`.
    """

    def __init__(self, report: QualityReport):
        self.report = report
        super().__init__(report.to_text())
