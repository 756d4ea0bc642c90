"""Parsers for public clinical QA files (MedQA, MedMCQA, Medbullets, PubMedQA, MMLU).

``parse_qa_file(path, data)`` recognises the format of one file by its content (the file name
only decides where the content cannot) and yields one ``QAPair`` per question and one
``DeadLetter`` per record that cannot be used. A bad record never stops the rest of the file:
the number of records in a file equals the number of ``QAPair`` plus ``DeadLetter`` yielded.
Blank lines are not records. Gzip-compressed data is recognised by its magic bytes.

Formats (``FORMATS``):

``aistairc_jsonl``
    One object per line: ``problem_id``, ``problem_text``, ``choices`` (list of str), ``answer``
    (list of lower-case letters, e.g. ``["b"]``). Options are labelled A, B, C, ... in list order.
    Dataset ``medmcqa`` when ``problem_id`` is a UUID, else the dataset named in the file name
    (``medmcqa``, ``medqa``, ``mmlu``, ``medbullets``), else ``medqa`` when ``problem_id`` is an
    integer. A record with more than one answer letter is a ``MultipleAnswers`` dead letter: a
    ``QAPair`` has exactly one correct option.
``medqa_jsonl``
    MedQA official / MedReason evaluation files: ``question``, ``options`` (dict label -> text),
    ``answer`` (option text, optional), ``answer_idx`` (label), optional ``meta_info`` (subject)
    and optional ``id``. Dataset ``medbullets`` when the file name contains ``medbullets``, else
    ``medqa``. ``answer`` must equal ``options[answer_idx]`` after white-space normalisation
    (else ``AnswerMismatch``). Without an ``id`` field the source id is ``<file stem>:<line>``
    (0-based line; a line number alone would name different questions in train, dev and test).
``medmcqa_jsonl``
    MedMCQA official JSON lines: ``id``, ``question``, ``opa`` .. ``opd``, ``cop``, ``exp``
    (explanation), ``subject_name`` (subject). ``cop`` is 1-based (1..4) as in the official
    ``train.json``/``dev.json`` release; the Hugging Face conversion stores it 0-based, which
    ``medmcqa_cop_base=0`` reads. The official test split carries no ``cop``: its records are
    ``MissingField`` dead letters.
``pubmedqa_json``
    PubMedQA ``ori_pqal.json``: one object keyed by PMID; values with ``QUESTION``, ``CONTEXTS``,
    ``final_decision`` (yes/no/maybe), ``LONG_ANSWER``. Options are A. yes / B. no / C. maybe;
    ``context`` = the contexts joined by a newline; ``explanation`` = ``LONG_ANSWER``.
    ``record_index`` is the ordinal of the key.
``pubmedqa_jsonl``
    The same records one per line with a ``pmid`` (or ``pubid``) field; the lower-case Hugging
    Face field names (``question``, ``context.contexts``, ``long_answer``) are accepted too.
``mmlu_csv``
    MMLU ``<subject>_{test,dev,val}.csv``: no header, columns question, A, B, C, D, answer letter.
    Subject = file stem without the split suffix; source id = ``<file stem>:<row index>``.

Dead-letter ``error_type`` values: ``UnknownFormat``, ``BadGzip``, ``DecodeError``,
``InvalidJSON``, ``NotAnObject``, ``MissingField``, ``InvalidField``, ``EmptyQuestion``,
``EmptyAnswer``, ``MissingAnswer``, ``MultipleAnswers``, ``AnswerNotInOptions``,
``AnswerMismatch``, ``InvalidDecision``, ``WrongColumnCount``, ``CsvError``, ``UnknownDataset``,
``DuplicateId`` (a record whose id an earlier record of the same file already has).

Pure module: no Beam import.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import string
import zlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional, Union

from schemas.records import DeadLetter, QAOption, QAPair
from transforms.textutil import excerpt

STAGE = "qa.parse"

FORMATS = ("aistairc_jsonl", "medqa_jsonl", "medmcqa_jsonl", "pubmedqa_json", "pubmedqa_jsonl",
           "mmlu_csv")

PUBMEDQA_DECISIONS = ("yes", "no", "maybe")  # options A, B, C
MEDMCQA_OPTION_FIELDS = ("opa", "opb", "opc", "opd")
MMLU_COLUMNS = 6
LABELS = string.ascii_uppercase

HEAD_BYTES = 1 << 20  # how much of a file format detection looks at
_DETECT_LINES = 50  # JSON lines tried before giving up on a JSONL head
_DETECT_ROWS = 20  # CSV rows tried

_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_PUBMEDQA_OBJECT_RE = re.compile(r'^\s*\{\s*"(?:[^"\\]|\\.)*"\s*:\s*\{')
_MMLU_NAME_RE = re.compile(r"_(?:test|dev|val)\.csv(?:\.gz)?$", re.IGNORECASE)
_SPLIT_SUFFIX_RE = re.compile(r"_(?:test|dev|val|validation|train)$")
_SURROGATE_RE = re.compile("[\udc80-\udcff]")
# dataset names recognised in a file name, most specific first ("medmcqa" before "medqa")
_NAME_HINTS = ("medmcqa", "medbullets", "medqa", "mmlu")

Record = Union[QAPair, DeadLetter]


class _RecordError(ValueError):
    """A record that cannot become a ``QAPair``; ``error_type`` names the reason."""

    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type


@dataclass
class _Context:
    """Where a record comes from: file path (str), base name (str), record ordinal (int), and the
    base of MedMCQA ``cop`` (int)."""
    path: str
    name: str
    index: int
    cop_base: int


# --------------------------------------------------------------------------- entry points
def parse_qa_file(path: str, data: bytes, *, medmcqa_cop_base: int = 1) -> Iterator[Record]:
    """Parse one QA file.

    Args:
        path: str, the file's path or URL (recorded as ``source_file``; its name decides the
            dataset where the content does not).
        data: bytes, the whole file content, plain or gzip-compressed.
        medmcqa_cop_base: int, 1 for the official MedMCQA JSON (``cop`` 1..4), 0 for the 0-based
            Hugging Face conversion.

    Yields:
        ``QAPair`` for each usable question, ``DeadLetter`` (stage ``qa.parse``) for each record
        that is not, and a single ``DeadLetter`` for a file that cannot be read at all.
    """
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            yield _dead(path, "BadGzip", f"cannot decompress gzip data: {exc}", data, None)
            return
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    fmt = detect_format(path, data[:HEAD_BYTES])
    if fmt is None:
        yield _dead(path, "UnknownFormat", "not a recognised QA file format", data, None)
        return
    if fmt == "pubmedqa_json":
        yield from _parse_pubmedqa_json(path, data)
    elif fmt == "mmlu_csv":
        yield from _parse_mmlu_csv(path, data)
    else:
        yield from _parse_jsonl(path, data, _LINE_PARSERS[fmt], medmcqa_cop_base)


def detect_format(path: str, head: bytes) -> Optional[str]:
    """The format (one of ``FORMATS``) of a file from its first bytes, or ``None``.

    Args:
        path: str, the file's path; its name is used only when the content is ambiguous
            (a file named like MMLU's ``<subject>_test.csv`` none of whose first rows is a
            well-formed MMLU row is still read as MMLU, so that its bad rows become dead letters).
        head: bytes, the start of the file (any length; gzip-compressed data is decompressed
            as far as it goes).
    """
    if head[:2] == _GZIP_MAGIC:
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, HEAD_BYTES)
        except zlib.error:
            return None
    if head.startswith(_BOM):
        head = head[len(_BOM):]
    text = head.decode("utf-8", errors="replace")
    stripped = text.lstrip()
    if stripped.startswith("{"):
        for line in stripped.split("\n")[:_DETECT_LINES]:
            fmt = _json_line_format(line)
            if fmt is not None:
                return fmt
        if _PUBMEDQA_OBJECT_RE.match(stripped) and ('"QUESTION"' in stripped
                                                      or '"final_decision"' in stripped):
            return "pubmedqa_json"
        return None
    if _looks_like_mmlu(text):
        return "mmlu_csv"
    if _MMLU_NAME_RE.search(_base_name(path)):
        return "mmlu_csv"
    return None


def _json_line_format(line: str) -> Optional[str]:
    """The JSONL format one line shows, or ``None`` when it is not a recognisable record."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict) or not obj:
        return None
    if "problem_text" in obj and "choices" in obj:
        return "aistairc_jsonl"
    if "opa" in obj and "question" in obj:
        return "medmcqa_jsonl"
    if "final_decision" in obj or "QUESTION" in obj:
        return "pubmedqa_jsonl"
    if "question" in obj and "options" in obj:
        return "medqa_jsonl"
    values = list(obj.values())
    if all(isinstance(v, dict) for v in values) and any(
            "QUESTION" in v or "final_decision" in v for v in values):
        return "pubmedqa_json"
    return None


def _looks_like_mmlu(text: str) -> bool:
    """Whether one of the first complete CSV rows of ``text`` is an MMLU row."""
    complete = text if text.endswith("\n") else text[:text.rfind("\n") + 1]
    try:
        for n, row in enumerate(csv.reader(io.StringIO(complete, newline=""))):
            if n >= _DETECT_ROWS:
                break
            if (len(row) == MMLU_COLUMNS and row[0].strip()
                    and row[5].strip().upper() in LABELS[:4]):
                return True
    except csv.Error:
        return False
    return False


# --------------------------------------------------------------------------- JSON lines
def _parse_jsonl(path: str, data: bytes, parser: Callable[[dict, _Context], QAPair],
                 cop_base: int) -> Iterator[Record]:
    """One record per non-blank line; ``record_index`` = 0-based line number."""
    name = _base_name(path)
    seen: set[str] = set()
    for index, raw in enumerate(data.split(b"\n")):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield _dead(path, "DecodeError", f"line {index} is not UTF-8: {exc}", raw, index)
            continue
        try:
            obj = json.loads(text)
        except ValueError as exc:
            yield _dead(path, "InvalidJSON", f"line {index}: {exc}", raw, index)
            continue
        if not isinstance(obj, dict):
            yield _dead(path, "NotAnObject",
                        f"line {index} is a JSON {type(obj).__name__}, not an object", raw, index)
            continue
        yield _checked(parser, obj, _Context(path, name, index, cop_base), seen, raw)


def _checked(parser: Callable[[Any, _Context], QAPair], obj: Any, ctx: _Context, seen: set[str],
             raw: Union[bytes, str]) -> Record:
    """Run ``parser``; a ``_RecordError`` or an id already in ``seen`` becomes a dead letter."""
    try:
        pair = parser(obj, ctx)
    except _RecordError as exc:
        return _dead(ctx.path, exc.error_type, str(exc), raw, ctx.index)
    if pair.id in seen:
        return _dead(ctx.path, "DuplicateId", f"id {pair.id} occurs earlier in the file", raw,
                     ctx.index)
    seen.add(pair.id)
    return pair


def _aistairc(obj: dict, ctx: _Context) -> QAPair:
    """``{problem_id, problem_text, choices, answer: [letter]}``."""
    pid = obj.get("problem_id")
    if pid is None:
        raise _RecordError("MissingField", "no problem_id")
    if isinstance(pid, bool) or not isinstance(pid, (int, str)) or not str(pid).strip():
        raise _RecordError("InvalidField", f"problem_id {pid!r} is not an int or a string")
    source_id = str(pid).strip()
    question = _question(obj, "problem_text")
    choices = obj.get("choices")
    if choices is None:
        raise _RecordError("MissingField", "no choices")
    if not isinstance(choices, list) or not choices:
        raise _RecordError("InvalidField", "choices is not a non-empty list")
    if len(choices) > len(LABELS):
        raise _RecordError("InvalidField", f"{len(choices)} choices (at most {len(LABELS)})")
    options = [QAOption(LABELS[i], _value_text(c, f"choices[{i}]")) for i, c in enumerate(choices)]
    answers = obj.get("answer")
    if answers is None:
        raise _RecordError("MissingField", "no answer")
    if isinstance(answers, str):
        answers = [answers]
    if not isinstance(answers, list):
        raise _RecordError("InvalidField", "answer is not a list of letters")
    if not answers:
        raise _RecordError("MissingAnswer", "answer is an empty list")
    if len(answers) > 1:
        raise _RecordError("MultipleAnswers", f"{len(answers)} answer letters: {answers!r}")
    letter = answers[0]
    label = letter.strip().upper() if isinstance(letter, str) else None
    if not label or len(label) != 1 or label not in LABELS[:len(options)]:
        raise _RecordError("AnswerNotInOptions",
                           f"answer {letter!r} is not one of {len(options)} choices")
    if isinstance(pid, str) and _UUID_RE.match(source_id):
        dataset = "medmcqa"
    else:
        dataset = _name_hint(ctx.name)
        if dataset is None and (isinstance(pid, int) or source_id.isdigit()):
            dataset = "medqa"
        if dataset is None:
            raise _RecordError("UnknownDataset",
                               f"problem_id {pid!r} and file name {ctx.name!r} name no dataset")
    return _pair(ctx, dataset, source_id, question, options, label)


def _medqa(obj: dict, ctx: _Context) -> QAPair:
    """``{question, options: {label: text}, answer, answer_idx, meta_info?, id?}``."""
    question = _question(obj, "question")
    raw_options = obj.get("options")
    if raw_options is None:
        raise _RecordError("MissingField", "no options")
    if not isinstance(raw_options, dict) or not raw_options:
        raise _RecordError("InvalidField", "options is not a non-empty object")
    options = []
    for label, text in raw_options.items():
        label = label.strip()
        if not label:
            raise _RecordError("InvalidField", "an option has an empty label")
        options.append(QAOption(label, _value_text(text, f"options[{label!r}]")))
    if len({o.label for o in options}) != len(options):
        raise _RecordError("InvalidField", "option labels repeat after stripping white space")
    idx = obj.get("answer_idx")
    if idx is None:
        raise _RecordError("MissingField", "no answer_idx")
    if not isinstance(idx, str):
        raise _RecordError("InvalidField", f"answer_idx {idx!r} is not a string")
    labels = [o.label for o in options]
    label = idx.strip()
    if label not in labels and label.upper() in labels:
        label = label.upper()
    if label not in labels:
        raise _RecordError("AnswerNotInOptions", f"answer_idx {idx!r} is not one of {labels}")
    correct = options[labels.index(label)].text
    answer = _text(obj, "answer", required=False)
    if answer is not None and _ws(answer) != _ws(correct):
        raise _RecordError("AnswerMismatch",
                           f"answer {answer[:80]!r} differs from option {label}: {correct[:80]!r}")
    dataset = "medbullets" if "medbullets" in ctx.name.lower() else "medqa"
    # without an id, a line number names a question only within its file (MedQA ships train, dev
    # and test files; MedBullets lists the same questions in two orders): the file stem goes first
    source_id = _text(obj, "id", required=False) or f"{ctx.name.split('.', 1)[0]}:{ctx.index}"
    subject = _text(obj, "meta_info", required=False) or None
    return _pair(ctx, dataset, source_id, question, options, label, subject=subject)


def _medmcqa(obj: dict, ctx: _Context) -> QAPair:
    """``{id, question, opa, opb, opc, opd, cop, exp, subject_name, ...}``."""
    question = _question(obj, "question")
    options = [QAOption(LABELS[i], _text(obj, key)) for i, key in enumerate(MEDMCQA_OPTION_FIELDS)]
    cop = obj.get("cop")
    if cop is None:
        raise _RecordError("MissingField", "no cop (correct option)")
    if isinstance(cop, str) and cop.strip().lstrip("-").isdigit():
        cop = int(cop.strip())
    if isinstance(cop, bool) or not isinstance(cop, int):
        raise _RecordError("InvalidField", f"cop {cop!r} is not an integer")
    position = cop - ctx.cop_base
    if not 0 <= position < len(options):
        raise _RecordError(
            "AnswerNotInOptions",
            f"cop {cop} is outside {ctx.cop_base}..{ctx.cop_base + len(options) - 1}")
    source_id = _text(obj, "id", required=False) or str(ctx.index)
    return _pair(ctx, "medmcqa", source_id, question, options, LABELS[position],
                 explanation=_text(obj, "exp", required=False) or None,
                 subject=_text(obj, "subject_name", required=False) or None)


def _pubmedqa_line(obj: dict, ctx: _Context) -> QAPair:
    """A PubMedQA record with its PMID in ``pmid`` (or ``pubid``/``PMID``)."""
    for key in ("pmid", "pubid", "PMID"):
        pmid = _text(obj, key, required=False)
        if pmid:
            return _pubmedqa(obj, pmid, ctx)
    raise _RecordError("MissingField", "no pmid")


def _pubmedqa(value: Any, pmid: str, ctx: _Context) -> QAPair:
    """``{QUESTION, CONTEXTS, final_decision, LONG_ANSWER, ...}`` of PMID ``pmid``."""
    if not isinstance(value, dict):
        raise _RecordError("NotAnObject", f"record {pmid} is a JSON {type(value).__name__}")
    pmid = pmid.strip()
    if not pmid:
        raise _RecordError("InvalidField", "empty PMID")
    question = _question(value, "QUESTION" if "QUESTION" in value else "question")
    decision = value.get("final_decision")
    if decision is None:
        raise _RecordError("MissingField", "no final_decision")
    label_decision = decision.strip().lower() if isinstance(decision, str) else None
    if label_decision not in PUBMEDQA_DECISIONS:
        raise _RecordError("InvalidDecision",
                           f"final_decision {decision!r} is not one of {PUBMEDQA_DECISIONS}")
    contexts = value.get("CONTEXTS")
    if contexts is None and isinstance(value.get("context"), dict):
        contexts = value["context"].get("contexts")
    if contexts is not None and (not isinstance(contexts, list)
                                 or not all(isinstance(c, str) for c in contexts)):
        raise _RecordError("InvalidField", "CONTEXTS is not a list of strings")
    context = "\n".join(c.strip() for c in contexts) if contexts else None
    explanation = _text(value, "LONG_ANSWER" if "LONG_ANSWER" in value else "long_answer",
                        required=False) or None
    options = [QAOption(LABELS[i], d) for i, d in enumerate(PUBMEDQA_DECISIONS)]
    label = LABELS[PUBMEDQA_DECISIONS.index(label_decision)]
    return _pair(ctx, "pubmedqa", pmid, question, options, label, context=context or None,
                 explanation=explanation)


_LINE_PARSERS: dict[str, Callable[[dict, _Context], QAPair]] = {
    "aistairc_jsonl": _aistairc,
    "medqa_jsonl": _medqa,
    "medmcqa_jsonl": _medmcqa,
    "pubmedqa_jsonl": _pubmedqa_line,
}


# --------------------------------------------------------------------------- PubMedQA JSON
class _PairDict(dict):
    """A JSON object that also keeps its (key, value) pairs in order, repeated keys included."""

    def __init__(self, pairs: list):
        super().__init__(pairs)
        self.pairs = pairs


def _parse_pubmedqa_json(path: str, data: bytes) -> Iterator[Record]:
    """One record per key of the top-level object; ``record_index`` = ordinal of the key."""
    try:
        top = json.loads(data.decode("utf-8"), object_pairs_hook=_PairDict)
    except UnicodeDecodeError as exc:
        yield _dead(path, "DecodeError", f"file is not UTF-8: {exc}", data, None)
        return
    except ValueError as exc:
        yield _dead(path, "InvalidJSON", f"file is not one JSON document: {exc}", data, None)
        return
    if not isinstance(top, _PairDict):
        yield _dead(path, "NotAnObject", "top level is not a JSON object", data, None)
        return
    name = _base_name(path)
    seen: set[str] = set()
    for index, (pmid, value) in enumerate(top.pairs):
        raw = json.dumps({pmid: value}, ensure_ascii=False)
        yield _checked(lambda v, ctx, pmid=pmid: _pubmedqa(v, pmid, ctx), value,
                       _Context(path, name, index, 1), seen, raw)


# --------------------------------------------------------------------------- MMLU CSV
def _parse_mmlu_csv(path: str, data: bytes) -> Iterator[Record]:
    """One record per CSV row (quoted fields may span lines); ``record_index`` = row ordinal."""
    name = _base_name(path)
    stem = _stem(name)
    subject = _SPLIT_SUFFIX_RE.sub("", stem)
    # undecodable bytes become lone surrogates, so that only their row is lost
    reader = csv.reader(io.StringIO(data.decode("utf-8", errors="surrogateescape"), newline=""))
    seen: set[str] = set()
    index = -1
    while True:
        index += 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield _dead(path, "CsvError", f"row {index}: {exc}", "", index)
            continue
        if not any(field.strip() for field in row):
            continue
        raw = _csv_line(row)
        if any(_SURROGATE_RE.search(field) for field in row):
            yield _dead(path, "DecodeError", f"row {index} is not UTF-8",
                        raw.encode("utf-8", errors="surrogateescape"), index)
            continue
        yield _checked(lambda r, ctx: _mmlu_row(r, ctx, stem, subject), row,
                       _Context(path, name, index, 1), seen, raw)


def _mmlu_row(row: list[str], ctx: _Context, stem: str, subject: str) -> QAPair:
    """``question, A, B, C, D, answer letter``."""
    if len(row) != MMLU_COLUMNS:
        raise _RecordError("WrongColumnCount", f"{len(row)} columns, expected {MMLU_COLUMNS}")
    question = row[0].strip()
    if not question:
        raise _RecordError("EmptyQuestion", "empty question")
    options = [QAOption(LABELS[i], row[i + 1].strip()) for i in range(4)]
    label = row[5].strip().upper()
    if len(label) != 1 or label not in LABELS[:4]:
        raise _RecordError("AnswerNotInOptions", f"answer {row[5]!r} is not one of A, B, C, D")
    return _pair(ctx, "mmlu", f"{stem}:{ctx.index}", question, options, label, subject=subject)


def _csv_line(row: list[str]) -> str:
    """``row`` written back as one CSV line (for excerpts)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(row)
    return out.getvalue()


# --------------------------------------------------------------------------- helpers
def _pair(ctx: _Context, dataset: str, source_id: str, question: str, options: list[QAOption],
          label: str, *, context: Optional[str] = None, explanation: Optional[str] = None,
          subject: Optional[str] = None) -> QAPair:
    """The ``QAPair``; the correct option (``label``, str) must have a non-empty text."""
    answer = next(o.text for o in options if o.label == label)
    if not answer:
        raise _RecordError("EmptyAnswer", f"the correct option {label} has no text")
    return QAPair(
        id=f"{dataset}:{source_id}", dataset=dataset, source_id=source_id, question=question,
        options=options, answer_idx=label, answer=answer, context=context,
        explanation=explanation, subject=subject, source_file=ctx.path, source_index=ctx.index)


def _value_text(value: Any, what: str) -> str:
    """A JSON scalar as stripped text (numbers are written out); raises ``_RecordError``."""
    if value is None:
        raise _RecordError("MissingField", f"{what} is null")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _RecordError("InvalidField", f"{what} is a {type(value).__name__}, not text")
    return str(value).strip()


def _text(obj: dict, key: str, *, required: bool = True) -> Optional[str]:
    """``obj[key]`` as stripped text; ``None`` when absent or null and not ``required``."""
    if obj.get(key) is None:
        if required:
            raise _RecordError("MissingField", f"no {key}")
        return None
    return _value_text(obj[key], key)


def _question(obj: dict, key: str) -> str:
    """The non-empty question text ``obj[key]``."""
    question = _text(obj, key)
    if not question:
        raise _RecordError("EmptyQuestion", f"{key} is empty")
    return question


def _ws(text: str) -> str:
    return " ".join(text.split())


def _name_hint(name: str) -> Optional[str]:
    """The dataset a file name names (``medmcqa.jsonl`` -> ``medmcqa``), or ``None``."""
    lowered = name.lower()
    return next((hint for hint in _NAME_HINTS if hint in lowered), None)


def _base_name(path: str) -> str:
    """The last component of a local path or URL (``gs://b/x/anatomy_test.csv`` -> ``anatomy_test.csv``)."""
    return os.path.basename(path.rstrip("/"))


def _stem(name: str) -> str:
    """A file name without ``.gz`` and its format extension (``anatomy_test.csv.gz`` -> ``anatomy_test``)."""
    if name.lower().endswith(".gz"):
        name = name[:-3]
    root, ext = os.path.splitext(name)
    return root if ext.lower() in (".csv", ".json", ".jsonl", ".txt", ".tsv") else name


def _dead(path: str, error_type: str, message: str, raw: Union[bytes, str],
          index: Optional[int]) -> DeadLetter:
    return DeadLetter(source_file=path, stage=STAGE, error_type=error_type, message=message,
                      excerpt=excerpt(raw, 300), record_index=index)
