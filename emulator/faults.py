"""Fault injection: latency, error statuses, 429s, dropped connections (before the call is
carried out, or after it, with the answer lost), expired tokens and claims challenges. The
control API registers them; `apply` does to a call what the fired ones say."""

import base64
import errno
import random
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from emulator.arm.dispatch import expired_token_error
from emulator.http import ArmError
from emulator.ids import new_id

KINDS = {
    "latency",
    "status",
    "throttle",
    "drop",
    "lost_answer",
    "expired_token",
    "claims_challenge",
}


@dataclass
class Fault:
    kind: str
    status: int = 500
    latency_ms: int = 0
    rate: float | None = None  # probability per matching call
    count: int | None = None  # or: the next N matching calls
    path: str | None = None  # substring of the path, case-insensitive
    method: str | None = None
    retry_after: int = 1
    id: str = field(default_factory=new_id)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def fault_from_json(data: dict[str, Any]) -> Fault:
    kind = data.get("kind")
    if kind not in KINDS:
        raise ValueError(f"'kind' must be one of {sorted(KINDS)}")
    if data.get("rate") is None and data.get("count") is None:
        raise ValueError("give 'rate' (0..1) or 'count' (next N calls)")
    return Fault(
        kind=kind,
        status=int(data.get("status", 429 if kind == "throttle" else 500)),
        latency_ms=int(data.get("latency_ms", 0)),
        rate=float(data["rate"]) if data.get("rate") is not None else None,
        count=int(data["count"]) if data.get("count") is not None else None,
        path=data.get("path"),
        method=data.get("method"),
        retry_after=int(data.get("retry_after", 1)),
    )


class Faults:
    def __init__(self, seed: int | None = None) -> None:
        self.lock = threading.Lock()
        self.rules: list[Fault] = []
        self.random = random.Random(seed)

    def add(self, fault: Fault) -> Fault:
        with self.lock:
            self.rules.append(fault)
        return fault

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return [f.to_json() for f in self.rules]

    def fire(self, method: str, path: str) -> list[Fault]:
        """The faults that apply to this call; counted faults are used up."""
        fired: list[Fault] = []
        with self.lock:
            for fault in list(self.rules):
                if fault.path and fault.path.lower() not in path.lower():
                    continue
                if fault.method and fault.method.upper() != method.upper():
                    continue
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self.rules.remove(fault)
                    fired.append(fault)
                elif fault.rate is not None and self.random.random() < fault.rate:
                    fired.append(fault)
        return fired


def apply(faults: list[Fault], path: str, https_url: str) -> None:
    """Do to this call what the fired faults say: wait, drop the connection, or raise the error."""
    for fault in faults:
        if fault.kind == "latency":
            time.sleep(fault.latency_ms / 1000)
        elif fault.kind == "drop":
            # The HTTPS server closes the connection without answering, as a network
            # failure would look to the client.
            raise ConnectionResetError(errno.ECONNRESET, "dropped by an injected fault")
        elif fault.kind == "throttle":
            raise ArmError(
                429,
                "TooManyRequests",
                "The request is being throttled as the limit has been reached for operation type.",
                headers={"Retry-After": str(fault.retry_after)},
            )
        elif fault.kind == "status":
            headers = {"Retry-After": str(fault.retry_after)} if fault.status in (429, 503) else {}
            raise ArmError(
                fault.status,
                "InternalServerError" if fault.status >= 500 else "InjectedFault",
                "Encountered internal server error. Diagnostic information: injected by the emulator.",
                headers=headers,
            )
        elif fault.kind == "expired_token" and path.lower().startswith(
            ("/subscriptions", "/providers")
        ):
            raise expired_token_error(https_url)
        elif fault.kind == "claims_challenge" and path.lower().startswith(
            ("/subscriptions", "/providers")
        ):
            raise claims_challenge(https_url)


def claims_challenge(https_url: str) -> ArmError:
    """A continuous access evaluation challenge: the SDK fetches a new token and retries once."""
    claims = base64.b64encode(
        b'{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}'
    ).decode()
    return ArmError(
        401,
        "InvalidAuthenticationToken",
        "Continuous access evaluation resulted in challenge with result: InteractionRequired.",
        headers={
            "WWW-Authenticate": f'Bearer authorization_uri="{https_url}/common/oauth2/authorize", '
            f'error="insufficient_claims", claims="{claims}"'
        },
    )
