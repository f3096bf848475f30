from django.apps import AppConfig


class EntraConfig(AppConfig):
    """Sign-in with Entra ID: django-allauth's Microsoft provider plus ID token validation."""

    name = "accounts.entra"
    label = "entra"
    verbose_name = "Entra ID sign-in"
