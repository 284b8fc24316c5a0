from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "AIPROD core"

    def ready(self):
        from core import openapi  # noqa: F401  registers the API key security scheme
        from core.admin_base import harden_admin_site

        # The admin modules of every app were imported by the admin's ready(), which runs first.
        harden_admin_site()
