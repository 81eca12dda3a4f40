"""Results: a table on the terminal, and results.json, plots and docs/benchmarks.md in the output folder."""

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import psutil

# (column title, row key, format) per kind of scenario.
FANOUT_COLUMNS = [
    ("clients", "clients", "{:.0f}"),
    ("delivered / expected", None, None),
    ("msg/s", "msg_per_s", "{:,.0f}"),
    ("p50 ms", "p50_ms", "{:,.1f}"),
    ("p95 ms", "p95_ms", "{:,.1f}"),
    ("p99 ms", "p99_ms", "{:,.1f}"),
    ("server CPU %", "cpu_percent", "{:.0f}"),
    ("CPU µs/frame", "cpu_us_per_frame", "{:.1f}"),
    ("lost silent / announced", None, None),
]
HANDSHAKE_COLUMNS = [
    ("sockets", "clients", "{:.0f}"),
    ("refused", "refused", "{:.0f}"),
    ("handshakes/s", "handshakes_per_s", "{:,.0f}"),
    ("CPU µs/handshake", "cpu_us_per_handshake", "{:,.0f}"),
]
IDLE_COLUMNS = [
    ("sockets", "clients", "{:.0f}"),
    ("base RSS MB", "base_rss_mb", "{:.1f}"),
    ("KB/connection", "kb_per_connection", "{:.1f}"),
    ("idle CPU %", "idle_cpu_percent", "{:.2f}"),
]
INGEST_COLUMNS = [
    ("POSTs × rows", None, None),
    ("detections/s", "detections_per_s", "{:,.0f}"),
    ("median s/POST", "post_seconds_median", "{:.2f}"),
    ("CPU µs/detection", "cpu_us_per_detection", "{:,.0f}"),
    ("delivered / expected", None, None),
    ("lost silent / announced", None, None),
]
LATENCY_COLUMNS = [
    ("samples", "expected", "{:.0f}"),
    ("p50 ms", "p50_ms", "{:,.1f}"),
    ("p95 ms", "p95_ms", "{:,.1f}"),
    ("p99 ms", "p99_ms", "{:,.1f}"),
    ("max ms", "max_ms", "{:,.1f}"),
    ("GET p50 ms", "get_p50_ms", "{:,.1f}"),
    ("arrival / GET", "arrival_over_get", "{:.2f}"),
]


def columns_for(scenario: str) -> list:
    for prefix, columns in (
        ("fanout", FANOUT_COLUMNS),
        ("burst", FANOUT_COLUMNS),
        ("handshake", HANDSHAKE_COLUMNS),
        ("idle", IDLE_COLUMNS),
        ("ingest", INGEST_COLUMNS),
    ):
        if scenario.startswith(prefix):
            return columns
    return LATENCY_COLUMNS


def cell(row: dict, title: str, key: str | None, fmt: str | None) -> str:
    if "error" in row:
        return "—"
    if title == "delivered / expected":
        return f"{row['delivered']:,} / {row['expected']:,}"
    if title == "lost silent / announced":
        return f"{row['lost_silent']:,} / {row['lost_announced']:,}"
    if title == "POSTs × rows":
        return f"{row['posts']} × {row['rows_per_post']:,}"
    value = row.get(key)
    return "—" if value is None else fmt.format(value)


def tables(results: list[dict]) -> str:
    """One markdown table per scenario (a row per target)."""
    out = []
    for scenario in dict.fromkeys(r["scenario"] for r in results):
        rows = [r for r in results if r["scenario"] == scenario]
        columns = columns_for(scenario)
        out.append(f"### {scenario}\n\n{rows[0]['description']}\n")
        out.append("| target | " + " | ".join(c[0] for c in columns) + " |")
        out.append("|---|" + "---:|" * len(columns))
        for row in rows:
            cells = [cell(row, *c) for c in columns]
            out.append(f"| {row['target']} | " + " | ".join(cells) + " |")
        for row in rows:
            if "error" in row:
                out.append(f"\n{row['target']} failed: `{row['error'][:300]}`")
            elif row.get("errors"):
                out.append(
                    f"\n{row['target']}: {row.get('refused', 0)} sockets refused, e.g. `{row['errors'][0]}`"
                )
            if "load_average" in row:
                out.append(
                    f"\n{row['target']}: {row['seconds']} s in all, load average {row['load_average']}"
                )
            if row.get("closes"):
                out.append(f"\n{row['target']}: sockets closed by the server, by code: {row['closes']}")
        out.append("")
    return "\n".join(out)


def machine() -> str:
    """One line on the machine the run used."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{cpu}; {psutil.cpu_count()} cores; {psutil.virtual_memory().total / 2**30:.1f} GiB RAM; "
        f"{platform.system()} {platform.release()}; Python {platform.python_version()}; "
        f"load average at the end {load}"
    )


def commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


PLOTS = [
    # (file, title, key, log scale, scenarios prefix)
    ("latency_p99.png", "p99 latency, publish → client (ms, log scale)", "p99_ms", True, ("fanout", "burst")),
    ("throughput.png", "delivered frames per second", "msg_per_s", False, ("fanout", "burst")),
    (
        "cpu_per_frame.png",
        "server CPU per delivered frame (µs)",
        "cpu_us_per_frame",
        False,
        ("fanout", "burst"),
    ),
    ("handshakes.png", "handshakes per second", "handshakes_per_s", False, ("handshake",)),
    ("idle_memory.png", "server memory per idle connection (KB)", "kb_per_connection", False, ("idle",)),
]


def plots(results: list[dict], folder: Path) -> list[str]:
    """Grouped bar charts, target by target, one per figure; the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    targets = ["lookout", "naive", "floor"]
    colors = {"lookout": "#1f77b4", "naive": "#d62728", "floor": "#7f7f7f"}
    for name, title, key, log, prefixes in PLOTS:
        rows = [r for r in results if r["scenario"].startswith(prefixes) and r.get(key) is not None]
        scenarios = list(dict.fromkeys(r["scenario"] for r in rows))
        if not scenarios:
            continue
        fig, ax = plt.subplots(figsize=(max(5, 1.8 * len(scenarios) + 2), 3.6))
        width = 0.8 / len(targets)
        for i, target in enumerate(targets):
            values = [
                next((r[key] for r in rows if r["scenario"] == s and r["target"] == target), 0)
                for s in scenarios
            ]
            bars = ax.bar(
                [x + (i - 1) * width for x in range(len(scenarios))],
                values,
                width,
                label=target,
                color=colors[target],
            )
            ax.bar_label(
                bars, labels=[f"{v:,.0f}" if v >= 10 else f"{v:.1f}" if v else "" for v in values], fontsize=7
            )
        ax.set_xticks(range(len(scenarios)), scenarios, fontsize=8)
        ax.set_title(title, fontsize=10)
        if log:
            ax.set_yscale("log")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(folder / name, dpi=110)
        plt.close(fig)
        written.append(name)
    return written


def write(
    results: list[dict], *, out: Path, command: str, quick: bool, started: datetime, note: str = ""
) -> Path:
    """results.json, the PNG plots and benchmarks.md under `out`; the markdown file's path."""
    meta = {
        "command": command,
        "quick": quick,
        "started": started.isoformat(),
        "finished": datetime.now(UTC).isoformat(),
        "machine": machine(),
        "commit": commit(),
        "note": note,
    }
    return render(results, meta, out=out)


def render(results: list[dict], meta: dict, *, out: Path) -> Path:
    """Write results.json, the plots and benchmarks.md from `results` and the run's `meta`."""
    assets = out / "benchmarks"
    assets.mkdir(parents=True, exist_ok=True)
    (assets / "results.json").write_text(json.dumps({"run": meta, "results": results}, indent=1) + "\n")
    images = plots(results, assets)
    document = out / "benchmarks.md"
    started = datetime.fromisoformat(meta["started"])
    document.write_text(
        MARKDOWN.format(
            mode="quick" if meta["quick"] else "full",
            command=meta["command"],
            started=started.strftime("%Y-%m-%d %H:%M UTC"),
            machine=meta["machine"],
            commit=meta["commit"],
            note=f"\n{meta['note']}\n" if meta.get("note") else "",
            tables=tables(results),
            images="\n".join(f"![{name}](benchmarks/{name})" for name in images),
        )
    )
    return document


def rerender(out: Path, *, note: str | None) -> Path:
    """benchmarks.md and the plots again from `out`'s results.json (with a new note, if given)."""
    saved = json.loads((out / "benchmarks" / "results.json").read_text())
    meta = saved["run"] | ({"note": note} if note is not None else {})
    return render(saved["results"], meta, out=out)


MARKDOWN = """# Benchmarks

Written by `python -m bench run` (see [bench/README.md](../bench/README.md)); do not edit by hand.

- Run: {mode} mode, started {started}, commit `{commit}`
- Command: `{command}`
- Machine: {machine}
{note}
Each scenario starts a fresh server per target on 127.0.0.1, pinned to one core; the client
processes (asyncio + `websockets`), the publisher and Redis run on the other core. Targets:

- **lookout**: `manage.py run --no-simulator --no-worker` with `REDIS_URL` (channels-redis, the
  scale-out setup: one daphne process as Lookout ships it); clients on `/ws/events/` with the demo
  admin's token; the publisher calls `realtime.broadcast.publish_many` (`event.created`, durable:
  numbered in the outbox, sent on commit). Ingest on SQLite and the latency runs use the embedded
  default (SQLite, in-memory layer, worker thread).
- **naive**: `bench/naive.py` on plain daphne + channels-redis: `group_add` per socket,
  `send_json` per message per socket; the publisher calls `group_send`.
- **floor**: `bench/floor.py`, the `websockets` library's `broadcast()` of the frame the
  publisher sends.

Latency is the client's receive time minus the publish time carried in the payload; msg/s is
frames delivered over the window from the first publish to the last arrival; server CPU is the
server process's user + system time over that window (psutil), divided by the frames delivered
for CPU µs/frame. A lost message is *announced* when the server closed the socket or told it to
resume (a `resume` hint, or a `last_sequence` past what it received; the periodic heartbeat is
off in the fan-out runs so that it cannot pass for one); any other loss is silent, and the run
exits non-zero when Lookout lost anything silently.

{tables}
{images}
"""
