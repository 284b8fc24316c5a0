from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "ops"
    # The tables, migrations, content types and permissions of these models were
    # made when they lived in the `aiprod` package: keeping the label keeps every
    # existing database as it is (no table renames, no new migration history).
    label = "aiprod"
    verbose_name = "AIPROD platform"

    def ready(self):
        from django.core import checks
        from django.db.models.signals import post_migrate

        from ops import checks as deploy_checks
        from ops.support import setup_after_migrate

        checks.register(deploy_checks.check_insecure_urls_in_production, checks.Tags.security, deploy=True)
        checks.register(deploy_checks.check_secret_key_is_set, checks.Tags.security, deploy=True)
        checks.register(deploy_checks.check_production_services, checks.Tags.database, deploy=True)
        # The Support group's permissions name other apps' models: set up once they all exist.
        post_migrate.connect(setup_after_migrate, sender=self, dispatch_uid="aiprod.support_group")
