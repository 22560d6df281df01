"""Standalone simulator: `python -m tests.sim --port 8443 [--seed 0] [--state-file sim.json] [--ca-dir DIR]`.

Prints the process environment for the operator as one JSON line on stdout (AZURE_*, SSL_CERT_FILE, ...), then
serves until SIGINT/SIGTERM. With --state-file the estate is loaded at start and saved at exit; with --ca-dir the
CA is reused across restarts so clients keep trusting it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys

from .server import Simulator


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.sim", description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--state-file", help="load the estate from here at start, save it here at exit")
    p.add_argument("--ca-dir", help="keep the CA here and reuse it across restarts")
    p.add_argument("--auth", choices=("workload-identity", "client-secret"), default="workload-identity",
                   help="which credential the printed env selects")
    p.add_argument("--lro-duration", type=float, default=None, help="seconds a long-running operation runs")
    p.add_argument("--provision-duration", type=float, default=None)
    p.add_argument("--rule-duration", type=float, default=None,
                   help="seconds a rule / managed-network operation runs (default: --lro-duration)")
    p.add_argument("--token-lifetime", type=int, default=None, help="access token lifetime in seconds")
    p.add_argument("--no-throttle", action="store_true", help="disable ARM token-bucket throttling")
    p.add_argument("--chaos", action="store_true", help="start with the chaos fault profile")
    p.add_argument("--log-level", default="WARNING")
    return p.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    options = {}
    if args.lro_duration is not None:
        options["lro_duration_s"] = args.lro_duration
    if args.provision_duration is not None:
        options["provision_duration_s"] = args.provision_duration
    if args.rule_duration is not None:
        options["rule_duration_s"] = args.rule_duration
    if args.token_lifetime is not None:
        options["token_lifetime_s"] = args.token_lifetime
    if args.no_throttle:
        options["throttle"] = None
    sim = Simulator(seed=args.seed, host=args.host, port=args.port, state_file=args.state_file, ca_dir=args.ca_dir,
                    **options)
    await sim.start()
    if args.chaos:
        sim.faults.profile("chaos")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sys.stdout.write(json.dumps(sim.env(args.auth)) + "\n")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        await sim.stop()


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
