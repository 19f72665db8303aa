"""The Lab from the command line, through the same code path as the pages.

    python -m core list
    python -m core run gradient_descent --set lr=0.1 --set dataset=spiral [--json out.json]

`run` trains in this process through `core.engine.run_sync`, as the tests do, shows
progress on stderr and prints the summary JSON on stdout. Exit status: 0 when the run
finished (done or diverged), 1 when it failed, 2 for a bad value (the message names the
field and its range), 130 when interrupted (Ctrl-C).
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from core import engine, experiments, params


def _list() -> int:
    for name in experiments.names():
        exp = experiments.get(name)
        print(f"{name}: {exp.title}")
        for spec in params.specs(exp.Config):
            print(f"  {spec.name} = {params.format_value(spec.default)}    "
                  f"{spec.allowed()}. {spec.help}")
        print()
    return 0


def _progress(view: engine.RunView) -> None:
    """A progress line on stderr (about twice a second), ended once the run has ended."""
    if view.total:
        print(f"\r{view.experiment}: step {view.step}/{view.total} "
              f"({view.step / view.total:.0%}, {view.elapsed:.1f} s)", end="",
              file=sys.stderr, flush=True)
    if not view.active:
        print(file=sys.stderr, flush=True)


def _run(name: str, settings: list[str], json_path: str | None) -> int:
    try:
        exp = experiments.get(name)
    except KeyError as err:
        print(f"error: {err.args[0]}", file=sys.stderr)
        return 2
    values = {}
    for item in settings:
        field, sep, text = item.partition("=")
        if not sep:
            print(f"error: --set takes field=value; got {item!r}.", file=sys.stderr)
            return 2
        values[field.strip()] = text
    try:
        config = params.build(exp.Config, values)
    except params.ParamError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        run = engine.run_sync(exp, config, progress=_progress)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    view = run.view()
    print(f"{name}: {view.status} in {time.monotonic() - started:.1f} s", file=sys.stderr)
    if view.error:
        print(view.error, file=sys.stderr)
    text = json.dumps(view.summary if view.summary is not None else {"error": view.error},
                      indent=2)
    print(text)
    if json_path:
        with open(json_path, "w") as f:
            f.write(text + "\n")
    return 0 if view.status in engine.FINISHED else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="experiments and their fields, with defaults and ranges")
    run_p = sub.add_parser("run", help="train one experiment and print its summary JSON")
    run_p.add_argument("name", help="experiment name (see `list`)")
    run_p.add_argument("--set", dest="settings", action="append", default=[],
                       metavar="FIELD=VALUE",
                       help="a field's value; booleans true/false, lists comma-separated")
    run_p.add_argument("--json", dest="json_path", metavar="FILE",
                       help="also write the summary JSON to FILE")
    args = parser.parse_args(argv)
    if args.command == "list":
        return _list()
    return _run(args.name, args.settings, args.json_path)


if __name__ == "__main__":
    sys.exit(main())
