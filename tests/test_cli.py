"""`python -m core`: the same experiments from a terminal."""
import json
import subprocess
import sys
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
    from core import runs
    from core.experiments.gradient_descent import Config
    out = cli("run", "gradient_descent", "--set", "steps=200", "--set", "seed=4",
              tmp_path=tmp_path)
    assert json.loads(out.stdout) == runs.run_sync("gradient_descent",
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
        ("--set", "colour=red"): "unknown field 'colour'",
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
