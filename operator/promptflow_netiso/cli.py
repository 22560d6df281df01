"""`promptflow-netiso`: the operator's console command."""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from pathlib import Path

from . import __version__


def _run(args: argparse.Namespace) -> int:
    import kopf

    kopf.configure(debug=args.debug, verbose=args.verbose, quiet=args.quiet, log_format=kopf.LogFormat[args.log_format.upper()])
    from . import audit

    audit.configure()  # after kopf: its own handler and level, so --quiet cannot hide approvals
    from . import handlers  # noqa: F401  (registers the handlers)
    from .handlers import leadership

    if not args.all_namespaces and not args.namespace:
        print("promptflow-netiso run: choose --all-namespaces or --namespace NS (repeatable)", file=sys.stderr)
        return 2
    if args.standalone == bool(args.peering):
        print("promptflow-netiso run: choose --standalone (one replica) or --peering NAME (several, one active)",
              file=sys.stderr)
        return 2
    priority = args.priority
    if args.peering and priority is None:
        # kopf pauses every replica when two share a priority: each replica draws its own, and the highest leads.
        priority = random.SystemRandom().randint(1, 2**31 - 1)
    leadership.configure(args.all_namespaces, args.namespace or ())
    asyncio.run(
        kopf.operator(
            standalone=args.standalone,
            priority=priority if priority is not None else 0,
            peering_name=args.peering,
            liveness_endpoint=args.liveness,
            clusterwide=args.all_namespaces,
            namespaces=args.namespace or (),
        )
    )
    return 0


def _crds(args: argparse.Namespace) -> int:
    from .model.schema import render_crds

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in sorted(render_crds().items()):
        (out / name).write_text(text)
        print(f"wrote {out / name}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="promptflow-netiso", description=__doc__)
    parser.add_argument("--version", action="version", version=f"promptflow-netiso {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the operator (kopf) against the current kubeconfig or in-cluster config")
    scope = run.add_mutually_exclusive_group()
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="watch every namespace")
    scope.add_argument("-n", "--namespace", action="append", help="watch this namespace (repeatable; globs allowed)")
    run.add_argument("--standalone", action="store_true", help="no peering: exactly one replica must run (Recreate)")
    run.add_argument("--peering", default=None, help="kopf peering object name (several replicas, one active)")
    run.add_argument("--priority", type=int, default=None,
                     help="kopf peering priority (default with --peering: random, so replicas never tie)")
    run.add_argument("--liveness", default=None, help="liveness endpoint, e.g. http://0.0.0.0:8081/healthz")
    run.add_argument("--log-format", choices=["plain", "full", "json"], default="full")
    verbosity = run.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", action="store_true")
    verbosity.add_argument("-d", "--debug", action="store_true")
    verbosity.add_argument("-q", "--quiet", action="store_true")
    run.set_defaults(func=_run)

    crds = sub.add_parser("crds", help="write the CustomResourceDefinitions generated from the Python models")
    crds.add_argument("--out", default="crds", help="directory to write into (default: crds)")
    crds.set_defaults(func=_crds)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
