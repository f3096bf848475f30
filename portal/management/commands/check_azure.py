"""`manage.py check_azure`: prove the configuration and each Azure capability the portal needs."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal import azure_readiness


class Command(BaseCommand):
    help = (
        "Check the Azure configuration and try each capability once, harmlessly (reads only): "
        "sign-in metadata, app tokens, the publisher's JIT scope, and in each allowed customer "
        "tenant subscriptions, applications, role and deny assignments and the approval channel."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--tenant",
            action="append",
            dest="tenants",
            metavar="TENANT_ID",
            help="Only this customer tenant (repeatable).",
        )
        parser.add_argument(
            "--save-channels",
            action="store_true",
            help="Store each tenant's proven approval channel (hand-off unless a PIM approval "
            "behind a pending request was found).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        findings = list(
            azure_readiness.everything(
                tenant_ids=options["tenants"], save_channels=options["save_channels"]
            )
        )
        width = max(len(f.check) for f in findings)
        for finding in findings:
            mark = self.style.SUCCESS("OK  ") if finding.ok else self.style.ERROR("FAIL")
            self.stdout.write(f"{mark}  {finding.check.ljust(width)}  {finding.where}")
            self.stdout.write(f"      {' ' * width}  {finding.detail}")
        failed = [f for f in findings if not f.ok]
        if failed:
            raise CommandError(f"{len(failed)} of {len(findings)} checks failed.")
        self.stdout.write(self.style.SUCCESS(f"All {len(findings)} checks passed."))
