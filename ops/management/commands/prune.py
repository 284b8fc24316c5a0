"""`prune`: retention across the apps (request logs, webhook events and
deliveries, unused direct uploads, expired previous webhook secrets). It lives
in ops, above every app whose data it deletes, and calls each app's service."""

import json
import re
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.services.request_logs import prune_request_logs
from jobs.services.direct_uploads import prune_expired_uploads
from webhooks.services.endpoints import erase_expired_previous_secrets
from webhooks.services.retention import prune_deliveries

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
        event_age = age or timedelta(days=settings.AIPROD_EVENT_RETENTION_DAYS)
        result["deliveries_deleted"] = prune_deliveries(event_age)
        result["previous_webhook_secrets_erased"] = erase_expired_previous_secrets()
        result["uploads_deleted"] = prune_expired_uploads()
        self.stdout.write(json.dumps(result) if options["json"] else ", ".join(f"{k}: {v}" for k, v in result.items()))
