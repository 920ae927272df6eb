"""`python -m pipelines [--raw DIR] [--curated DIR] [--force]`: build data/curated/ from data/raw/."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pipelines.errors import PipelineError
from pipelines.runner import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__)
    parser.add_argument("--raw", type=Path, default=Path("data/raw"), help="raw inputs (default: data/raw)")
    parser.add_argument("--curated", type=Path, default=Path("data/curated"),
                        help="curated output (default: data/curated)")
    parser.add_argument("--force", action="store_true", help="rebuild even when the inputs are unchanged")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        run(args.raw, args.curated, force=args.force)
    except PipelineError as exc:
        sys.stderr.write(f"pipeline failed: {exc}\n")
        return 1
    except Exception:
        logging.getLogger("pipelines").exception("pipeline failed with an unexpected error")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
