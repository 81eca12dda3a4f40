"""The benchmark suite: `python -m bench run [--quick] [--scenario NAME ...]`, `python -m bench list`.

Runs the scenarios in order, prints a table per scenario as it completes, writes results.json,
the plots and benchmarks.md under --out (default docs/ for a full run, var/bench/ for a quick
one), and exits 1 when Lookout lost a message without announcing it (2 when a scenario failed).
"""

import argparse
import os
import shlex
import signal
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench.clients import raise_fd_limit
from bench.report import rerender, tables, write
from bench.scenarios import FULL, QUICK, scenarios
from bench.servers import BASE_DIR, Run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the scenarios")
    run = commands.add_parser("run", help="run scenarios and write the results")
    run.add_argument("--quick", action="store_true", help="small counts and short runs (a few minutes)")
    run.add_argument("--scenario", action="append", metavar="NAME", help="run only these (repeatable)")
    run.add_argument(
        "--target",
        action="append",
        choices=["lookout", "naive", "floor"],
        help="measure only these targets (repeatable)",
    )
    run.add_argument("--out", type=Path, help="where benchmarks.md and benchmarks/ go")
    run.add_argument("--note", default="", help="a paragraph for benchmarks.md (e.g. what else ran)")
    report = commands.add_parser("report", help="rewrite benchmarks.md and the plots from results.json")
    report.add_argument("out", type=Path, help="the folder holding benchmarks/results.json (e.g. docs)")
    report.add_argument("--note", help="replace the run's note")
    args = parser.parse_args(argv)
    if args.command == "report":
        print(f"wrote {rerender(args.out, note=args.note)}")
        return 0

    scale = QUICK if getattr(args, "quick", False) else FULL
    table = scenarios(scale)
    if args.command == "list":
        for name, (description, _) in table.items():
            print(f"{name:18} {description}")
        return 0
    unknown = set(args.scenario or ()) - set(table)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))} (see `python -m bench list`)")
    out = args.out or BASE_DIR / ("var/bench" if args.quick else "docs")
    command = "python -m bench " + shlex.join(argv if argv is not None else sys.argv[1:])
    return run_all(
        table,
        args.scenario or list(table),
        args.target,
        out=out,
        command=command,
        quick=args.quick,
        note=args.note,
    )


def run_all(
    table: dict,
    names: list[str],
    targets: list[str] | None,
    *,
    out: Path,
    command: str,
    quick: bool,
    note: str,
) -> int:
    raise_fd_limit()
    # A SIGTERM (or a SIGINT, which a shell's background job ignores) still stops every process
    # started so far, through the `finally` below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    bench_run = Run()
    # The bench itself (and the clients and publishers it starts) stays off the server's core.
    if bench_run.client_core is not None:
        os.sched_setaffinity(0, {bench_run.client_core})
    started = datetime.now(UTC)
    results = []
    try:
        for name in names:
            description, jobs = table[name]
            print(f"== {name}: {description}", flush=True)
            for target, job in jobs:
                if targets and target not in targets:
                    continue
                begun = time.monotonic()
                row = {"scenario": name, "target": target, "description": description}
                try:
                    row |= job(bench_run)
                except Exception as error:  # noqa: BLE001 (one failed scenario must not lose the others)
                    row["error"] = f"{type(error).__name__}: {error}"
                    traceback.print_exc()
                row["seconds"] = round(time.monotonic() - begun, 1)
                # Other work on a shared machine takes its share of the server's core: keep the load.
                row["load_average"] = round(os.getloadavg()[0], 2)
                results.append(row)
                print(f"   {target}: done in {row['seconds']} s", flush=True)
            print(tables([r for r in results if r["scenario"] == name]), flush=True)
            # Written after every scenario, so that a run cut short still leaves what it measured.
            document = write(results, out=out, command=command, quick=quick, started=started, note=note)
    finally:
        bench_run.stop_all()
    print(f"wrote {document} and {document.parent / 'benchmarks'}/")
    return verdict(results)


def verdict(results: list[dict]) -> int:
    """The exit status: 1 when Lookout lost a message silently, 2 when a scenario failed, else 0."""
    silent = sum(r.get("lost_silent", 0) for r in results if r["target"] == "lookout")
    if silent:
        print(f"FAIL: Lookout lost {silent} messages without announcing it", file=sys.stderr)
        return 1
    if any("error" in r for r in results):
        print("FAIL: a scenario failed (see above)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
