"""CoTA importer: Audio-Reasoner's chain-of-thought audio QA, as Hugging Face parquet files.

Format (FORMATS.md, "CoTA (Audio-Reasoner)"; paper 01 §3.1 trains on it): parquet files
with the columns

* ``audio``: a struct, either ``{bytes: binary, path: string}`` (the Hugging Face
  ``Audio`` feature: wav/flac bytes) or ``{array: list<float>, sampling_rate: int}`` (the
  decoded form some exports hold). Both are accepted; a struct with both fields is read
  row by row (bytes first).
* ``user``: ``<audio>`` then the question, the options inline as ``(a) … (b) …`` (letters
  a-h, lower or upper case); without inline options the item is an open question.
* ``assistant``::

      <THINK>\\n<PLANNING>…</PLANNING>\\n<CAPTION>…</CAPTION>\\n<REASONING>…</REASONING>\\n
      <SUMMARY>…</SUMMARY>\\n</THINK>\\n<RESPONSE>… The answer is C.</RESPONSE>

  tags upper case in the original and lower case in some copies (both accepted, also
  mixed across records).
* ``id`` (optional): used as the record id; otherwise the id is ``<parquet stem>-<row>``.

The audio stays inside the parquet: a record's ``audio`` is ``<parquet>#<row>`` and
:func:`load_cota_audio` decodes it.

Known defects of the public copy, each a bad record (raised, or quarantined and counted
with ``on_error="quarantine"``):

* a corrupt or unreadable parquet file (one bad record for the file) or row group;
* a missing, empty, duplicated or misplaced ``<THINK>`` stage or ``<RESPONSE>``, or stray
  text outside them;
* a multiple-choice item whose response lacks ``The answer is X.`` or whose ``X`` is not
  one of its option letters (and an open question whose response names a letter);
* a question/answer mismatch (:func:`trace_mismatch`): the SUMMARY or RESPONSE names an
  option as ``(x) option text`` whose text is not option ``x`` of *this* question (a trace
  that belongs to another question), or the final letter is none of the options the
  SUMMARY names;
* null or empty audio, and (with ``check_audio_exists``) audio bytes whose header
  soundfile cannot read, or a sample array with non-finite values;
* a user turn not starting with ``<audio>``, an empty question or option, a null id, a
  duplicate id.

Layout read: ``PATH`` is a parquet file or a folder searched recursively for
``*.parquet`` (sorted by path); records come in file order, then row order.
"""

from __future__ import annotations

import bisect
import io
import re
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import soundfile as sf

from audioreason.datasets.records import CotaRecord, ImportResult, Problems

FORMAT = "cota"
COLUMNS = ("audio", "user", "assistant")

#: The Audio-Reasoner system prompt (FORMATS.md, "CoTA").
SYSTEM_PROMPT = (
    "You are an audio deep-thinking model. Upon receiving a question, please respond in two parts: "
    "<THINK> and <RESPONSE>. The <THINK> section should be further divided into four parts: "
    "<PLANNING>, <CAPTION>, <REASONING>, and <SUMMARY>."
)
STAGES = ("planning", "caption", "reasoning", "summary")

AUDIO_TOKEN = "<audio>"
# "(a)" not glued to a word or to another "(": "f(a)" and "((a)" are not option markers.
_OPTION_MARKER = re.compile(r"(?<![\w(])\(([a-hA-H])\)")
_ANSWER_IS = re.compile(r"\bthe answer is\s*:?\s*(?:\(([a-h])\)|([a-h])(?=\s*(?:[.:)]|$)))", re.IGNORECASE)
_NON_WORD = re.compile(r"[\W_]+")
_ARTICLES = ("a", "an", "the")
# A marker followed by one of these refers to the option by letter only ("(a) and (b) are
# wrong", "(c) is the answer"): it does not quote an option's text, so it is not compared.
_CONNECTORS = frozenset(
    "and or nor is are was were be as because since but which that to in of seems seem appears also "
    "would could can might may must should does do did has have had not matches match fits".split()
)


def parse_user_turn(text: str) -> tuple[str, tuple[str, ...]]:
    """Split a CoTA user turn into the question and its inline options.

    The options are the longest run of markers ``(a) (b) …`` (consecutive letters from
    ``a``, one case); a marker out of sequence stays in the text around it. Fewer than two
    markers: an open question (no choices).

    Raises:
        ValueError: when the turn does not start with ``<audio>``, the question is empty
            or an option is empty.

    >>> parse_user_turn("<audio>\\nWhat animal is heard? (a) dog (b) cat, (c) bird")
    ('What animal is heard?', ('dog', 'cat', 'bird'))
    >>> parse_user_turn("<audio>Which instrument? Options: (A) Piano (B) Violin (c) ignored")
    ('Which instrument? Options:', ('Piano', 'Violin (c) ignored'))
    >>> parse_user_turn("<audio> Describe the scene.")
    ('Describe the scene.', ())
    """
    stripped = text.lstrip()
    if not stripped.startswith(AUDIO_TOKEN):
        raise ValueError(f"user turn does not start with {AUDIO_TOKEN}: {text[:40]!r}")
    body = stripped[len(AUDIO_TOKEN) :]
    run = _option_run(list(_OPTION_MARKER.finditer(body)))
    if len(run) < 2:
        question, choices = body.strip(), ()
    else:
        question = body[: run[0].start()].strip()
        ends = [m.start() for m in run[1:]] + [len(body)]
        choices = tuple(body[m.end() : end].strip().rstrip(",;").strip() for m, end in zip(run, ends))
        for m, choice in zip(run, choices):
            if not choice:
                raise ValueError(f"option ({m.group(1)}) is empty")
    if not question:
        raise ValueError("the question text is empty")
    return question, choices


def _option_run(markers: list[re.Match]) -> list[re.Match]:
    """The longest in-sequence run ``(a) (b) (c) …`` among ``markers``; the last one on a tie."""
    best: list[re.Match] = []
    for s, start in enumerate(markers):
        if start.group(1) not in "aA":
            continue
        run = [start]
        for m in markers[s + 1 :]:
            if m.group(1) == chr(ord(run[-1].group(1)) + 1):
                run.append(m)
        if len(run) >= len(best):
            best = run
    return best


def _one_block(tag: str, text: str) -> re.Match:
    blocks = list(re.finditer(rf"<{tag}>(.*?)</{tag}>", text, re.IGNORECASE | re.DOTALL))
    if not blocks:
        raise ValueError(f"missing <{tag.upper()}>…</{tag.upper()}>")
    if len(blocks) > 1:
        raise ValueError(f"{len(blocks)} <{tag.upper()}> blocks, expected one")
    if not blocks[0].group(1).strip():
        raise ValueError(f"empty <{tag.upper()}>")
    return blocks[0]


def _stray(text: str) -> str:
    return text.strip()[:40]


def parse_assistant_turn(text: str) -> dict[str, str]:
    """Split a CoTA assistant turn into its four ``<THINK>`` stages, the response and the answer letter.

    Tags match in any case. ``answer_letter`` is the upper-cased letter of the last
    ``The answer is X.`` (or ``(X)``) in the response, ``""`` when there is none.

    Raises:
        ValueError: for a missing, empty or duplicated stage, ``<THINK>`` or ``<RESPONSE>``,
            stages out of order, or text outside the tags.

    >>> t = ("<think>\\n<planning>Listen.</planning>\\n<caption>A dog barks.</caption>\\n"
    ...      "<reasoning>Barking is a dog.</reasoning>\\n<summary>(a) dog.</summary>\\n</think>\\n"
    ...      "<response>It is a dog. The answer is a.</response>")
    >>> d = parse_assistant_turn(t)
    >>> d["caption"], d["summary"], d["response"], d["answer_letter"]
    ('A dog barks.', '(a) dog.', 'It is a dog. The answer is a.', 'A')
    >>> parse_assistant_turn(t.replace("<caption>A dog barks.</caption>", ""))
    Traceback (most recent call last):
    ...
    ValueError: missing <CAPTION>…</CAPTION>
    """
    think = _one_block("think", text)
    response = _one_block("response", text)
    if response.start() < think.end():
        raise ValueError("<RESPONSE> does not follow </THINK>")
    outside = text[: think.start()] + text[think.end() : response.start()] + text[response.end() :]
    if outside.strip():
        raise ValueError(f"text outside <THINK> and <RESPONSE>: {_stray(outside)!r}")
    inner = think.group(1)
    blocks = [_one_block(stage, inner) for stage in STAGES]
    if [b.start() for b in blocks] != sorted(b.start() for b in blocks):
        raise ValueError(f"the <THINK> stages are not in the order {', '.join(s.upper() for s in STAGES)}")
    between = _outside_blocks(inner, blocks)
    if between.strip():
        raise ValueError(f"text inside <THINK> outside its four stages: {_stray(between)!r}")
    out = {stage: b.group(1).strip() for stage, b in zip(STAGES, blocks)}
    out["response"] = response.group(1).strip()
    out["answer_letter"] = answer_letter(out["response"])
    return out


def _outside_blocks(text: str, blocks: list[re.Match]) -> str:
    pieces, pos = [], 0
    for b in blocks:
        pieces.append(text[pos : b.start()])
        pos = b.end()
    pieces.append(text[pos:])
    return "".join(pieces)


def answer_letter(response: str) -> str:
    """The upper-cased letter of the last ``The answer is X.`` in ``response``; ``""`` if none.

    >>> answer_letter("A dog barks. The answer is (b).")
    'B'
    >>> answer_letter("The answer is a dog.")
    ''
    """
    matches = list(_ANSWER_IS.finditer(response))
    if not matches:
        return ""
    m = matches[-1]
    return (m.group(1) or m.group(2)).upper()


def _normalise(text: str) -> str:
    words = _NON_WORD.sub(" ", text.lower()).split()
    if words and words[0] in _ARTICLES:
        words = words[1:]
    return " ".join(words)


def named_options(text: str) -> list[tuple[str, str]]:
    """The options ``text`` names by letter *and* text: ``[(LETTER, normalised following text)]``.

    A marker followed by nothing, by another marker or by a connector ("and", "is", …)
    names a letter only and is left out.

    >>> named_options("Between (a) and (b), (B) 'Cat meowing' fits. The answer is (B).")
    [('B', 'cat meowing fits the answer is')]
    """
    markers = list(_OPTION_MARKER.finditer(text))
    out = []
    for m, nxt in zip(markers, markers[1:] + [None]):
        following = _normalise(text[m.end() : nxt.start() if nxt else len(text)])
        if following and following.split()[0] not in _CONNECTORS:
            out.append((m.group(1).upper(), following))
    return out


def _quotes(following: str, option: str) -> bool:
    option = _normalise(option)
    return bool(option) and (following == option or following.startswith(option + " "))


def trace_mismatch(choices: tuple[str, ...], summary: str, response: str, letter: str) -> str | None:
    """Why a trace does not belong to this question, or ``None`` when it does.

    A mismatch: the SUMMARY or RESPONSE names ``(x) text`` where ``text`` is not option
    ``x`` of ``choices`` (or there is no option ``x``), or the final ``letter`` is none of
    the options the SUMMARY names (by ``(x) text`` or ``The answer is X``).

    >>> opts = ("dog", "cat", "bird")
    >>> trace_mismatch(opts, "So it is (b) cat.", "The answer is B.", "B") is None
    True
    >>> trace_mismatch(opts, "So it is (b) thunder.", "The answer is B.", "B")
    "SUMMARY names (B) 'thunder' but option B of this question is 'cat'"
    >>> trace_mismatch(opts, "So it is (b) cat.", "The answer is C.", "C")
    'final letter C contradicts the option(s) B named in the SUMMARY'
    """
    letters = [chr(ord("A") + k) for k in range(len(choices))]
    summary_letters = set()
    for part, text in (("SUMMARY", summary), ("RESPONSE", response)):
        for x, following in named_options(text):
            if x not in letters:
                have = f"options {letters[0]}-{letters[-1]}" if letters else "no inline options"
                return f"{part} names ({x}) {following!r} but this question has {have}"
            option = choices[letters.index(x)]
            if not _quotes(following, option):
                return f"{part} names ({x}) {following!r} but option {x} of this question is {option!r}"
            if part == "SUMMARY":
                summary_letters.add(x)
    summary_letters |= {(m.group(1) or m.group(2)).upper() for m in _ANSWER_IS.finditer(summary)}
    if letter and summary_letters and letter not in summary_letters:
        named = ", ".join(sorted(summary_letters))
        return f"final letter {letter} contradicts the option(s) {named} named in the SUMMARY"
    return None


def decode_audio(audio: dict) -> tuple[np.ndarray, int]:
    """Decode one ``audio`` cell (``{bytes, path}`` or ``{array, sampling_rate}``) to float32 mono.

    Multi-channel bytes are averaged to mono.

    Raises:
        ValueError: when the cell holds neither non-empty bytes nor a sample array.
    """
    if not isinstance(audio, dict):
        raise ValueError(f"audio cell is {type(audio).__name__}, not a struct")
    if audio.get("bytes"):
        samples, sr = sf.read(io.BytesIO(audio["bytes"]), dtype="float32", always_2d=True)
        return samples.mean(axis=1), int(sr)
    if audio.get("array") is not None and audio.get("sampling_rate"):
        samples = np.asarray(audio["array"], dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"audio array has shape {samples.shape}, expected 1-D samples")
        return samples, int(audio["sampling_rate"])
    raise ValueError("audio cell holds neither bytes nor an array with a sampling_rate")


ROW_GROUP_CACHE_BYTES = 1 << 30
"""What :func:`load_cota_audio` keeps of recently read ``audio`` row groups (least recently used out first)."""

_row_groups: OrderedDict[tuple[str, float, int], pa.ChunkedArray] = OrderedDict()
_bounds: dict[str, tuple[float, list[int]]] = {}  # file -> (mtime, first row of each row group + [rows])


def _row_group_bounds(file: str) -> list[int]:
    """The first row of each row group of a parquet file, then its row count, from its footer."""
    meta = pq.ParquetFile(file).metadata
    bounds = [0]
    for rg in range(meta.num_row_groups):
        bounds.append(bounds[-1] + meta.row_group(rg).num_rows)
    return bounds


def _audio_column(file: str, row: int) -> tuple[pa.ChunkedArray, int]:
    """The ``audio`` column of the row group holding ``row`` and the row's index in it.

    A parquet file can only be read a row group (or a page) at a time, and a training batch
    asks for clips one by one: reading the whole group for each clip costs a group's I/O and
    decompression per clip (at tiny scale 240 clips, 15 MB, per clip). The columns read are
    kept, up to :data:`ROW_GROUP_CACHE_BYTES`; a file rewritten since (a new mtime) is read again.
    """
    mtime = Path(file).stat().st_mtime
    if file not in _bounds or _bounds[file][0] != mtime:
        _bounds[file] = (mtime, _row_group_bounds(file))
    bounds = _bounds[file][1]
    if not 0 <= row < bounds[-1]:
        raise IndexError(f"{file} has {bounds[-1]} rows, no row {row}")
    rg = bisect.bisect_right(bounds, row) - 1
    key = (file, mtime, rg)
    if key in _row_groups:
        _row_groups.move_to_end(key)
    else:
        _row_groups[key] = pq.ParquetFile(file).read_row_group(rg, columns=["audio"]).column("audio")
        while len(_row_groups) > 1 and sum(c.nbytes for c in _row_groups.values()) > ROW_GROUP_CACHE_BYTES:
            _row_groups.popitem(last=False)
    return _row_groups[key], row - bounds[rg]


def load_cota_audio(record_or_audio_ref: CotaRecord | str) -> tuple[np.ndarray, int]:
    """Reopen a record's ``<parquet>#<row>`` and decode its audio.

    Returns:
        ``(samples, sample_rate)``: float32 mono samples ``[n]`` and their rate in Hz.

    Only the ``audio`` column of the row group holding the row is read, and it is kept for the
    next clip of that group (:func:`_audio_column`).
    """
    ref = record_or_audio_ref.audio if isinstance(record_or_audio_ref, CotaRecord) else str(record_or_audio_ref)
    file, sep, row_text = ref.rpartition("#")
    if not sep or not row_text.isdigit():
        raise ValueError(f"audio reference {ref!r} is not '<parquet>#<row>'")
    column, index = _audio_column(file, int(row_text))
    return decode_audio(column[index].as_py())


def _audio_fields(audio_type: pa.DataType) -> set[str]:
    """The audio forms a column type can hold: a subset of ``{"bytes", "array"}``."""
    if not pa.types.is_struct(audio_type):
        return set()
    names = {audio_type.field(k).name for k in range(audio_type.num_fields)}
    forms = set()
    if "bytes" in names:
        forms.add("bytes")
    if {"array", "sampling_rate"} <= names:
        forms.add("array")
    return forms


class _AudioColumn:
    """One row group's ``audio`` column, with the cheap per-row checks vectorised."""

    def __init__(self, column: pa.ChunkedArray):
        self.array = column.combine_chunks()
        self.valid = self.array.is_valid().to_pylist()
        forms = _audio_fields(self.array.type)
        self.bytes_len = pc.binary_length(self.array.field("bytes")).to_pylist() if "bytes" in forms else None
        if "array" in forms:
            self.array_len = pc.list_value_length(self.array.field("array")).to_pylist()
            self.rates = self.array.field("sampling_rate").to_pylist()
        else:
            self.array_len = self.rates = None

    def problem(self, i: int, decode_header: bool) -> str | None:
        if not self.valid[i]:
            return "audio is null"
        if self.bytes_len is not None and self.bytes_len[i]:
            if decode_header:
                data = self.array.field("bytes")[i].as_py()
                try:
                    sf.info(io.BytesIO(data))
                except (RuntimeError, TypeError, ValueError) as e:
                    return f"undecodable audio bytes ({len(data)} bytes: {e})"
            return None
        if self.array_len is not None and self.array_len[i]:
            rate = self.rates[i]
            if not isinstance(rate, int) or rate <= 0:
                return f"audio sampling_rate {rate!r} is not a positive int"
            if decode_header:
                samples = self.array.field("array")[i].values.to_numpy(zero_copy_only=False)
                if not np.isfinite(samples).all():
                    return "audio array holds non-finite samples"
            return None
        return "audio holds neither bytes nor a sample array (null or empty)"


def parquet_files(path: str | Path) -> list[Path]:
    """``path`` itself, or every ``*.parquet`` under the folder, sorted.

    Raises:
        FileNotFoundError: when a folder holds no parquet file.
    """
    path = Path(path)
    if path.is_file():
        return [path]
    files = sorted(path.rglob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"cota: no *.parquet under {path}")
    return files


def read_parquet(
    file: str | Path, problems: Problems, *, seen_ids: dict[str, str] | None = None, check_audio_exists: bool = True
) -> list[CotaRecord]:
    """Read one CoTA parquet file into records; problems go to ``problems``.

    Args:
        file: The parquet file.
        problems: Collects bad records (a corrupt file or row group counts as one).
        seen_ids: ``id -> source`` shared across files, to catch duplicate ids.
        check_audio_exists: Whether to read each audio header (soundfile) or check each
            sample array for non-finite values.
    """
    file = Path(file)
    seen_ids = {} if seen_ids is None else seen_ids
    try:
        pf = pq.ParquetFile(file)
        schema = pf.schema_arrow
    except (OSError, pa.ArrowException) as e:
        problems.bad(file, "(file)", f"cannot read parquet ({e})")
        return []
    missing = [c for c in COLUMNS if c not in schema.names]
    if missing:
        problems.bad(file, "(file)", f"missing column(s) {', '.join(missing)} (has {', '.join(schema.names)})")
        return []
    if not _audio_fields(schema.field("audio").type):
        problems.bad(
            file,
            "(file)",
            f"audio column has type {schema.field('audio').type}; expected a struct "
            "{bytes, path} or {array, sampling_rate}",
        )
        return []
    columns = [*COLUMNS, "id"] if "id" in schema.names else list(COLUMNS)
    out, start = [], 0
    for rg in range(pf.num_row_groups):
        n = pf.metadata.row_group(rg).num_rows
        try:
            table = pf.read_row_group(rg, columns=columns)
            audio = _AudioColumn(table.column("audio"))
        except (OSError, pa.ArrowException) as e:
            problems.bad(file, f"row group {rg} (rows {start}-{start + n - 1})", f"cannot read row group ({e})")
            start += n
            continue
        users = table.column("user").to_pylist()
        assistants = table.column("assistant").to_pylist()
        ids = table.column("id").to_pylist() if "id" in columns else [f"{file.stem}-{start + i}" for i in range(n)]
        for i in range(table.num_rows):
            row = start + i
            record = _read_row(
                file, row, ids[i], users[i], assistants[i], audio, i, problems, seen_ids, check_audio_exists
            )
            if record is not None:
                out.append(record)
        start += n
    return out


def _read_row(
    file: Path,
    row: int,
    ident,
    user,
    assistant,
    audio: _AudioColumn,
    i: int,
    problems: Problems,
    seen_ids: dict[str, str],
    check_audio_exists: bool,
) -> CotaRecord | None:
    where = f"row {row} (id {ident})"
    if ident is None:
        problems.bad(file, where, "id is null")
        return None
    if not isinstance(user, str) or not isinstance(assistant, str):
        problems.bad(
            file, where, f"user and assistant must be strings, got {type(user).__name__} and {type(assistant).__name__}"
        )
        return None
    try:
        question, choices = parse_user_turn(user)
        trace = parse_assistant_turn(assistant)
    except ValueError as e:
        problems.bad(file, where, str(e))
        return None
    letter = trace["answer_letter"]
    letters = [chr(ord("A") + k) for k in range(len(choices))]
    if choices and not letter:
        problems.bad(file, where, "RESPONSE has no 'The answer is X.' for a multiple-choice question")
        return None
    if letter and letter not in letters:
        have = f"options {letters[0]}-{letters[-1]}" if letters else "no inline options"
        problems.bad(file, where, f"answer letter {letter} is not an option letter (the question has {have})")
        return None
    mismatch = trace_mismatch(choices, trace["summary"], trace["response"], letter)
    if mismatch:
        problems.bad(file, where, f"question/answer mismatch: {mismatch}")
        return None
    audio_problem = audio.problem(i, decode_header=check_audio_exists)
    if audio_problem:
        problems.bad(file, where, audio_problem)
        return None
    ident = str(ident)
    if ident in seen_ids:
        problems.bad(file, where, f"duplicate id {ident} (first at {seen_ids[ident]})")
        return None
    seen_ids[ident] = f"{file}#{row}"
    return CotaRecord(
        id=ident,
        dataset="cota",
        split="train",
        audio=f"{file.resolve()}#{row}",
        question=question,
        choices=choices,
        answer=choices[letters.index(letter)] if choices else trace["response"],
        answer_letter=letter,
        planning=trace["planning"],
        caption=trace["caption"],
        reasoning=trace["reasoning"],
        summary=trace["summary"],
        response=trace["response"],
        source=f"{file}#{row}",
    )


def read(path: str | Path, *, on_error: str = "raise", check_audio_exists: bool = True) -> ImportResult[CotaRecord]:
    """Registry entry: ``path`` is a CoTA parquet file or a folder of them (searched recursively)."""
    problems = Problems(on_error)
    seen_ids: dict[str, str] = {}
    records = []
    for f in parquet_files(path):
        records += read_parquet(f, problems, seen_ids=seen_ids, check_audio_exists=check_audio_exists)
    return problems.result(FORMAT, records)
