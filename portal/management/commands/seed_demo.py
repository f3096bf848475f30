"""Seed what the demo needs. Safe to run again: it only adds what is missing."""

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create the demo operator account (operator / operator) if it does not exist."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("Demo data is never seeded when PRODUCTION is on.")
        User = get_user_model()
        if not User.objects.filter(username="operator").exists():
            User.objects.create_superuser("operator", "operator@localhost", "operator")
            self.stdout.write("Created the demo operator account (operator / operator).")
