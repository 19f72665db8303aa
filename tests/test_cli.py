"""`python -m core`: the same experiments from a terminal; exit status 0 finished, 1
failed, 2 bad input, 130 interrupted."""
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "LAB_CACHE_DIR": str(tmp_path)})


def test_list_shows_every_field_with_default_and_range(tmp_path):
    out = cli("list", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "gradient_descent: Gradient descent & backpropagation" in out.stdout
    assert "lr = 0.01    a float in [0.0001, 10] (log scale)." in out.stdout
    assert "dataset = moons    one of moons, circles, xor, spiral, gaussians." in out.stdout


def test_run_prints_the_summary_and_writes_json(tmp_path):
    target = tmp_path / "out.json"
    out = cli("run", "gradient_descent", "--set", "steps=300", "--set", "dataset=circles",
              "--set", "lr=0.03", "--json", str(target), tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary == json.loads(target.read_text())
    assert summary["steps_done"] == 300 and summary["test_accuracy"] > 0.9
    assert "step" in out.stderr and "done in" in out.stderr


def test_cli_and_engine_give_the_same_numbers(tmp_path):
    from core import engine
    from core.experiments.gradient_descent import Config
    out = cli("run", "gradient_descent", "--set", "steps=200", "--set", "seed=4",
              tmp_path=tmp_path)
    assert json.loads(out.stdout) == engine.run_sync("gradient_descent",
                                                   Config(steps=200, seed=4)).summary


def test_a_diverging_run_says_so(tmp_path):
    out = cli("run", "gradient_descent", "--set", "optimizer=sgd", "--set", "lr=10",
              "--set", "steps=200", tmp_path=tmp_path)
    assert out.returncode == 0
    assert json.loads(out.stdout)["diverged"] is True
    assert "diverged" in out.stderr and "Lower the learning rate" in out.stderr


def test_bad_values_exit_2_naming_the_field(capsys):
    from core.__main__ import main
    cases = {
        ("--set", "lr=20"): "'lr' must be a float in [0.0001, 10] (log scale); got '20'.",
        ("--set", "width=abc"): "'width' must be an integer in [2, 64]; got 'abc'.",
        ("--set", "dataset=banana"): "'dataset' must be one of moons, circles, xor",
        ("--set", "colour=red"): "unknown field; got 'colour'. Known fields: dataset,",
        ("--set", "steps"): "--set takes field=value",
    }
    for args, message in cases.items():
        assert main(["run", "gradient_descent", *args]) == 2, args
        out = capsys.readouterr()
        assert message in out.err, (args, out.err)
        assert out.out == ""
    assert main(["run", "no_such_experiment"]) == 2
    assert "unknown experiment 'no_such_experiment'" in capsys.readouterr().err


def test_a_bad_value_is_exit_status_2_of_the_process(tmp_path):
    out = cli("run", "gradient_descent", "--set", "noise=-1", tmp_path=tmp_path)
    assert out.returncode == 2
    assert "'noise' must be a float in [0, 1]; got '-1'." in out.stderr


def test_a_failing_run_exits_1_with_its_error(monkeypatch, capsys):
    from core import experiments
    from core.__main__ import main
    from tests.engine_support import Control, fake

    def boom(config, report):
        raise ValueError("the data has 0 rows")

    monkeypatch.setattr(experiments, "get", lambda name: fake(Control(), name, finish=boom))
    assert main(["run", "broken", "--set", "steps=2"]) == 1
    out = capsys.readouterr()
    assert json.loads(out.out) == {"error": "ValueError: the data has 0 rows"}
    assert "broken: failed in" in out.err and "ValueError: the data has 0 rows" in out.err


def test_ctrl_c_cancels_the_run_and_exits_130(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "core", "run", "gradient_descent",
                             "--set", "steps=20000"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE,
                            env={"PATH": "/usr/bin:/bin", "LAB_CACHE_DIR": str(tmp_path)})
    err = b""
    try:
        deadline = time.monotonic() + 240
        while b"step " not in err:  # the progress line: it is training now
            assert time.monotonic() < deadline and proc.poll() is None, err.decode()
            ready, _, _ = select.select([proc.stderr], [], [], 1.0)
            if ready:
                err += os.read(proc.stderr.fileno(), 4096)
        proc.send_signal(signal.SIGINT)
        out, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = (err + rest).decode()
    assert proc.returncode == 130, err
    assert err.rstrip().endswith("interrupted") and out == b""
    assert "step 20000/20000" not in err  # cancelled, not trained to the end
