"""Readers for the two AdventureWorks export formats people actually have.

Both formats are streamed record by record in Python, which is where structural problems
(encoding, delimiter, field count, quoting, truncation) can be reported with an exact
physical line number. Each table is rewritten as a normalized CSV (RFC 4180, UTF-8, a
leading ``_line`` column with the record's first line) that DuckDB reads as text;
value-level checks (numbers, dates, booleans) then run in SQL, see ``staging.py``.

Formats:

* ``headered``: ``DIR/<schema>/<Table>.csv``, UTF-8, comma-delimited, RFC 4180 quoting,
  a header row with the official column names (any order).
* ``official``: Microsoft's install-script folder, ``DIR/<Table>.csv``, no header, no
  quoting, UTF-8 or UTF-16LE (BOM), fields separated by tab or ``+|``, rows ended by LF,
  CRLF or ``&|`` + line break; column order from ``instawdb.sql`` when present.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from medallion.errors import SourceDataError
from medallion.loading.catalog import TABLES, Table

HEADERED, OFFICIAL = "headered", "official"
_FIELD_SEP, _ROW_END = "+|", "&|"
_INSTAWDB = "instawdb.sql"
_OTHER_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe", "+|": "'+|'"}


@dataclass(frozen=True)
class SourceFile:
    """One raw table's file in an export, and the column order its fields come in."""

    table: Table
    path: Path
    fmt: str
    columns: tuple[str, ...] | None  # official: file column order; headered: from header


@dataclass(frozen=True)
class NormalizedFile:
    """A source file rewritten for DuckDB: ``_line`` + the catalog columns, all text."""

    source: SourceFile
    path: Path
    rows: int


def _find_case_insensitive(directory: Path, name: str) -> Path | None:
    exact = directory / name
    if exact.is_file():
        return exact
    if not directory.is_dir():
        return None
    lowered = name.lower()
    for candidate in directory.iterdir():
        if candidate.name.lower() == lowered and candidate.is_file():
            return candidate
    return None


def detect_format(source: Path) -> str:
    """``headered`` when any ``<schema>/<Table>.csv`` exists, ``official`` for flat files."""
    if not source.is_dir():
        raise SourceDataError(
            "source is not a directory; pass the folder holding the AdventureWorks export",
            path=str(source),
        )
    for table in TABLES:
        if _find_case_insensitive(source / table.schema, f"{table.name}.csv"):
            return HEADERED
    for table in TABLES:
        if _find_case_insensitive(source, f"{table.name}.csv"):
            return OFFICIAL
    raise SourceDataError(
        "no AdventureWorks export found: expected <schema>/<Table>.csv files (headered CSV, "
        "e.g. sales/SalesOrderHeader.csv) or flat <Table>.csv files (official install-script "
        "format); check the path",
        path=str(source),
    )


def source_files(source: Path) -> list[SourceFile]:
    """Every catalog table's file in ``source``; a missing one is an error naming its path."""
    fmt = detect_format(source)
    official_columns = parse_instawdb(source / _INSTAWDB) if fmt == OFFICIAL else {}
    files: list[SourceFile] = []
    for table in TABLES:
        directory = source / table.schema if fmt == HEADERED else source
        path = _find_case_insensitive(directory, f"{table.name}.csv")
        if path is None:
            raise SourceDataError(
                f"missing file for table {table.qualified}: every raw table must be in the "
                f"export ({fmt} format detected); add the file or fix its name",
                path=str(directory / f"{table.name}.csv"),
            )
        columns = None
        if fmt == OFFICIAL:
            columns = official_columns.get(table.qualified.lower(), table.column_names)
        files.append(SourceFile(table, path, fmt, columns))
    return files


def fingerprint(source: Path) -> str:
    """Cheap identity of an export: format, resolved path, and each used file's size and mtime."""
    digest = hashlib.sha256()
    fmt = detect_format(source)
    digest.update(f"{fmt}|{source.resolve()}".encode())
    extra = [source / _INSTAWDB] if (source / _INSTAWDB).is_file() else []
    for path in [f.path for f in source_files(source)] + extra:
        stat = path.stat()
        digest.update(f"|{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return f"source:{digest.hexdigest()[:32]}"


# --- instawdb.sql -----------------------------------------------------------------------

_CREATE_TABLE = re.compile(r"CREATE\s+TABLE\s+\[?(\w+)\]?\s*\.\s*\[?(\w+)\]?\s*\(", re.IGNORECASE)
_COLUMN_NAME = re.compile(r"^\s*(?:\[([^\]]+)\]|([A-Za-z_]\w*))")
_NOT_COLUMNS = ("CONSTRAINT", "PRIMARY", "UNIQUE", "INDEX", "CHECK", "FOREIGN")


def _split_top_level(body: str) -> list[str]:
    """Split a CREATE TABLE body on the commas that separate its column definitions."""
    items, depth, start, in_string = [], 0, 0, False
    for i, ch in enumerate(body):
        if ch == "'":
            in_string = not in_string
        elif in_string:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(body[start:i])
            start = i + 1
    items.append(body[start:])
    return items


def parse_instawdb(path: Path) -> dict[str, tuple[str, ...]]:
    """Column order of each CREATE TABLE in ``instawdb.sql``, keyed by lower-case schema.table.

    The official data files carry every column, computed ones included, in this order.
    """
    if not path.is_file():
        return {}
    raw = path.read_bytes()
    text = (
        raw.decode("utf-16")
        if raw[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
        else (raw.decode("utf-8-sig", errors="replace"))
    )
    text = re.sub(r"--[^\n]*", "", text)
    result: dict[str, tuple[str, ...]] = {}
    for match in _CREATE_TABLE.finditer(text):
        depth, i = 1, match.end()
        while i < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        names = []
        for item in _split_top_level(text[match.end() : i - 1]):
            word = item.strip().split(None, 1)[0].upper() if item.strip() else ""
            found = _COLUMN_NAME.match(item)
            if found and word not in _NOT_COLUMNS:
                names.append(found.group(1) or found.group(2))
        result[f"{match.group(1)}.{match.group(2)}".lower()] = tuple(names)
    return result


# --- decoding ---------------------------------------------------------------------------


def _encoding_of(path: Path) -> str:
    with path.open("rb") as fh:
        head = fh.read(4)
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return "utf-16"
    return "utf-8-sig"


def _encoding_error(sf: SourceFile, encoding: str) -> SourceDataError:
    """Locate the first undecodable byte: line, and the column whose field holds it."""
    data = sf.path.read_bytes()
    try:
        data.decode(encoding)
    except UnicodeDecodeError as exc:
        text = data.decode(encoding, errors="replace")
        first = text.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
        if sf.fmt == HEADERED:
            sep, columns = ",", tuple(next(csv.reader([first]), []))
        else:
            sep = _FIELD_SEP if _FIELD_SEP in first else "\t"
            columns = sf.columns or sf.table.column_names
        prefix = data[: exc.start].decode(encoding, errors="replace")
        line = prefix.count("\n") + 1
        index = prefix.rsplit("\n", 1)[-1].count(sep)
        column = columns[index] if index < len(columns) else f"field {index + 1}"
        bad = data[exc.start : exc.end].hex(" ")
        name = "UTF-16" if encoding == "utf-16" else "UTF-8"
        return SourceDataError(
            f"bad encoding: byte(s) {bad} at byte offset {exc.start} are not valid {name}; "
            "re-export the file as UTF-8 (or UTF-16 with a byte-order mark)",
            path=str(sf.path),
            line=line,
            column=column,
        )
    raise AssertionError("decoding failed while streaming but not on a full read")


# --- record streams ---------------------------------------------------------------------


def _empty_file_error(sf: SourceFile, expected: tuple[str, ...]) -> SourceDataError:
    what = "a header row" if sf.fmt == HEADERED else "data rows"
    return SourceDataError(
        f"empty file: table {sf.table.qualified} has no {what}; re-export it",
        path=str(sf.path),
        line=1,
        column=expected[0],
    )


def _field_count_error(
    sf: SourceFile, line: int, got: int, columns: tuple[str, ...], last: bool, delim: str
) -> SourceDataError:
    expected = len(columns)
    if got < expected:
        column = columns[got]
        detail = f"missing column {column}"
    else:
        column = f"field {expected + 1} (after {columns[-1]})"
        detail = "extra field(s)"
    hint = ""
    if last and got < expected:
        hint = " (truncated last line: the file ends mid-record; re-export it)"
    elif got == 1 and expected > 1:
        hint = f"; the delimiter does not seem to be {delim!r}"
    return SourceDataError(
        f"record has {got} field(s), table {sf.table.qualified} expects {expected}: {detail}{hint}",
        path=str(sf.path),
        line=line,
        column=column,
    )


def _headered_records(sf: SourceFile, fh: io.TextIOBase) -> Iterator[tuple[int, list[str]]]:
    """Header-checked records of a headered CSV, as (first line, fields in catalog order)."""
    expected = sf.table.column_names
    reader = csv.reader(fh, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise _empty_file_error(sf, expected) from None
    if not any(h.strip() for h in header):
        raise _empty_file_error(sf, expected)
    if len(header) == 1:
        for delim, name in _OTHER_DELIMITERS.items():
            if delim in header[0]:
                raise SourceDataError(
                    f"wrong delimiter: the header uses {name} ({delim!r}) between column "
                    "names, expected comma-separated values; re-export as CSV with ','",
                    path=str(sf.path),
                    line=1,
                    column=expected[0],
                )
    by_name = {h.strip().lstrip("\ufeff").lower(): i for i, h in enumerate(header)}
    missing = [c for c in expected if c.lower() not in by_name]
    extra = [h for h in header if h.strip().lower() not in {c.lower() for c in expected}]
    if missing:
        raise SourceDataError(
            f"header lacks column {missing[0]} of table {sf.table.qualified} "
            f"(missing: {', '.join(missing)}); the header must name every column",
            path=str(sf.path),
            line=1,
            column=missing[0],
        )
    if extra:
        raise SourceDataError(
            f"header has column(s) {', '.join(extra)} that table {sf.table.qualified} does not "
            f"have; expected exactly: {', '.join(expected)}",
            path=str(sf.path),
            line=1,
            column=extra[0],
        )
    order = [by_name[c.lower()] for c in expected]
    in_file_order = tuple(header[i].strip() for i in range(len(header)))
    identity = order == list(range(len(expected)))
    previous = reader.line_num
    records = iter(reader)
    pending = None
    while True:
        try:
            record = pending if pending is not None else next(records)
            pending = None
        except StopIteration:
            return
        except csv.Error as exc:
            raise _csv_error(sf, previous + 1, exc, in_file_order) from None
        line = previous + 1
        previous = reader.line_num
        if len(record) != len(header):
            if not record:  # a blank line
                continue
            last = False
            try:
                pending = next(records)
            except (StopIteration, csv.Error):
                last = True
            raise _field_count_error(sf, line, len(record), in_file_order, last, ",")
        yield line, (record if identity else [record[i] for i in order])


def _csv_error(
    sf: SourceFile, line: int, exc: csv.Error, columns: tuple[str, ...]
) -> SourceDataError:
    """Turn csv's terse error into one naming the field, re-reading the record's text."""
    with sf.path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
        lines = fh.readlines()
    text = "".join(lines[line - 1 :])
    in_quotes, index, start_line = False, 0, line
    for ch in text:
        if ch == '"':
            in_quotes = not in_quotes
        elif ch == "," and not in_quotes:
            index += 1
        elif ch == "\n" and not in_quotes:
            break
    column = columns[index] if index < len(columns) else f"field {index + 1}"
    if in_quotes:
        message = (
            "unterminated quoted field: the file ends inside quotes (truncated last line?); "
            "close the quote or re-export the file"
        )
    else:
        message = f"malformed CSV ({exc}); quote fields holding ',', '\"' or line breaks"
    return SourceDataError(message, path=str(sf.path), line=start_line, column=column)


def _official_records(sf: SourceFile, fh: io.TextIOBase) -> Iterator[tuple[int, list[str]]]:
    """Records of an install-script file: tab or ``+|`` fields, LF/CRLF or ``&|`` rows."""
    assert sf.columns is not None
    file_columns = sf.columns
    wanted = {c.lower(): i for i, c in enumerate(file_columns)}
    missing = [c for c in sf.table.column_names if c.lower() not in wanted]
    if missing:
        raise SourceDataError(
            f"instawdb.sql's CREATE TABLE {sf.table.qualified} lacks column {missing[0]}; "
            "use the instawdb.sql that matches the data files",
            path=str(sf.path.parent / _INSTAWDB),
            column=missing[0],
        )
    order = [wanted[c.lower()] for c in sf.table.column_names]
    header = [c.lower() for c in file_columns]
    line_no, start, buffer, mode, first = 0, 0, [], None, True
    for raw_line in fh:
        line_no += 1
        if mode is None:
            if not raw_line.strip():
                continue
            stripped = raw_line.rstrip("\r\n")
            mode = "terminated" if stripped.endswith(_ROW_END) or _FIELD_SEP in stripped else "tab"
        if not buffer:
            start = line_no
        buffer.append(raw_line)
        if mode == "terminated":
            body = raw_line.rstrip("\r\n")
            if not body.endswith(_ROW_END):
                continue
            text = "".join(buffer).rstrip("\r\n")[: -len(_ROW_END)]
            fields = text.split(_FIELD_SEP)
        else:
            text = raw_line.rstrip("\r\n")
            if not text:
                buffer = []
                continue
            fields = text.split("\t")
        buffer = []
        if first and [f.strip().lstrip("\ufeff").lower() for f in fields] == header:
            first = False  # some copies of these files carry a header row: skip it
            continue
        first = False
        if len(fields) != len(file_columns):
            last = fh.read(1) == ""
            delim = "+|" if mode == "terminated" else "\t"
            raise _field_count_error(sf, start, len(fields), file_columns, last, delim)
        yield start, [fields[i].lstrip("\ufeff") for i in order]
    if buffer and "".join(buffer).strip():
        column_index = "".join(buffer).count(_FIELD_SEP)
        column = file_columns[min(column_index, len(file_columns) - 1)]
        raise SourceDataError(
            f"truncated last line: the record starting here does not end with {_ROW_END!r}; "
            "the file was cut short, re-export it",
            path=str(sf.path),
            line=start,
            column=column,
        )
    if mode is None:
        raise _empty_file_error(sf, sf.table.column_names)


def normalize(sf: SourceFile, out_dir: Path) -> NormalizedFile:
    """Stream ``sf`` into ``out_dir/<schema>.<Table>.csv``; raise on any structural problem."""
    encoding = _encoding_of(sf.path) if sf.fmt == OFFICIAL else "utf-8-sig"
    if sf.path.stat().st_size == 0:
        raise _empty_file_error(sf, sf.table.column_names)
    out = out_dir / f"{sf.table.qualified}.csv"
    rows = 0
    try:
        with (
            sf.path.open(encoding=encoding, errors="strict", newline="") as fh,
            out.open("w", encoding="utf-8", newline="") as target,
        ):
            writer = csv.writer(target, lineterminator="\n")
            records = _headered_records(sf, fh) if sf.fmt == HEADERED else _official_records(sf, fh)
            for line, fields in records:
                writer.writerow([line, *fields])
                rows += 1
    except UnicodeDecodeError:
        raise _encoding_error(sf, encoding) from None
    return NormalizedFile(sf, out, rows)
