"""`python -m pipelines.sample --seed N --scale K --out DIR [--truth DIR]`: write the synthetic raw sample."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from pipelines.sample.generate import DEFAULT_SEED, DEFAULT_TRUTH, RAW, generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.sample", description=__doc__)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--scale", type=int, default=1, help="multiply members, respondents and totals (default 1)")
    parser.add_argument("--out", type=Path, default=RAW, help="raw tree to write (default data/raw)")
    parser.add_argument("--truth", type=Path, default=DEFAULT_TRUTH,
                        help="where the planted truth goes, outside the raw tree (default data/sample_truth)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    result = generate(args.out, args.truth, seed=args.seed, scale=args.scale)
    logging.getLogger("pipelines.sample").info(
        "done in %.1f s: %s", result.seconds, ", ".join(f"{k} ({v:,} rows)" for k, v in result.files.items())
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
