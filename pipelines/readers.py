"""Find the raw files, pair each with its sidecar, and read its cells exactly as they are.

Every file is read once into memory (opened read-only), hashed, and parsed from those same bytes, so the checksum
in the manifest is the checksum of what was read. Spreadsheets are read with python-calamine; cells keep their
type (text, number, datetime) so that number parsing happens in `normalise`, not in a reader's guess.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import io
import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import python_calamine

from pipelines.errors import PipelineError
from pipelines.eusurvey import CONTENT_SHEET, continuation_sheets, unique_header_keys
from pipelines.sidecar import SIDECAR_SUFFIX, Sidecar, SidecarError, load_sidecar, sidecar_path

log = logging.getLogger(__name__)

DATA_SUFFIXES = {".xlsx": "xlsx", ".xls": "xls", ".ods": "ods", ".zip": "zip", ".csv": "csv"}


@dataclass
class RawFile:
    """One raw data file with its sidecar; `rel` is its path relative to the raw directory (posix)."""

    path: Path
    rel: str
    sidecar: Sidecar
    content: bytes = field(repr=False)
    sha256: str
    sidecar_sha256: str  # a changed sidecar changes what is read, so it is an input too
    rows: int = 0  # data rows read, filled in by the step that reads it

    @property
    def kind(self) -> str:
        return self.sidecar.kind

    @property
    def format(self) -> str:
        return DATA_SUFFIXES[self.path.suffix.lower()]


@dataclass(frozen=True)
class Sheet:
    """The cells under a header row. `first_row` is the spreadsheet row number of `rows[0]` (1-based)."""

    file: str
    sheet: str | None  # None for a CSV
    header_row: int
    header: list[str]
    rows: list[list[object]]

    @property
    def first_row(self) -> int:
        return self.header_row + 1

    def column(self, name: str) -> int:
        return self.header.index(header_text(name))

    def require(self, names: list[str], *, what: str = "column") -> None:
        """Every name must be a header of this sheet: a missing one is fatal, naming the header row."""
        for name in (header_text(n) for n in names):
            if name not in self.header:
                raise PipelineError(
                    f"the sidecar names {what} {name!r} but the header row does not have it "
                    f"(header: {', '.join(repr(h) for h in self.header if h)})",
                    file=self.file, sheet=self.sheet, row=self.header_row, column=name,
                )


def _is_ignored(path: Path) -> bool:
    name = path.name
    return (
        name.endswith(SIDECAR_SUFFIX)
        or name.upper().startswith("README")
        or name.startswith(".")  # .gitkeep, editor and OS droppings
        or name.startswith("~$")  # Excel's lock file next to an open workbook
    )


def _check_inside(path: Path, raw_dir: Path) -> None:
    """A symlink under data/raw/ must not lead outside it: the pipeline reads only what was dropped there.

    Checked for every entry, directories included: rglob does not descend into a symlinked directory, so one
    pointing elsewhere would otherwise be skipped without a word.
    """
    root = raw_dir.resolve()
    target = path.resolve()
    if target != root and root not in target.parents:
        raise PipelineError(
            f"a symbolic link leads outside the raw data directory (to {target}); copy the file into it instead",
            file=path.relative_to(raw_dir).as_posix(),
        )


def discover(raw_dir: Path) -> list[RawFile]:
    """Every data file under `raw_dir`, sorted by path, each with its validated sidecar (missing = fatal)."""
    if not raw_dir.is_dir():
        raise PipelineError("the raw data directory does not exist", file=raw_dir)
    for entry in sorted(raw_dir.rglob("*")):
        if entry.is_symlink():
            _check_inside(entry, raw_dir)
    found: list[RawFile] = []
    for path in sorted(p for p in raw_dir.rglob("*") if p.is_file() and not _is_ignored(p)):
        rel = path.relative_to(raw_dir).as_posix()
        fmt = DATA_SUFFIXES.get(path.suffix.lower())
        if fmt is None:
            raise PipelineError(
                f"unsupported file type {path.suffix or '(none)'!r}: raw data files are "
                f"{', '.join(DATA_SUFFIXES)}", file=rel
            )
        try:
            sidecar = load_sidecar(path)
        except SidecarError as exc:
            raise PipelineError(_relative_message(str(exc), raw_dir), file=rel) from exc
        if sidecar.read.format not in (None, fmt):
            raise PipelineError(f"the sidecar says read.format {sidecar.read.format!r} but the file is {fmt}", file=rel)
        try:
            with path.open("rb") as handle:  # read-only: raw files are never modified
                content = handle.read()
        except OSError as exc:
            raise PipelineError(f"cannot read the file: {exc.strerror or exc}", file=rel) from exc
        sidecar_bytes = sidecar_path(path).read_bytes()
        found.append(RawFile(path, rel, sidecar, content, hashlib.sha256(content).hexdigest(),
                             hashlib.sha256(sidecar_bytes).hexdigest()))
    return found


def orphan_sidecars(raw_dir: Path) -> list[str]:
    """Sidecars whose data file is missing (worth a warning: a file may have been renamed)."""
    return sorted(
        p.relative_to(raw_dir).as_posix()
        for p in raw_dir.rglob(f"*{SIDECAR_SUFFIX}")
        if not p.with_name(p.name[: -len(SIDECAR_SUFFIX)]).is_file()
    )


def _relative_message(message: str, raw_dir: Path) -> str:
    # load_sidecar names absolute paths; the error already names the file relative to the raw directory
    return message.replace(f"{raw_dir}/", "").replace(str(raw_dir), "")


# A spreadsheet (xlsx, ods) is a zip of XML parts, and a large EUSurvey export is a zip of workbooks. Bounds on what
# a zip's parts declare they inflate to, checked before any part is inflated, so a "zip bomb" (a few MB that
# inflate to gigabytes) is refused instead of filling memory. Real exports compress 5-20:1; the 100x benchmark
# sample's largest sheet inflates to well under 1 GB.
MAX_XLSX_INFLATED = 2 * 1024**3
MAX_XLSX_RATIO = 200
RATIO_CHECKED_ABOVE = 64 * 1024**2  # small parts may compress well (a blank sheet); only large ones are checked
ZIPPED_FORMATS = ("xlsx", "ods", "zip")


def check_zip_inflation(content: bytes, file: str, what: str = "workbook") -> list[zipfile.ZipInfo]:
    """The parts of a zip container, after refusing implausible inflated sizes or compression ratios."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise PipelineError(
            f"not a readable {what} (truncated or damaged?): {type(exc).__name__}: {exc}", file=file
        ) from exc
    total = sum(p.file_size for p in parts)
    if total > MAX_XLSX_INFLATED:
        raise PipelineError(
            f"the {what}'s parts would inflate to {total / 1024**2:,.0f} MB uncompressed (limit "
            f"{MAX_XLSX_INFLATED / 1024**2:,.0f} MB): refused as a possible zip bomb", file=file,
        )
    for part in parts:
        if part.file_size > RATIO_CHECKED_ABOVE and part.file_size > MAX_XLSX_RATIO * max(part.compress_size, 1):
            raise PipelineError(
                f"part {part.filename} would inflate {part.file_size / max(part.compress_size, 1):,.0f} times "
                f"(to {part.file_size / 1024**2:,.0f} MB uncompressed; limit {MAX_XLSX_RATIO}:1): refused as a "
                "possible zip bomb", file=file,
            )
    return parts


def check_xlsx_inflation(raw: RawFile) -> None:
    """Refuse a workbook whose parts declare an implausible inflated size or compression ratio."""
    check_zip_inflation(raw.content, raw.rel)


@dataclass
class Workbook:
    """One spreadsheet file (or one workbook inside a zip) opened for reading; `name` is how provenance names it."""

    name: str
    fmt: str  # xlsx | xls | ods
    content: bytes = field(repr=False)
    book: python_calamine.CalamineWorkbook = field(repr=False)

    @property
    def sheet_names(self) -> list[str]:
        return list(self.book.sheet_names)


def open_workbook(content: bytes, name: str, fmt: str) -> Workbook:
    """A spreadsheet's bytes opened with python-calamine (xlsx, xls or ods, told apart by their content)."""
    if fmt in ZIPPED_FORMATS:
        check_zip_inflation(content, name, what=f"{fmt} workbook")
    try:
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(content))
    except Exception as exc:  # calamine raises its own zip/xml/cfb error types, all meaning "not readable"
        raise PipelineError(
            f"not a readable {fmt} workbook (truncated or damaged?): {type(exc).__name__}: {exc}", file=name
        ) from exc
    return Workbook(name, fmt, content, book)


def sheet_cells(workbook: Workbook, sheet: str) -> list[list[object]]:
    """Every row of `sheet` as read (typed cells; '' for an empty one)."""
    if sheet not in workbook.sheet_names:
        raise PipelineError(
            f"sheet not found; the workbook has {', '.join(repr(s) for s in workbook.sheet_names)}",
            file=workbook.name, sheet=sheet,
        )
    try:
        return workbook.book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    except Exception as exc:
        raise PipelineError(f"cannot read the sheet: {type(exc).__name__}: {exc}", file=workbook.name,
                            sheet=sheet) from exc


def read_xlsx(raw: RawFile, sheet: str, header_row: int) -> Sheet:
    """The cells of `sheet` under `header_row`, trailing empty rows dropped (calamine stops at the used range)."""
    workbook = open_workbook(raw.content, raw.rel, raw.format)
    return _under_header(raw.rel, sheet, header_row, sheet_cells(workbook, sheet))


# ---------------------------------------------------------------- survey exports (EUSurvey)

@dataclass(frozen=True)
class ExportPart:
    """One workbook of a survey export, its `Content` sheets read side by side as one table.

    `sheet.header` holds unique column keys (a repeated title is keyed 'Title [n]'); `titles` the header cells as
    written, `places` where each column is ('Content1!C'), `column_sheets` the sheet each column is on.
    """

    sheet: Sheet
    titles: list[str]
    places: list[str]
    column_sheets: list[str]
    alias: str | None
    export_date: dt.datetime | None


def read_survey_export(raw: RawFile) -> list[ExportPart]:
    """A survey wave's export: one part per workbook (a zip holds several, read in name order)."""
    stem = raw.sidecar.read.sheet or CONTENT_SHEET
    header_row = raw.sidecar.read.header_row
    if raw.format == "zip":
        workbooks = list(_zipped_workbooks(raw))
    elif raw.format in ("xlsx", "xls", "ods"):
        workbooks = [open_workbook(raw.content, raw.rel, raw.format)]
    else:
        raise PipelineError(
            f"survey exports are read from xlsx, xls, ods or a zip of them, not {raw.format} (EUSurvey has no CSV "
            "results export)", file=raw.rel,
        )
    return [_export_part(workbook, stem, header_row) for workbook in workbooks]


def _zipped_workbooks(raw: RawFile):
    """The workbooks inside a zipped export, by name; anything else in it (uploaded files) is left unread."""
    parts = check_zip_inflation(raw.content, raw.rel, what="zip archive")
    names = sorted(p.filename for p in parts if not p.is_dir())
    found = [n for n in names if Path(n).suffix.lower() in (".xlsx", ".xls", ".ods")
             and not Path(n).name.startswith(("~$", "."))]
    if not found:
        raise PipelineError(f"the zip archive holds no xlsx, xls or ods workbook (it has: {', '.join(names[:10])})",
                            file=raw.rel)
    for name in names:
        if name not in found:
            log.info("%s: %s is not a workbook; not read", raw.rel, name)
    with zipfile.ZipFile(io.BytesIO(raw.content)) as archive:
        for name in found:
            fmt = Path(name).suffix.lower().lstrip(".")
            yield open_workbook(archive.read(name), f"{raw.rel}/{name}", fmt)


def _export_part(workbook: Workbook, stem: str, header_row: int) -> ExportPart:
    sheets = continuation_sheets(stem, workbook.sheet_names)
    if not sheets:
        raise PipelineError(
            f"sheet not found; the workbook has {', '.join(repr(s) for s in workbook.sheet_names)}",
            file=workbook.name, sheet=stem,
        )
    titles: list[str] = []
    places: list[str] = []
    column_sheets: list[str] = []
    tables: list[tuple[int, list[list[object]]]] = []  # per sheet: its width and its rows under the header
    alias = export_date = None
    for name in sheets:
        cells = sheet_cells(workbook, name)
        table = _under_header(workbook.name, name, header_row, cells, repeated_titles=True)
        if name == sheets[0]:
            alias, export_date = _export_info(cells)
        titles += table.header
        places += [f"{name}!{column_letter(i)}" for i in range(len(table.header))]
        column_sheets += [name] * len(table.header)
        tables.append((len(table.header), table.rows))
    if len(tables) == 1:
        rows = tables[0][1]
    else:  # a wide export: row n of Content1 continues row n of Content
        rows = []
        for n in range(max(len(part) for _, part in tables)):
            row: list[object] = []
            for width, part in tables:
                row += part[n] if n < len(part) else [""] * width
            rows.append(row)
    keys = unique_header_keys(titles)
    return ExportPart(Sheet(workbook.name, sheets[0], header_row, keys, rows), titles, places, column_sheets,
                      alias, export_date)


def _export_info(cells: list[list[object]]) -> tuple[str | None, dt.datetime | None]:
    """Rows 1-2 of an export: `Alias | <alias>` and `Export Date | <date-time cell>`."""
    found: dict[str, object] = {}
    for row in cells[:2]:
        if len(row) >= 2 and isinstance(row[0], str):
            found[row[0].strip().casefold()] = row[1]
    alias = found.get("alias")
    stamp = found.get("export date")
    if isinstance(stamp, str):
        try:
            stamp = dt.datetime.strptime(stamp.strip(), "%d/%m/%Y %H:%M")  # the exporter's format, as text
        except ValueError:
            stamp = None
    return (str(alias).strip() if alias not in (None, "") else None,
            stamp if isinstance(stamp, dt.datetime) else None)


def column_letter(index: int) -> str:
    """0 -> 'A', 27 -> 'AB': how a spreadsheet names a column."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def read_csv(raw: RawFile) -> Sheet:
    """A CSV as text cells under its header row (every cell a str; '' when empty)."""
    spec = raw.sidecar.read
    try:
        text = raw.content.decode(spec.encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise PipelineError(f"cannot decode the file as {spec.encoding}: {exc}", file=raw.rel) from exc
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise PipelineError(f"not a valid CSV file: {exc}", file=raw.rel) from exc
    return _under_header(raw.rel, None, spec.header_row, rows)


def _under_header(file: str, sheet: str | None, header_row: int, cells: list[list[object]], *,
                  repeated_titles: bool = False) -> Sheet:
    """The rows under the header row, each as wide as the header. A title written twice is an error unless
    `repeated_titles` (EUSurvey repeats them; the caller keys them apart)."""
    if len(cells) < header_row:
        raise PipelineError(
            f"the file ends before the header row {header_row} (it has {len(cells)} rows)",
            file=file, sheet=sheet, row=header_row,
        )
    header = [header_text(c) for c in cells[header_row - 1]]
    while header and not header[-1]:
        header.pop()
    if not any(header):
        raise PipelineError("the header row is empty", file=file, sheet=sheet, row=header_row)
    seen: set[str] = set()
    for name in header:
        if name and name in seen and not repeated_titles:
            raise PipelineError("the header row names this column twice", file=file, sheet=sheet,
                                row=header_row, column=name)
        seen.add(name)
    width = len(header)
    rows = []
    for offset, row in enumerate(cells[header_row:]):
        if len(row) == width:  # the usual case: the reader's own row list is kept, not copied
            rows.append(row if type(row) is list else list(row))
            continue
        if any(c not in (None, "") for c in row[width:]):
            raise PipelineError(
                "a cell holds data beyond the last column of the header row",
                file=file, sheet=sheet, row=header_row + 1 + offset,
            )
        rows.append(list(row[:width]) + [""] * (width - len(row)))
    # a CSV written by hand often ends with empty lines; they are not rows
    while rows and all(c in (None, "") for c in rows[-1]):
        rows.pop()
    return Sheet(file, sheet, header_row, header, rows)


@functools.lru_cache(maxsize=8192)  # called for every cell lookup by a sidecar-named header
def header_text(value: object) -> str:
    """A header cell as compared with the sidecar: whitespace runs (line breaks included) become one space."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return " ".join(str(value).split())


def require_columns(header: list[str], expected: list[str], *, file: str, sheet: str | None, header_row: int) -> None:
    """A renamed or missing source column stops the run, naming it, instead of silently dropping data."""
    for name in expected:
        if name not in header:
            raise PipelineError(
                f"expected column {name!r} is missing (renamed?); the header has "
                f"{', '.join(repr(h) for h in header if h)}",
                file=file, sheet=sheet, row=header_row, column=name,
            )
