"""Seed what the demo needs. Safe to run again: it only adds what is missing."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Side, Tenant

DEMO_SCENARIO = settings.BASE_DIR / "emulator" / "scenarios" / "demo.json"


class Command(BaseCommand):
    help = (
        "Create the demo operator account (operator / operator) and allow the demo scenario's "
        "tenants whose people hold portal roles; others stay unknown, to show the review flow."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("Demo data is never seeded when PRODUCTION is on.")
        user_model = get_user_model()
        if not user_model.objects.filter(username="operator").exists():
            user_model.objects.create_superuser("operator", "operator@localhost", "operator")
            self.stdout.write("Created the demo operator account (operator / operator).")
        self._allow_demo_tenants()

    def _allow_demo_tenants(self) -> None:
        scenario = json.loads(DEMO_SCENARIO.read_text())
        tenants_with_roles = {p["tenant"] for p in scenario["people"] if p.get("roles")}
        for tenant in scenario["tenants"]:
            if tenant["id"] not in tenants_with_roles:
                continue
            Tenant.objects.get_or_create(
                entra_tenant_id=uuid.UUID(tenant["id"]),
                defaults={
                    "display_name": tenant["name"],
                    "side": Side.PUBLISHER if tenant["kind"] == "publisher" else Side.CUSTOMER,
                    "state": Tenant.State.ALLOWED,
                    "has_entra_p2": Tenant.P2.YES if tenant.get("p2") else Tenant.P2.NO,
                },
            )
