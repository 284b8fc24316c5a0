from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self):
        from core.events import register_account_event_receiver
        from webhooks.services.events import emit_account_event

        # quota.warning comes from quotas, a layer below: it publishes, we deliver.
        register_account_event_receiver(emit_account_event)
