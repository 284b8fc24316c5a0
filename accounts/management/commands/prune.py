import json
import re
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.services.request_logs import prune_request_logs

_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_age(value: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([dhm])", value.strip())
    if not match:
        raise CommandError(f"Cannot read {value!r}: use e.g. 30d, 24h or 90m")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class Command(BaseCommand):
    help = ("Deletes request logs and webhook delivery logs past retention, expired unused direct uploads, "
            "and previous webhook secrets past their rotation overlap.")

    def add_arguments(self, parser):
        # Default: AIPROD_REQUEST_LOG_RETENTION_DAYS for request logs,
        # AIPROD_EVENT_RETENTION_DAYS for events and their deliveries.
        parser.add_argument("--older-than", default=None, help="e.g. 30d, 24h or 90m: one age for both")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        age = parse_age(options["older_than"]) if options["older_than"] else None
        log_age = age or timedelta(days=settings.AIPROD_REQUEST_LOG_RETENTION_DAYS)
        result = {"request_logs_deleted": prune_request_logs(log_age)}
        try:
            from webhooks.services.retention import prune_deliveries
        except ImportError:
            pass
        else:
            result["deliveries_deleted"] = prune_deliveries(age or timedelta(days=settings.AIPROD_EVENT_RETENTION_DAYS))
            from webhooks.services.endpoints import erase_expired_previous_secrets

            result["previous_webhook_secrets_erased"] = erase_expired_previous_secrets()
        try:
            from jobs.services.direct_uploads import prune_expired_uploads
        except ImportError:
            pass
        else:
            result["uploads_deleted"] = prune_expired_uploads()
        self.stdout.write(json.dumps(result) if options["json"] else ", ".join(f"{k}: {v}" for k, v in result.items()))
