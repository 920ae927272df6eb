"""One contender of the pipeline comparison, run in a Python process of its own and timed there.

    python -m benchmarks.contender {pipeline,baseline,floor} RAW OUT [--snapshot DIR]

prints one JSON line, {"wall": seconds, "cpu": seconds, "sys": seconds, "faults": count}: the time of the run alone,
without the interpreter's start-up or the imports; `sys` is the kernel's part of `cpu` and `faults` the minor page
faults (first touches of fresh memory) that cost most of it. Each contender starts from a fresh interpreter, as a
run does in production. Run inside the long-lived benchmark process instead, the baseline and the floor were slowed
by what that process had built up before them: its CPU at 100x was 63 s in-process and 54 s in a process of its own,
the floor's 15 s and 12 s. The pipeline pauses Python's garbage collector while its steps run, so it was hardly
affected, and the in-process ratios flattered it.

The floor runs under the pipeline's own memory settings (`parse_floor.run`, `pipelines.memory.steps_memory`): a
floor should not pay for work that ingest does not need. The baseline keeps Python's and the C library's defaults,
as an analyst's script would.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from benchmarks.timing import usage

CONTENDERS = ("pipeline", "baseline", "floor")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.contender", description=__doc__.splitlines()[0])
    parser.add_argument("contender", choices=CONTENDERS)
    parser.add_argument("raw", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--snapshot", type=Path, help="the floor's tables to write: a published snapshot")
    args = parser.parse_args(argv)

    if args.contender == "pipeline":
        from benchmarks import adapters

        _, runner = adapters.pipeline_runner()

        def run() -> object:
            return runner(args.raw, args.out)
    elif args.contender == "baseline":
        from benchmarks import plain_pipeline

        def run() -> object:
            return plain_pipeline.run(args.raw, args.out)
    else:
        from benchmarks import parse_floor

        if args.snapshot is None:
            parser.error("the floor needs --snapshot")
        tables = parse_floor.published_tables(args.snapshot)  # read before the clock starts

        def run() -> object:
            return parse_floor.run(args.raw, tables, args.out)

    before, wall = usage(), time.perf_counter()
    run()
    wall, after = time.perf_counter() - wall, usage()
    cpu, kernel, faults = (end - start for start, end in zip(before, after, strict=True))
    sys.stdout.write(json.dumps({"wall": wall, "cpu": cpu, "sys": kernel, "faults": faults}) + "\n")


if __name__ == "__main__":
    main()
