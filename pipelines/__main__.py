"""`python -m pipelines [--raw DIR] [--curated DIR] [--force]`: build data/curated/ from data/raw/.

`python -m pipelines check [--raw DIR] [--curated DIR]`: everything but publishing. Prints, per wave and indicator,
the totals a run would publish beside the current snapshot's, the warnings and the skipped files; exit 0 when a run
would publish cleanly, 3 when it would publish with warnings, 1 when it would fail.

`python -m pipelines sidecar data/raw/surveys/NEW.xlsx`: a draft NEW.xlsx.source.yml beside a new survey export,
its wave guessed from the file's dates and its questions matched to last wave's sidecar; exit 1 when a sidecar is
already there or the file is not a readable export.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipelines import check, scaffold, snapshots
from pipelines.errors import PipelineError
from pipelines.runner import run


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--raw", type=Path, default=Path("data/raw"), help="raw inputs (default: data/raw)")
    parser.add_argument("--curated", type=Path, default=Path("data/curated"),
                        help="curated output (default: data/curated)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["check"]:  # a first positional word, so that every option of a plain run stays as it was
        return check_main(argv[1:])
    if argv[:1] == ["sidecar"]:
        return sidecar_main(argv[1:])
    parser = _parser("python -m pipelines", __doc__)
    parser.add_argument("--force", action="store_true", help="rebuild even when the inputs are unchanged")
    args = parser.parse_args(argv)
    _logging(args.verbose)
    with _failure("pipeline", exit_code=1) as failed:
        run(args.raw, args.curated, force=args.force)
    return failed.code or 0


def check_main(argv: list[str]) -> int:
    args = _parser("python -m pipelines check", "Run everything but publishing; compare with the current "
                   "snapshot. Exit 0: would publish cleanly; 3: would publish with warnings; 1: would fail.",
                   ).parse_args(argv)
    _logging(args.verbose)
    with _failure("check", exit_code=check.FAILED) as failed:
        result = run(args.raw, args.curated, publish=False)
    if failed.code is not None:
        return failed.code
    current = check.current_facts(args.curated)
    rows = check.compare(check.figures(result.facts), check.figures(current) if current is not None else {})
    manifest = snapshots.current_manifest(args.curated)
    warnings = list(result.warnings)
    link = Path(args.curated) / snapshots.CURRENT
    if link.is_symlink() and not link.exists():  # its snapshot deleted by hand: the dashboard has nothing to serve
        warnings.append(f"{link} points to {os.readlink(link)}, which does not exist: the dashboard serves nothing "
                        "until a run publishes")
    text, code = check.report(rows, raw_dir=args.raw, curated_dir=args.curated,
                              current=manifest["vintage_id"] if manifest else None, files=len(result.inputs),
                              unchanged_since=result.unchanged_since, warnings=warnings,
                              skipped=result.skipped)
    sys.stdout.write(text)
    return code


def sidecar_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines sidecar",
        description="Write a draft <file>.source.yml beside a new survey export (xlsx, xls, ods or zip), matched to "
                    "the latest earlier wave's sidecar in the same folder. Never overwrites a sidecar.")
    parser.add_argument("export", type=Path, help="the new export, e.g. data/raw/surveys/pact_survey_2025.xlsx")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    _logging(args.verbose)
    target = scaffold.sidecar_path(args.export)
    with _failure("sidecar", exit_code=1) as failed:
        if target.exists():  # said before the export is read; write_draft refuses again if one appears meanwhile
            raise scaffold.ScaffoldError(f"{target.name} already exists: the scaffold never overwrites a sidecar "
                                         "(move it away to draft a new one)", file=target)
        draft = scaffold.draft_sidecar(args.export, today=dt.date.today())
        written = scaffold.write_draft(args.export, draft.text)
    if failed.code is not None:
        return failed.code
    sys.stdout.write(draft.summary(written))
    return 0


@dataclass
class _Outcome:
    code: int | None = None  # the exit code when the command failed


@contextlib.contextmanager
def _failure(command: str, *, exit_code: int) -> Iterator[_Outcome]:
    """One way every subcommand fails: a PipelineError is the operator's to fix, so one line on stderr says
    what and where; anything else is a bug, logged with its traceback. Either way the outcome carries
    `exit_code`."""
    outcome = _Outcome()
    try:
        yield outcome
    except PipelineError as exc:
        sys.stderr.write(f"{command} failed: {exc}\n")
        outcome.code = exit_code
    except Exception:
        logging.getLogger("pipelines").exception("%s failed with an unexpected error", command)
        outcome.code = exit_code


def _logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
