"""Two replicas, two processes, one Ray cluster: one training between them.

A Ray head is started with `ray start` (on 127.0.0.1, 2 CPUs), and two separate Python
processes, each with a registry of its own (a replica: LAB_BACKEND=ray,
LAB_RAY_ADDRESS=the head, its own disk cache), start the same configuration at the same
moment. Both must get the result, and both must have streamed it from the same board.
Skips without Ray, fails under REQUIRE_RAY=1 (CI).
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from core.engine import ray_trainer

ROOT = Path(__file__).resolve().parent.parent

REPLICA = """
import json, sys, tempfile, time
from core import engine, experiments, params
from core.engine import ray_trainer
exp = experiments.get("gradient_descent")
config = params.build(exp.Config, {**exp.small, "steps": 3000, "seed": 21})
registry = engine.Registry(mode="ray", cache_dir=tempfile.mkdtemp())
go = float(sys.argv[1])
time.sleep(max(0.0, go - time.time()))  # both replicas start the run at once
run = registry.start(exp, config)
run.wait(180)
print(json.dumps({"status": run.status, "error": run.error,
                  "boards": ray_trainer.boards_followed.get(run.key),
                  "summary": run.summary}))
registry.shutdown()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def head():
    if not ray_trainer.installed():
        if os.environ.get("REQUIRE_RAY") == "1":
            pytest.fail("REQUIRE_RAY=1 but Ray is not installed")
        pytest.skip("Ray is not installed (pip install -r requirements-scale.txt)")
    ray_cli = Path(sys.executable).with_name("ray")
    temp = tempfile.mkdtemp(prefix="lab-ray-", dir="/tmp")  # short: Ray's socket paths
    port = free_port()
    # loopback only; the head and the replicas share the token in ~/.ray (Ray >= 2.52)
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "token"}
    subprocess.run([str(ray_cli), "start", "--head", "--node-ip-address", "127.0.0.1",
                    "--port", str(port), "--num-cpus", "2", "--include-dashboard", "false",
                    "--disable-usage-stats", "--temp-dir", temp],
                   env=env, check=True, capture_output=True, timeout=120)
    try:
        yield f"127.0.0.1:{port}", env
    finally:
        stop_cluster(temp)  # this cluster only: `ray stop` would stop every Ray here
        shutil.rmtree(temp, ignore_errors=True)


def stop_cluster(temp: str) -> None:
    """End the processes of the cluster whose folder is `temp` (they name it in their
    command line) and everything they started (Ray's agents and workers)."""
    procs = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            procs[int(entry.name)] = (ppid, temp.encode() in cmdline)
    doomed = {pid for pid, (_, ours) in procs.items() if ours}
    grew = True
    while grew:
        children = {pid for pid, (ppid, _) in procs.items() if ppid in doomed} - doomed
        grew = bool(children)
        doomed |= children
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in doomed:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(p) for p in doomed):
            time.sleep(0.2)


def alive(pid: int) -> bool:
    """Running (a zombie has ended; its parent has not collected it yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_two_replica_processes_share_one_training(head):
    address, env = head
    env = {**env, "LAB_BACKEND": "ray", "LAB_RAY_ADDRESS": address,
           "PYTHONPATH": str(ROOT)}
    go = str(time.time() + 8)  # both have imported torch and connected by then
    replicas = [subprocess.Popen([sys.executable, "-c", REPLICA, go], env=env, cwd=ROOT,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(2)]
    outputs = []
    for proc in replicas:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-2000:]
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    first, second = outputs
    assert first["status"] == second["status"] == "done", (first["error"], second["error"])
    assert len(first["boards"]) == len(second["boards"]) == 1
    assert first["boards"] == second["boards"], "each replica trained its own copy"
    assert first["summary"] == second["summary"]
