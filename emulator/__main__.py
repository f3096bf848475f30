"""`python -m emulator --scenario demo` runs the emulator; `python -m emulator control ...` drives it."""

import argparse
import contextlib
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import requests

from emulator.assumptions import ASSUMPTIONS
from emulator.server import EmulatorServer


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m emulator", description="Local Azure emulator (Entra ID, Graph, ARM subset)."
    )
    parser.add_argument(
        "--scenario", default="demo", help="demo, scale, or a path to a scenario JSON file"
    )
    parser.add_argument("--port", type=int, default=8443, help="HTTPS port (0 = any free port)")
    parser.add_argument(
        "--http-port", type=int, default=8080, help="plain-HTTP port of the sign-in page"
    )
    parser.add_argument(
        "--var-dir", default="var", help="certificates and keys go to <var-dir>/emulator/"
    )
    parser.add_argument("--no-throttling", action="store_true", help="switch ARM throttling off")
    parser.add_argument(
        "--control-key", default=None, help="require this X-Emulator-Key on /_emulator/ calls"
    )
    parser.add_argument(
        "--scale",
        default="",
        help="scale parameters, e.g. tenants=2000,apps_per_tenant=5,requests_per_app=10",
    )
    parser.add_argument(
        "--notification-url",
        default=None,
        help="send every application's notifications here (+ /resource)",
    )
    parser.add_argument(
        "--assume",
        action="append",
        default=[],
        choices=sorted(ASSUMPTIONS),
        help="play an undocumented behaviour (docs/emulator.md, Assumptions); repeatable",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    params = {k: int(v) for k, v in (p.split("=") for p in args.scale.split(",") if p)} or None
    server = EmulatorServer(
        scenario=args.scenario,
        var_dir=Path(args.var_dir),
        port=args.port,
        http_port=args.http_port,
        throttling=not args.no_throttling,
        control_key=args.control_key,
        scenario_params=params,
        verbose=args.verbose,
        notification_url=args.notification_url,
        assumptions=args.assume,
    )
    server.start()
    print(f"Azure emulator ({server.state.scenario_name}) is running:")
    print(f"  HTTPS (Entra, Graph, ARM, control): {server.https_url}")
    print(f"  HTTP (sign-in page, JIT blade):      {server.http_url}")
    if args.assume:
        print(f"  Assuming (undocumented):            {', '.join(sorted(args.assume))}")
    print(f"  CA bundle:                          {server.ca_bundle}")
    print(f"  Control API:                        {server.https_url}/_emulator/info")
    sys.stdout.flush()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    server.stop()
    return 0


def control(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m emulator control", description="Drive a running emulator."
    )
    parser.add_argument("--url", default="https://127.0.0.1:8443")
    parser.add_argument("--var-dir", default="var", help="where the CA bundle lives")
    parser.add_argument("--key", default=None, help="the control key, if the emulator has one")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info")
    reset = sub.add_parser("reset")
    reset.add_argument("scenario", nargs="?")
    reset.add_argument("--param", action="append", default=[], help="name=value (scale scenario)")
    advance = sub.add_parser("advance", help="advance the clock, e.g. PT1H or P1D")
    advance.add_argument("duration")
    fault = sub.add_parser("fault", help="inject a fault")
    fault.add_argument(
        "kind",
        choices=["latency", "status", "throttle", "drop", "expired_token", "claims_challenge"],
    )
    fault.add_argument("--rate", type=float)
    fault.add_argument("--count", type=int)
    fault.add_argument("--status", type=int)
    fault.add_argument("--latency-ms", type=int)
    fault.add_argument("--path")
    fault.add_argument("--method")
    sub.add_parser("clear-faults")
    requests_cmd = sub.add_parser("requests", help="print the requests the emulator received")
    requests_cmd.add_argument("--since", type=int, default=0)
    sub.add_parser("webhooks")
    token = sub.add_parser("token", help="print an ARM access token for a person")
    token.add_argument("oid")
    act = sub.add_parser("act", help="purchase | jit-request | decide | cancel with a JSON body")
    act.add_argument("action")
    act.add_argument(
        "body",
        help='JSON, e.g. \'{"as": "<oid>", "jit_request_id": "...", "decision": "Approve"}\'',
    )
    args = parser.parse_args(argv)

    # verify= per call: a REQUESTS_CA_BUNDLE in the environment would override Session.verify.
    ca_bundle = str(Path(args.var_dir) / "emulator" / "ca.pem")
    headers = {"X-Emulator-Key": args.key} if args.key else {}
    base = args.url.rstrip("/") + "/_emulator"
    body: dict[str, Any] | None = None
    method, path = "GET", "/info"
    if args.command == "reset":
        params = {k: int(v) for k, v in (p.split("=") for p in args.param)}
        method, path, body = "POST", "/reset", {"scenario": args.scenario, "params": params}
    elif args.command == "advance":
        method, path, body = "POST", "/clock/advance", {"duration": args.duration}
    elif args.command == "fault":
        body = {
            k: v
            for k, v in vars(args).items()
            if k in ("kind", "rate", "count", "status", "latency_ms", "path", "method")
            and v is not None
        }
        method, path = "POST", "/faults"
    elif args.command == "clear-faults":
        method, path = "DELETE", "/faults"
    elif args.command == "requests":
        path = f"/requests?since={args.since}"
    elif args.command == "webhooks":
        path = "/webhooks"
    elif args.command == "token":
        method, path, body = "POST", "/tokens", {"oid": args.oid}
    elif args.command == "act":
        method, path, body = "POST", f"/act/{args.action}", json.loads(args.body)
    answer = requests.request(
        method, base + path, json=body, headers=headers, verify=ca_bundle, timeout=30
    )
    print(json.dumps(answer.json(), indent=2))
    return 0 if answer.ok else 1


def main() -> int:
    argv = sys.argv[1:]
    if argv and argv[0] == "control":
        return control(argv[1:])
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
