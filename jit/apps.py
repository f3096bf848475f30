from django.apps import AppConfig


class JitConfig(AppConfig):
    name = "jit"
    verbose_name = "Just-in-time access"
