"""Find the raw files, pair each with its sidecar, and read its cells exactly as they are.

Every file is read once into memory (opened read-only), hashed, and parsed from those same bytes, so the checksum
in the manifest is the checksum of what was read. Spreadsheets are read with python-calamine; cells keep their
type (text, number, datetime) so that number parsing happens in `normalise`, not in a reader's guess.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import python_calamine

from pipelines.errors import PipelineError
from pipelines.sidecar import SIDECAR_SUFFIX, Sidecar, SidecarError, load_sidecar, sidecar_path

DATA_SUFFIXES = {".xlsx": "xlsx", ".csv": "csv"}


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


# What Windows, macOS and Office leave beside the files an operator drops in: never data, so skipped (and listed
# in the run log) rather than stopping the run as an unsupported file.
OS_FILES = {"desktop.ini": "Windows folder settings", "thumbs.db": "Windows thumbnail cache",
            ".ds_store": "macOS folder settings"}


def skip_reason(path: Path, raw_dir: Path | None = None) -> str | None:
    """Why a file under the raw directory is not read as data (None: it is data, or a sidecar)."""
    name = path.name
    if name.endswith(SIDECAR_SUFFIX):
        return None
    if name.casefold() in OS_FILES:
        return OS_FILES[name.casefold()]
    if name.startswith("~$"):
        return "Office lock file of an open document"
    if name.startswith("."):  # .gitkeep, editors' and macOS's ._ copies
        return "hidden file"
    if raw_dir is not None:
        hidden = next((p for p in path.relative_to(raw_dir).parent.parts if p.startswith(".")), None)
        if hidden is not None:
            return f"inside the hidden folder {hidden}"
    if name.upper().startswith("README"):
        return "a README, not data"
    return None


def _is_ignored(path: Path, raw_dir: Path | None = None) -> bool:
    return path.name.endswith(SIDECAR_SUFFIX) or skip_reason(path, raw_dir) is not None


def skipped_files(raw_dir: Path) -> list[dict[str, str]]:
    """The files under `raw_dir` that `discover` passes over, each with why, for the run log."""
    if not raw_dir.is_dir():
        return []
    found = []
    for path in sorted(p for p in raw_dir.rglob("*") if p.is_file()):
        why = skip_reason(path, raw_dir)
        if why is not None:
            found.append({"path": path.relative_to(raw_dir).as_posix(), "why": why})
    return found


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
    for path in sorted(p for p in raw_dir.rglob("*") if p.is_file() and not _is_ignored(p, raw_dir)):
        rel = path.relative_to(raw_dir).as_posix()
        fmt = DATA_SUFFIXES.get(path.suffix.lower())
        if fmt is None:
            raise PipelineError(
                f"unsupported file type {path.suffix or '(none)'!r}: raw data files are .xlsx or .csv", file=rel
            )
        try:
            sidecar = load_sidecar(path)
        except SidecarError as exc:
            raise PipelineError(_relative_message(str(exc), raw_dir), file=rel) from exc
        if sidecar.read.format != fmt:
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


# An xlsx is a zip of XML parts. Bounds on what its parts declare they inflate to, checked before any part is
# inflated, so a "zip bomb" (a few MB that inflate to gigabytes) is refused instead of filling memory. Real
# exports compress 5-20:1; the 100x benchmark sample's largest sheet inflates to well under 1 GB.
MAX_XLSX_INFLATED = 2 * 1024**3
MAX_XLSX_RATIO = 200
RATIO_CHECKED_ABOVE = 64 * 1024**2  # small parts may compress well (a blank sheet); only large ones are checked


def check_xlsx_inflation(raw: RawFile) -> None:
    """Refuse a workbook whose parts declare an implausible inflated size or compression ratio."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw.content)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise PipelineError(
            f"not a readable xlsx workbook (truncated or damaged?): {type(exc).__name__}: {exc}", file=raw.rel
        ) from exc
    total = sum(p.file_size for p in parts)
    if total > MAX_XLSX_INFLATED:
        raise PipelineError(
            f"the workbook's parts would inflate to {total / 1024**2:,.0f} MB uncompressed (limit "
            f"{MAX_XLSX_INFLATED / 1024**2:,.0f} MB): refused as a possible zip bomb", file=raw.rel,
        )
    for part in parts:
        if part.file_size > RATIO_CHECKED_ABOVE and part.file_size > MAX_XLSX_RATIO * max(part.compress_size, 1):
            raise PipelineError(
                f"part {part.filename} would inflate {part.file_size / max(part.compress_size, 1):,.0f} times "
                f"(to {part.file_size / 1024**2:,.0f} MB uncompressed; limit {MAX_XLSX_RATIO}:1): refused as a "
                "possible zip bomb", file=raw.rel,
            )


def read_xlsx(raw: RawFile, sheet: str, header_row: int) -> Sheet:
    """The cells of `sheet` under `header_row`, trailing empty rows dropped (calamine stops at the used range)."""
    check_xlsx_inflation(raw)
    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(raw.content))
    except Exception as exc:  # calamine raises its own zip/xml error types, all meaning "not a readable xlsx"
        raise PipelineError(
            f"not a readable xlsx workbook (truncated or damaged?): {type(exc).__name__}: {exc}", file=raw.rel
        ) from exc
    if sheet not in workbook.sheet_names:
        raise PipelineError(
            f"sheet not found; the workbook has {', '.join(repr(s) for s in workbook.sheet_names)}",
            file=raw.rel, sheet=sheet,
        )
    try:
        cells = workbook.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    except Exception as exc:
        raise PipelineError(f"cannot read the sheet: {type(exc).__name__}: {exc}", file=raw.rel, sheet=sheet) from exc
    return _under_header(raw.rel, sheet, header_row, cells)


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


def _under_header(file: str, sheet: str | None, header_row: int, cells: list[list[object]]) -> Sheet:
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
        if name and name in seen:
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
