"""The Lab from the command line, through the same code path as the pages.

    python -m core list
    python -m core run gradient_descent --set lr=0.1 --set dataset=spiral [--json out.json]
    python -m core warm [PAGE ...]

`run` trains in this process through `core.engine.run_sync`, as the tests do, shows
progress on stderr and prints the summary JSON on stdout. Exit status: 0 when the run
finished (done or diverged), 1 when it failed, 2 for a bad value (the message names the
field and its range), 130 when interrupted (Ctrl-C).

`warm` trains, into the disk cache the server reads (LAB_CACHE_DIR), every run the named
pages (all by default) start for their defaults and for each of their presets, so that a
talk's every step draws at once. What is cached already is not trained again. It is not
bound by the server's LAB_MAX_RUN_SECONDS. Exit status: 0, 1 when a run failed, 2 for an
unknown page name, 130 when interrupted.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

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


def warm_plan(page_names: list[str]) -> list[tuple[str, Any, Any]]:
    """(what it is, Experiment, Config) for every run the pages start for their defaults
    and their presets, each run once."""
    from core import catalog
    pages = {p.name: p for p in catalog.PAGES if p.experiments}
    plan, seen = [], set()
    for page in (pages[n] for n in page_names):
        for name in page.experiments:
            exp = experiments.get(name)
            steps = [("defaults", exp.Config())] + [
                (f"{p.label!r}", p.config(exp.Config)) for p in exp.presets]
            for label, config in steps:
                for index, (run_name, run_config) in enumerate(exp.runs_for(config)):
                    run_exp = experiments.get(run_name)
                    run_config = params.validate(run_config)
                    key = params.cache_key(run_exp.name, run_exp.version, run_config)
                    if key not in seen:
                        seen.add(key)
                        what = f"{page.name}: {run_exp.name} {label}" + (
                            f" (its comparison run {index})" if index else "")
                        plan.append((what, run_exp, run_config))
    return plan


def known_pages() -> list[str]:
    from core import catalog
    return [p.name for p in catalog.PAGES if p.experiments]


def _warm(page_names: list[str]) -> int:
    known = known_pages()
    unknown = [n for n in page_names if n not in known]
    if unknown:
        print(f"error: unknown page {unknown[0]!r}; known: {', '.join(known)}",
              file=sys.stderr)
        return 2
    plan = warm_plan(page_names or known)
    # the server's path: a run already on disk is loaded, not trained; no time bound
    reg = engine.Registry(workers=1, mode="thread", max_run_seconds=0)
    trained = cached = failed = 0
    started = time.monotonic()
    try:
        for number, (label, exp, config) in enumerate(plan, 1):
            run = reg.start(exp, config)
            while not run.wait(0.5):
                view = run.view()
                if view.total:
                    print(f"\r[{number}/{len(plan)}] {label}: step {view.step}/{view.total} "
                          f"({view.step / view.total:.0%})", end="", file=sys.stderr,
                          flush=True)
            view = run.view()
            if view.from_cache:
                cached += 1
                continue
            trained += 1
            failed += view.status not in engine.FINISHED
            print(f"\r[{number}/{len(plan)}] {label}: {view.status} in {view.elapsed:.1f} s"
                  + (f" ({view.error})" if view.error else ""), file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        reg.shutdown()
    where = reg.disk.folder
    if trained:
        print(f"warm: trained {trained} run{'s' if trained != 1 else ''}, {cached} were "
              f"cached already ({time.monotonic() - started:.0f} s; cache: {where})",
              file=sys.stderr)
    else:
        print(f"warm: nothing to train, all {cached} runs are cached (cache: {where})",
              file=sys.stderr)
    print(json.dumps({"runs": len(plan), "trained": trained, "cached": cached,
                      "failed": failed}))
    return 1 if failed else 0


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
    warm_p = sub.add_parser("warm", help="train every preset (and the defaults) of the named "
                            "pages into the disk cache, so that each draws at once")
    warm_p.add_argument("pages", nargs="*", metavar="PAGE",
                        help=f"page names (all by default): {', '.join(known_pages())}")
    args = parser.parse_args(argv)
    if args.command == "list":
        return _list()
    if args.command == "warm":
        return _warm(args.pages)
    return _run(args.name, args.settings, args.json_path)


if __name__ == "__main__":
    sys.exit(main())
