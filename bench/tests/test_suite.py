"""The benchmark suite: how it tells silent loss from announced loss, and its quick mode as CI runs it."""

import json
import subprocess
import sys

import pytest

from bench.__main__ import verdict
from bench.clients import Socket, Worker
from project.testing.servers import BASE_DIR


def bench_frame(number: int, sequence: int) -> dict:
    return {"type": "event.created", "sequence": sequence, "payload": {"bench": number, "t": 0.0}}


async def drained(*frames: dict, close_code: int | None = None) -> dict:
    """What `drain` reports for one socket that received `frames` of 3 expected bench messages."""
    worker = Worker("ws://unused", {}, 1, greeting=False, in_flight=1)
    sock = Socket(close_code=close_code)
    worker.sockets.append(sock)
    for frame in frames:
        worker.take(sock, frame, now=1.0)
    return await worker.drain(3, 0, 0)


async def test_a_message_missing_without_a_word_from_the_server_is_a_silent_loss():
    got = await drained(bench_frame(0, 1), bench_frame(2, 3))

    assert (got["delivered"], got["lost_silent"], got["lost_announced"]) == (2, 1, 0)


async def test_a_heartbeat_past_the_last_received_sequence_announces_the_loss():
    heartbeat = {"type": "heartbeat", "payload": {"last_sequence": 3}}

    got = await drained(bench_frame(0, 1), bench_frame(1, 2), heartbeat)

    assert (got["lost_silent"], got["lost_announced"]) == (0, 1)


async def test_a_heartbeat_the_socket_had_caught_up_with_does_not_excuse_a_gap():
    heartbeat = {"type": "heartbeat", "payload": {"last_sequence": 1}}

    got = await drained(bench_frame(0, 1), heartbeat, bench_frame(2, 3))

    assert (got["delivered"], got["lost_silent"], got["lost_announced"]) == (2, 1, 0)


async def test_a_resume_hint_announces_the_loss_and_a_reload_hint_does_not():
    resume_hint = {"type": "resume.hint", "payload": {"since": 1, "last_sequence": 3, "missed": 1}}
    reload_hint = {"type": "reload.hint", "payload": {"channels": ["system"], "missed": 4}}

    announced = await drained(bench_frame(0, 1), resume_hint, bench_frame(2, 3))
    silent = await drained(bench_frame(0, 1), reload_hint, bench_frame(2, 3))

    assert (announced["lost_silent"], announced["lost_announced"]) == (0, 1)
    assert (silent["lost_silent"], silent["lost_announced"]) == (1, 0)  # it was about ephemeral messages


async def test_a_socket_the_server_closed_announces_what_it_missed():
    got = await drained(bench_frame(0, 1), close_code=4008)

    assert (got["lost_silent"], got["lost_announced"]) == (0, 2)
    assert got["closes"] == {"4008": 1}


def test_the_run_fails_when_lookout_lost_anything_silently():
    rows = [
        {"scenario": "burst", "target": "naive", "lost_silent": 7},
        {"scenario": "burst", "target": "lookout", "lost_silent": 0, "lost_announced": 5},
    ]

    assert verdict(rows) == 0
    assert verdict([*rows, {"scenario": "fanout", "target": "lookout", "lost_silent": 1}]) == 1


@pytest.mark.bench
@pytest.mark.timeout(300)
def test_quick_mode_measures_the_three_targets_and_lookout_delivers_everything(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "run",
            "--quick",
            "--scenario",
            "fanout-1000x10",
            "--out",
            str(tmp_path),
        ],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=280,
    )

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "benchmarks" / "results.json").read_text())["results"]
    assert [r["target"] for r in results] == ["lookout", "naive", "floor"]
    lookout = results[0]
    assert lookout["expected"] > 0
    assert lookout["delivered"] == lookout["expected"]
    assert lookout["lost_silent"] == lookout["lost_announced"] == 0
    document = (tmp_path / "benchmarks.md").read_text()
    assert "### fanout-1000x10" in document
    assert all(f"| {target} | " in document for target in ("lookout", "naive", "floor"))
    assert "| lookout | " in done.stdout
