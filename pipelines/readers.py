"""Find the raw files, pair each with its sidecar, and read its cells exactly as they are.

Every file is read once into memory (opened read-only), hashed, and parsed from those same bytes, so the checksum
in the manifest is the checksum of what was read. Spreadsheets are read with python-calamine; cells keep their
type (text, number, datetime) so that number parsing happens in `normalise`, not in a reader's guess. A registry
sheet whose columns each hold one type of cell is read column by column with fastexcel (`read_xlsx`), into the
same cells.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import io
import logging
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast, overload
from xml.etree import ElementTree

import fastexcel
import pyarrow as pa
import pyarrow.compute as pc
import python_calamine
from zlib_ng import zlib_ng

from pipelines.errors import PipelineError, first_few
from pipelines.eusurvey import CONTENT_SHEET, continuation_sheets, meta_role, unique_header_keys
from pipelines.normalise import SpreadsheetCell, is_blank
from pipelines.sidecar import SIDECAR_SUFFIX, Sidecar, SidecarError, load_sidecar, sidecar_path

log = logging.getLogger(__name__)
# fastexcel warns when it types an empty column as text: a guess of its own, not the operator's concern
logging.getLogger("fastexcel").setLevel(logging.ERROR)

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


class ColumnRows(Sequence[list[object]]):
    """The rows of cells read column by column (`read_xlsx`'s typed columns), each row made only when asked for."""

    def __init__(self, columns: list[list[object]]):
        self.columns = columns
        self._height = len(columns[0]) if columns else 0

    def __len__(self) -> int:
        return self._height

    @overload
    def __getitem__(self, index: int) -> list[object]: ...

    @overload
    def __getitem__(self, index: slice) -> list[list[object]]: ...

    def __getitem__(self, index: int | slice) -> list[object] | list[list[object]]:
        if isinstance(index, slice):
            return [[column[i] for column in self.columns] for i in range(*index.indices(self._height))]
        if not -self._height <= index < self._height:
            raise IndexError(index)
        return [column[index] for column in self.columns]

    def __iter__(self) -> Iterator[list[object]]:
        return map(list, zip(*self.columns, strict=True))


@dataclass(frozen=True)
class Sheet:
    """The cells under a header row. `first_row` is the spreadsheet row number of `rows[0]` (1-based)."""

    file: str
    sheet: str | None  # None for a CSV
    header_row: int
    header: list[str]
    rows: Sequence[list[object]]  # a list, or ColumnRows when the sheet was read column by column

    @property
    def first_row(self) -> int:
        return self.header_row + 1

    @property
    def columns(self) -> list[Sequence[object]]:
        """The cells column by column, one column per header cell."""
        if isinstance(self.rows, ColumnRows):
            return list(self.rows.columns)
        return list(zip(*self.rows, strict=True)) if self.rows else [() for _ in self.header]

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


# An OLE compound file, as an .xls is; Office's "Encrypt with Password" also writes an xlsx as one, holding the
# encrypted workbook in these two streams (their names are stored in UTF-16)
_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_STREAMS = ("EncryptionInfo".encode("utf-16-le"), "EncryptedPackage".encode("utf-16-le"))


def compound_file_problem(content: bytes, file: str) -> str | None:
    """Why a workbook that cannot be read is not the damaged file it seems, when its bytes tell: it is
    password-protected, or an .xls under another name (None: they do not tell)."""
    if not content.startswith(_CFB_MAGIC):
        return None
    if all(stream in content for stream in _ENCRYPTED_STREAMS):
        return "the workbook is password-protected (encrypted): save it again without a password"
    suffix = Path(file).suffix.lower()
    if suffix in (".xlsx", ".ods"):
        return f"this looks like an .xls (Excel 97-2003) file named {suffix}: rename it to .xls"
    return None


def check_zip_inflation(content: bytes, file: str, what: str = "workbook") -> list[zipfile.ZipInfo]:
    """The parts of a zip container, after refusing implausible inflated sizes or compression ratios."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise PipelineError(
            compound_file_problem(content, file)
            or f"not a readable {what} (truncated or damaged?): {type(exc).__name__}: {exc}", file=file
        ) from exc
    for part in parts:
        if part.flag_bits & 0x1:  # zipfile would stop on it with a traceback, or on AES with "not supported"
            raise PipelineError(
                f"{part.filename} in the {what} is password-protected (encrypted): export it again without a "
                "password", file=file,
            )
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
            compound_file_problem(content, name)
            or f"not a readable {fmt} workbook (truncated or damaged?): {type(exc).__name__}: {exc}", file=name
        ) from exc
    return Workbook(name, fmt, content, book)


# How far a sheet may reach before it is read cell by cell instead of whole. python-calamine allocates the rectangle
# spanned by the cells it finds (not the one the sheet declares): one stray space at XFD1048576 asks for ~512 GiB
# and aborts the process, one at A1048576 reads a million empty rows. A narrow sheet (columns A to Z) that holds more
# cells than MAX_SHEET_ROWS may reach as many rows as it holds cells (a table has at least one per row; a stray
# cell far below a small table does not), up to Excel's last row: its rectangle stays under 27 M cells, a tenth of
# the 400,000 x 702 allowed to any sheet. The 100x benchmark registry's commitments sheet (656,657 rows x 5
# columns) was read cell by cell with openpyxl without it, 40 of the run's 70 s. The largest real export (EUSurvey
# splits at ~20,000 rows) is far inside these bounds.
MAX_SHEET_ROWS = 400_000
MAX_SHEET_COLUMNS = 702  # column ZZ: EUSurvey moves to a new sheet after 254
EXCEL_ROWS = 1_048_576


def sheet_cells(workbook: Workbook, sheet: str, part: bytes | None = None) -> list[list[object]]:
    """Every row of `sheet` as read (typed cells; '' for an empty one). In an xlsx, a formula or an Excel error
    value comes as a `SpreadsheetCell`, never as its cached result, and stray cells far beyond the data are
    dropped with a warning naming them. `part`: the sheet's XML when the caller has it already."""
    if sheet not in workbook.sheet_names:
        raise PipelineError(
            f"sheet not found; the workbook has {', '.join(repr(s) for s in workbook.sheet_names)}",
            file=workbook.name, sheet=sheet,
        )
    if part is None and workbook.fmt == "xlsx":
        part = xlsx_sheet_xml(workbook.content, workbook.name, sheet)
    if part is not None and not _within_bounds(part):
        return _bounded_cells(workbook, sheet)
    try:
        # object cells: a special cell (formula, error) replaces calamine's value below
        cells = cast(list[list[object]], workbook.book.get_sheet_by_name(sheet).to_python(skip_empty_area=False))
    except Exception as exc:  # MemoryError included: a reader failure is a problem with this file
        raise PipelineError(f"cannot read the sheet: {type(exc).__name__}: {exc}", file=workbook.name,
                            sheet=sheet) from exc
    if part is not None:
        for (r, c), special in xlsx_special_cells(part).items():
            if r < len(cells) and c < len(cells[r]):
                cells[r][c] = SpreadsheetCell(special[0], special[1], cells[r][c])
    return cells


def xlsx_sheet_xml(content: bytes, name: str, sheet: str) -> bytes | None:
    """The XML of one worksheet of the xlsx whose bytes are `content` (its part found through the workbook's
    relationships), or None when the package does not say (the reader then decides alone)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
            rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
            rid = next(e.get(f"{{{rel_ns}}}id") for main_ns, rel_ns in _NAMESPACES
                       for e in book.iter(f"{{{main_ns}}}sheet") if e.get("name") == sheet)
            target = next(e.get("Target") for e in rels if e.get("Id") == rid)
            if target is None:  # a relationship without a target: the package does not say
                return None
            path = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            try:
                return zip_part(archive, content, path)
            except (zipfile.BadZipFile, zlib.error) as exc:  # a part that lies about its size is not read at all
                raise PipelineError(f"cannot unzip the sheet's part {path}: {exc}", file=name, sheet=sheet) from exc
    except (KeyError, StopIteration, ElementTree.ParseError, zipfile.BadZipFile, OSError):
        return None


def zip_part(archive: zipfile.ZipFile, content: bytes, name: str) -> bytes:
    """One part of the zip whose bytes are `content`, inflated in one call: zipfile inflates a large part in small
    pieces, checking its CRC as it goes, which takes twice as long. The CRC is not checked here because the
    spreadsheet reader checks it when it reads the same part; the part's declared size bounds what is inflated."""
    info = archive.getinfo(name)
    if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return archive.read(name)  # encrypted or another method: zipfile says what it can do
    header = content[info.header_offset:info.header_offset + 30]
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"no local header for {name}")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    start = info.header_offset + 30 + name_length + extra_length
    data = memoryview(content)[start:start + info.compress_size]
    if info.compress_type == zipfile.ZIP_STORED:
        part = bytes(data)
    else:
        inflater = zlib_ng.decompressobj(-15)  # zlib-ng: the same inflate, about twice as fast as zlib
        try:
            part = inflater.decompress(data, info.file_size + 1)
        except zlib_ng.error as exc:  # type: ignore[misc]  # its stub declares the class as an instance
            raise zipfile.BadZipFile(f"{name} cannot be inflated: {exc}") from exc
        if not inflater.eof:
            raise zipfile.BadZipFile(f"{name} inflates to more than its declared {info.file_size} bytes, or is cut")
    if len(part) != info.file_size:
        raise zipfile.BadZipFile(f"{name} is {len(part)} bytes, not its declared {info.file_size}")
    return part


# (spreadsheet, relationships) namespaces of the transitional xlsx Excel writes by default, and of "Strict Open XML"
_NAMESPACES = (
    ("http://schemas.openxmlformats.org/spreadsheetml/2006/main",
     "http://schemas.openxmlformats.org/officeDocument/2006/relationships"),
    ("http://purl.oclc.org/ooxml/spreadsheetml/main", "http://purl.oclc.org/ooxml/officeDocument/relationships"),
)
# A cell reference with three column letters (AAA = column 703 onwards), or a row numbered beyond the rows a sheet
# may reach: the bounds above, as one pattern searched in the sheet's XML, because the <dimension> a sheet declares
# may not tell the truth. A reference is the `r` attribute of a <row> or a <c>, wherever it stands among their
# attributes and in either quote. Text holding ` r="AAA` is taken for a reference: such a sheet is then read cell
# by cell, more slowly but just as right.
_REF = rb' r=["\']'


def _greater_than(number: int) -> str:
    """A pattern for the whole numbers (written without leading zeros) greater than `number`: one with more digits,
    or as many, equal up to a digit that is greater."""
    digits = str(number)
    options = [f"[1-9][0-9]{{{len(digits)},}}"]
    for at, digit in enumerate(digits):
        if digit != "9":
            rest = len(digits) - at - 1
            options.append(digits[:at] + f"[{int(digit) + 1}-9]" + (f"[0-9]{{{rest}}}" if rest else ""))
    return "(?:" + "|".join(options) + ")"


@functools.lru_cache(maxsize=8)
def _out_of_bounds(rows: int, letters: int = 3) -> bytes:
    """A reference in a column named with `letters` letters or more (3: AAA onwards; 2: AA onwards), or numbered
    above `rows` (with leading zeros or not): both bounds in one pattern."""
    return _REF + rb"(?:[A-Z]{%d}|[A-Z]{0,%d}0*%s[\"'])" % (letters, letters - 1, _greater_than(rows).encode())


def _found(part: bytes, pattern: bytes) -> bool:
    """Whether `pattern` occurs in `part`, searched by RE2 through Arrow over the bytes as they are (one byte, one
    character, as Python's bytes patterns): a sheet holds millions of references, each a match of the pattern's
    start, and RE2's automaton passes over them without stopping, 4 to 14 times as fast as Python's re."""
    offsets = pa.array([0, len(part)], pa.int64()).buffers()[1]
    whole = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(part)])
    return bool(pc.match_substring_regex(whole, pattern.decode("ascii"))[0].as_py())


def _within_bounds(part: bytes) -> bool:
    """Whether every cell of the worksheet XML lies within the bounds the fast reader may allocate."""
    if not _found(part, _out_of_bounds(MAX_SHEET_ROWS)):  # the usual sheet: one pass
        return True
    # counted only for a sheet that reaches that far, with the few other elements named <c...> (<col>, <cfRule>):
    # a table's rows still need about as many cells
    cells = part.count(b"<c")
    return cells > MAX_SHEET_ROWS and not _found(part, _out_of_bounds(min(cells, EXCEL_ROWS), letters=2))


_CELL_REF = re.compile(_REF + rb"([A-Z]{1,3})([0-9]{1,7})[\"']")
_ENTITY = {b"&amp;": b"&", b"&lt;": b"<", b"&gt;": b">", b"&quot;": b'"', b"&apos;": b"'"}
# Elements may carry a namespace prefix (<x:c>, <x:f>, as the .NET Open XML SDK writes them)
_PREFIX = rb"(?:[A-Za-z_][A-Za-z0-9_.-]*:)?"
_FORMULA = re.compile(rb"<f[ >/]")
_PREFIXED_FORMULA = re.compile(rb"<" + _PREFIX + rb"f[ >/]")  # searched only in a prefixed sheet: 20% slower
_PREFIXED_ROOT = re.compile(rb"<[A-Za-z_][A-Za-z0-9_.-]*:worksheet[ \t\r\n>]")
_CELL_START = re.compile(rb"<" + _PREFIX + rb"c[ \t\r\n>]")
_CELL_END = re.compile(rb"</" + _PREFIX + rb"c>")
_FORMULA_TEXT = re.compile(rb"<" + _PREFIX + rb"f[^>]*>(.*?)</" + _PREFIX + rb"f>", re.S)
_ERROR_VALUE = re.compile(rb"<" + _PREFIX + rb"v>(#.*?)</" + _PREFIX + rb"v>", re.S)
_TAG_BEFORE = 4096  # how far before a formula or error marker its cell's start tag may stand (its attributes)


def _column_index(letters: bytes | str) -> int:
    number = 0
    for ch in letters.decode() if isinstance(letters, bytes) else letters:
        number = number * 26 + ord(ch) - 64
    return number - 1


def xlsx_special_cells(part: bytes) -> dict[tuple[int, int], tuple[str, str]]:
    """(row, column), 0-based -> ("formula", "=1+1") or ("error", "#VALUE!") for every cell of a worksheet's XML
    that holds a formula or an Excel error value. python-calamine gives a formula's cached result as if typed, and
    an error as blank; both are found here from the cell XML (rare, so found by search, not by parsing).

    Every Excel error value starts with '#', so a sheet without one has no error cell, and that is known from one
    fast byte search. A cell typed as an error but holding no value is blank, as python-calamine reads it (one
    holding another value stops calamine's read of the sheet)."""
    found: dict[tuple[int, int], tuple[str, str]] = {}
    marker = _PREFIXED_FORMULA if _PREFIXED_ROOT.search(part, 0, 4096) else _FORMULA
    formulas = [m.start() for m in marker.finditer(part)] if _found(part, marker.pattern) else []
    errors = _all(part, b't="e"') if b"#" in part else []
    for at, kind in [*((at, "formula") for at in formulas), *((at, "error") for at in errors)]:
        starts = list(_CELL_START.finditer(part, max(0, at - _TAG_BEFORE), at))
        start = starts[-1].start() if starts else -1
        ref = _CELL_REF.search(part, start, part.find(b">", start)) if start >= 0 else None
        if ref is None:  # a cell without a reference: where it stands is not known here
            continue
        closing = _CELL_END.search(part, at)
        cell = part[start:closing.start() if closing else len(part)]
        key = (int(ref.group(2)) - 1, _column_index(ref.group(1)))
        if kind == "formula":
            text = _FORMULA_TEXT.search(cell)
            formula = text.group(1) if text else b"(shared with another cell)"
            for entity, char in _ENTITY.items():
                formula = formula.replace(entity, char)
            found[key] = ("formula", "=" + formula.decode("utf-8", "replace"))
        elif key not in found:
            value = _ERROR_VALUE.search(cell)
            if value is not None:
                found[key] = ("error", value.group(1).decode("utf-8", "replace"))
    return found


def _all(part: bytes, marker: bytes) -> list[int]:
    """Where `marker` occurs in `part`."""
    found = []
    at = part.find(marker)
    while at >= 0:
        found.append(at)
        at = part.find(marker, at + 1)
    return found


def _bounded_cells(workbook: Workbook, sheet: str) -> list[list[object]]:
    """A sheet whose extent is out of bounds, read cell by cell (openpyxl, read-only): every row up to the last
    one holding data is kept; cells holding only spaces beyond that, or right of the widest row with data, are
    dropped with a warning naming them. Data there stops the run."""
    import openpyxl  # only for such sheets: importing it costs a fifth of a second

    try:
        book = openpyxl.load_workbook(io.BytesIO(workbook.content), read_only=True, data_only=False)
        ws = book[sheet]
        ws.reset_dimensions()  # the declared extent is what is not trusted
        kept: dict[int, list[object]] = {}
        spaces: list[tuple[int, int]] = []  # (row, column) of the cells holding only spaces, in blank rows
        for number, row in enumerate(ws.iter_rows(), start=1):
            values: list[object] = []
            for cell in row:
                value = cell.value
                if cell.data_type == "f":
                    value = SpreadsheetCell("formula", str(value), None)
                elif cell.data_type == "e":
                    value = SpreadsheetCell("error", str(value), None)
                values.append("" if value is None else value)
            if any(not is_blank(v) for v in values):
                kept[number] = values
            else:
                spaces += [(number, i) for i, v in enumerate(values) if isinstance(v, str) and v]
        book.close()
    except PipelineError:
        raise
    except Exception as exc:
        raise PipelineError(f"cannot read the sheet: {type(exc).__name__}: {exc}", file=workbook.name,
                            sheet=sheet) from exc
    last = max(kept, default=0)
    width = max((max((i + 1 for i, v in enumerate(r) if not is_blank(v)), default=0) for r in kept.values()),
                default=0)
    rows = []
    for number in range(1, last + 1):
        values = kept.get(number, [])
        spaces += [(number, i) for i, v in enumerate(values[width:], start=width) if v != ""]
        rows.append(list(values[:width]) + [""] * (width - len(values[:width])))
    # the spaces inside the table are blank cells of it; those below or right of it are strays
    stray = [f"{column_letter(c)}{r}" for r, c in sorted(spaces) if r > last or c >= width]
    if stray:
        log.warning("%s, sheet %r: ignored %d cell(s) holding only spaces far beyond the data: %s", workbook.name,
                    sheet, len(stray), first_few(stray, 10))
    return rows


def read_xlsx(content: bytes, name: str, fmt: str, sheet: str, header_row: int) -> Sheet:
    """The cells of `sheet` under `header_row`, trailing empty rows dropped (calamine stops at the used range).

    An xlsx sheet whose columns each hold one type of cell is read column by column into Arrow (fastexcel, over the
    same calamine parser), which costs half of making a Python object of every cell; its cells are the same values
    of the same types. Any sheet that the typed read cannot give exactly so is read cell by cell."""
    part = None
    if fmt == "xlsx":
        check_zip_inflation(content, name, what="xlsx workbook")
        part = xlsx_sheet_xml(content, name, sheet)
        if part is not None and _within_bounds(part) and _starts_at_a1(part) and not xlsx_special_cells(part):
            typed = typed_columns(content, name, sheet, header_row)
            if typed is not None:
                return typed
    return _under_header(name, sheet, header_row, sheet_cells(open_workbook(content, name, fmt), sheet, part))


def _starts_at_a1(part: bytes) -> bool:
    """Whether the worksheet's first cell is A1 and holds a value: then calamine's range starts at A1, and a header
    row counted from the range's start (as fastexcel counts it) is counted from the sheet's top."""
    data = part.find(b"<sheetData")
    start = part.find(b"<c ", data) if data >= 0 else -1
    if start < 0:
        return False
    tag_end = part.find(b">", start)
    ref = _CELL_REF.search(part, start, tag_end)
    if ref is None or ref.group(1) != b"A" or ref.group(2) != b"1" or part[tag_end - 1:tag_end] == b"/":
        return False
    end = part.find(b"</c>", tag_end)
    return end >= 0 and any(marker in part[tag_end:end] for marker in (b"<v>", b"<is>"))


_MIDNIGHT = dt.time()
_EXCEL_FIRST_DAY = dt.datetime(1900, 1, 1)
_RENAMED = re.compile(r"(.+)_[0-9]+")  # how fastexcel keys a header written twice: 'Title', 'Title_1'


def typed_columns(content: bytes, name: str, sheet: str, header_row: int) -> Sheet | None:
    """The sheet's cells under `header_row` read by fastexcel column by column, with every cell the value and type
    python-calamine gives it ('' for an empty cell; a date cell without a time of day as a date); None when that
    cannot be so: a column mixing types (fastexcel's strict typing over every row refuses it), a header cell empty,
    written twice or out of the table, blank rows at the end (the cell-by-cell read reports them), a time of day
    without a date, a column type calamine does not give."""
    try:
        table = fastexcel.read_excel(content).load_sheet_by_name(
            sheet, header_row=header_row - 1, dtype_coercion="strict", schema_sample_rows=None).to_arrow()
    except Exception:  # whatever fastexcel refuses, the cell-by-cell read reads or reports
        return None
    names = table.column_names
    if any(n.startswith("__UNNAMED__") or ((m := _RENAMED.fullmatch(n)) and m.group(1) in names) for n in names):
        return None
    header = [header_text(n) for n in names]
    if not header or len(set(header)) < len(header):
        return None
    columns = []
    for column in table.columns:
        cells = _calamine_cells(column)
        if cells is None:
            return None
        columns.append(cells)
    if table.num_rows and all(is_blank(column[-1]) for column in columns):
        return None
    return Sheet(name, sheet, header_row, header, ColumnRows(columns))


def _calamine_cells(column: pa.Array | pa.ChunkedArray) -> list[object] | None:
    """A fastexcel column as the cells python-calamine gives (None: a type it gives otherwise). In a column whose
    values repeat (a registry's dates, countries, numbers) each distinct value becomes one Python object, shared by
    the cells that hold it: making them is most of the cost (440,000 dates: 275 -> 30 ms)."""
    kind = column.type
    if pa.types.is_null(kind):
        return [""] * len(column)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        column = pc.fill_null(column, "")
    elif not (kind == pa.float64() or pa.types.is_boolean(kind) or (pa.types.is_timestamp(kind) and kind.tz is None)):
        return None
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not pa.types.is_timestamp(kind) and pc.count_distinct(column[:1000]).as_py() > 500:  # IDs, names, texts
        return ["" if v is None else v for v in column.to_pylist()] if column.null_count else column.to_pylist()
    encoded = pc.dictionary_encode(column, null_encoding="encode")
    distinct = encoded.dictionary
    if pa.types.is_timestamp(kind):
        if distinct.null_count < len(distinct) and pc.min(distinct).as_py() < _EXCEL_FIRST_DAY:
            return None  # calamine gives a time of day (a serial under one day) as a time
        values = [v.date() if v is not None and v.time() == _MIDNIGHT else v for v in distinct.to_pylist()]
    else:
        values = distinct.to_pylist()
    values = ["" if v is None else v for v in values]
    return list(map(values.__getitem__, encoded.indices.to_numpy(zero_copy_only=False).tolist()))


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
    return [_export_part(workbook, stem, header_row) for workbook in export_workbooks(raw.content, raw.rel, raw.format)]


def export_workbooks(content: bytes, rel: str, fmt: str) -> list[Workbook]:
    """The workbooks of a survey export's bytes: the file itself, or each workbook inside a zip (by name)."""
    if fmt == "zip":
        return list(_zipped_workbooks(content, rel))
    if fmt in ("xlsx", "xls", "ods"):
        return [open_workbook(content, rel, fmt)]
    raise PipelineError(
        f"survey exports are read from xlsx, xls, ods or a zip of them, not {fmt} (EUSurvey has no CSV "
        "results export)", file=rel,
    )


def export_parts(workbooks: list[Workbook], stem: str, header_row: int) -> list[ExportPart]:
    """`read_survey_export` for workbooks already opened (the sidecar scaffold reads an export that has none)."""
    return [_export_part(workbook, stem, header_row) for workbook in workbooks]


# EUSurvey stores the files respondents uploaded as <contribution code>/Upload_<n>/<file>
_UPLOAD_FOLDER = re.compile(r"Upload_[0-9]+")


def _zipped_workbooks(content: bytes, rel: str):
    """The workbooks inside a zipped export, by name; anything else in it (uploaded files) is left unread."""
    parts = check_zip_inflation(content, rel, what="zip archive")
    entries = sorted(p.filename for p in parts if not p.is_dir())
    names = []
    for name in entries:
        if any(_UPLOAD_FOLDER.fullmatch(folder) for folder in name.split("/")[:-1]):
            log.info("%s: %s is a file a respondent uploaded; not read", rel, name)  # may well be an xlsx
        else:
            names.append(name)
    found = [n for n in names if Path(n).suffix.lower() in (".xlsx", ".xls", ".ods")
             and not Path(n).name.startswith(("~$", "."))]
    if not found:
        raise PipelineError(f"the zip archive holds no xlsx, xls or ods workbook (it has: {', '.join(entries[:10])})",
                            file=rel)
    for name in names:
        if name not in found:
            log.info("%s: %s is not a workbook; not read", rel, name)
    _parts_numbered_in_full(found, rel)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for name in found:
            fmt = Path(name).suffix.lower().lstrip(".")
            try:
                part = archive.read(name)  # small, and nothing else checks its CRC
            except (zipfile.BadZipFile, zlib.error, OSError, NotImplementedError) as exc:  # or a method unknown
                raise PipelineError(f"cannot unzip {name}: {exc}", file=rel) from exc
            yield open_workbook(part, f"{rel}/{name}", fmt)


_NUMBERED_PART = re.compile(r"(.+)_([0-9]+)\.(?:xlsx|xls|ods)", re.IGNORECASE)


def _parts_numbered_in_full(names: list[str], rel: str) -> None:
    """A split export's workbooks are numbered from 1 (`<name>_1.xlsx`, `<name>_2.xlsx`, ...): a gap in the numbers
    is a part lost when the zip was made again by hand, and the wave would be published with a part of its
    answers. (A lost last part leaves no gap: the sidecar cannot tell it either.)"""
    matches = [_NUMBERED_PART.fullmatch(Path(name).name) for name in names]
    numbered = [m for m in matches if m is not None]
    stems = {m.group(1) for m in numbered}
    if len(names) < 2 or len(numbered) < len(names) or len(stems) != 1:
        return
    numbers = sorted(int(m.group(2)) for m in numbered)
    missing = sorted(set(range(1, numbers[-1] + 1)) - set(numbers))
    if missing:
        raise PipelineError(
            f"the zip holds parts {', '.join(map(str, numbers))} of the export {stems.pop()!r} but not part "
            f"{', '.join(map(str, missing))}: use the zip EUSurvey gave, or add the missing workbook", file=rel,
        )


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
    tables: list[Sequence[list[object]]] = []  # per sheet: its rows under the header
    alias = export_date = None
    for name in sheets:
        cells = sheet_cells(workbook, name)
        if name == sheets[-1]:  # the meta columns' sheet
            _header_where_the_sidecar_says(cells, header_row, workbook.name, name)
        table = _under_header(workbook.name, name, header_row, cells, repeated_titles=True)
        if name == sheets[0]:
            alias, export_date = _export_info(cells)
        titles += table.header
        places += [f"{name}!{column_letter(i)}" for i in range(len(table.header))]
        column_sheets += [name] * len(table.header)
        tables.append(table.rows)
    for name, part in zip(sheets[1:], tables[1:], strict=True):
        # pairing the rows of sheets of unequal length would attach answers to the wrong contributions
        if len(part) != len(tables[0]):
            raise PipelineError(
                f"sheet {name!r} has {len(part)} rows under its header but sheet {sheets[0]!r} has "
                f"{len(tables[0])}: EUSurvey writes every contribution on the same row of each sheet, so a row "
                "deleted or sorted on one sheet only would give answers to other members; export the survey "
                "again and use it unedited", file=workbook.name, sheet=name,
            )
    if len(tables) == 1:
        rows = tables[0]
    else:  # a wide export: row n of Content1 continues row n of Content
        rows = []
        for n in range(len(tables[0])):
            row: list[object] = []
            for part in tables:
                row += part[n]
            rows.append(row)
    keys = unique_header_keys(titles)
    return ExportPart(Sheet(workbook.name, sheets[0], header_row, keys, rows), titles, places, column_sheets,
                      alias, export_date)


def _header_where_the_sidecar_says(cells: list[list[object]], header_row: int, file: str, sheet: str) -> None:
    """Stop when EUSurvey's meta labels (Contribution ID, Creation date...) head another of the first rows than the
    sidecar's header row: a row deleted or added above the header (the blank row 3, say) would otherwise make the
    first contribution the header, and the error would be that no meta column is found."""
    labelled = [number for number, row in enumerate(cells[:10], start=1)
                if sum(isinstance(cell, str) and meta_role(cell) is not None for cell in row) >= 2]
    if labelled and header_row not in labelled:
        raise PipelineError(
            f"the export's header is on row {labelled[0]}, not on row {header_row} as the sidecar's read.header_row "
            f"says (EUSurvey writes it on row 4, under a blank row 3): was a row deleted or added above it? Use the "
            f"export as EUSurvey gave it, or set read.header_row: {labelled[0]}",
            file=file, sheet=sheet, row=header_row,
        )


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


def _under_header(file: str, sheet: str | None, header_row: int, cells: Sequence[Sequence[object]], *,
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
    body = list(cells[header_row:])
    rows: list[list[object]] = []
    stray = []  # cells holding only spaces right of the header or below the last row: ignored, with a warning
    if set(map(len, body)) <= {width} and set(map(type, body)) <= {list}:  # the usual case: the reader's rows, kept
        rows, body = cast(list[list[object]], body), []
    for offset, row in enumerate(body):
        if len(row) == width:
            rows.append(row if type(row) is list else list(row))
            continue
        beyond = [(i, c) for i, c in enumerate(row[width:], start=width) if c not in (None, "")]
        if any(not is_blank(c) for _, c in beyond):
            raise PipelineError(
                "a cell holds data beyond the last column of the header row",
                file=file, sheet=sheet, row=header_row + 1 + offset,
            )
        stray += [f"{column_letter(i)}{header_row + 1 + offset}" for i, _ in beyond]
        rows.append(list(row[:width]) + [""] * (width - len(row)))
    # a file edited by hand often ends with empty lines, or cells holding a space: they are not rows
    while rows and all(is_blank(c) for c in rows[-1]):
        stray += [f"{column_letter(i)}{header_row + len(rows)}" for i, c in enumerate(rows[-1]) if c not in (None, "")]
        rows.pop()
    if stray:
        log.warning("%s%s: ignored %d cell(s) holding only spaces beyond the table: %s", file,
                    f", sheet {sheet!r}" if sheet else "", len(stray),
                    first_few(stray, 10))
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
