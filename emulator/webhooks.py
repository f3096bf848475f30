"""Marketplace notification sender: POSTs application events to `{notification URL}/resource`."""

import threading
import time
import urllib.parse
from typing import Any

import requests

from emulator.http import iso
from emulator.ids import new_id
from emulator.records import Application, WebhookDelivery
from emulator.state import State

RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0)


def notification_target(url: str) -> str:
    """Azure appends `/resource` to the configured path and keeps the query string."""
    parts = urllib.parse.urlsplit(url)
    path = parts.path.rstrip("/") + "/resource"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def payload_for(
    app: Application, event_type: str, provisioning_state: str, at_text: str
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "eventType": event_type,
        "applicationId": app.id,
        "eventTime": at_text,
        "provisioningState": provisioning_state,
    }
    if app.definition_id:
        payload["applicationDefinitionId"] = app.definition_id
    if app.plan:
        payload["billingDetails"] = {"resourceUsageId": app.billing_id}
        payload["plan"] = {k: app.plan[k] for k in ("publisher", "product", "name", "version")}
    if provisioning_state == "Failed":
        payload["error"] = {
            "code": "DeploymentFailed",
            "message": "At least one resource deployment operation failed.",
            "details": [{"code": "Conflict", "message": "The deployment failed."}],
        }
    return payload


def notify(state: State, app: Application, event_type: str, provisioning_state: str) -> None:
    """Queue one notification; a no-op when the offer has no notification URL."""
    if not app.notification_url:
        return
    state.webhooks.append(
        WebhookDelivery(
            id=new_id(),
            url=notification_target(app.notification_url),
            payload=payload_for(app, event_type, provisioning_state, iso(state.now()) or ""),
        )
    )


class WebhookSender:
    """Background thread delivering queued notifications, retrying on 5xx, 429 and errors."""

    def __init__(self, state: State, ca_bundle: str | None = None) -> None:
        self.state = state
        self.verify: str | bool = ca_bundle or True
        self.stop_event = threading.Event()
        self.next_attempt: dict[str, float] = {}
        self.thread = threading.Thread(target=self._run, name="emulator-webhooks", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=5)

    def _due(self) -> list[WebhookDelivery]:
        now = time.monotonic()
        with self.state.lock:
            return [
                d
                for d in self.state.webhooks
                if d.status == "queued" and self.next_attempt.get(d.id, 0.0) <= now
            ]

    def _run(self) -> None:
        while not self.stop_event.wait(0.05):
            for delivery in self._due():
                self._attempt(delivery)

    def _attempt(self, delivery: WebhookDelivery) -> None:
        code: int | None = None
        error: str | None = None
        try:
            response = requests.post(
                delivery.url, json=delivery.payload, timeout=5, verify=self.verify
            )
            code = response.status_code
        except requests.RequestException as exc:
            error = str(exc)
        with self.state.lock:
            delivery.attempts += 1
            delivery.last_status_code = code
            delivery.last_error = error
            if code is not None and 200 <= code < 300:
                delivery.status = "delivered"
            elif (code is not None and code < 500 and code != 429) or delivery.attempts > len(
                RETRY_DELAYS
            ):
                delivery.status = "failed"
            else:
                delay = RETRY_DELAYS[delivery.attempts - 1]
                self.next_attempt[delivery.id] = time.monotonic() + delay
