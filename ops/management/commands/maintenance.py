import json
from datetime import timezone as dt_timezone

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from ops.maintenance import current_state, forget, retry_after, set_maintenance
from core.timefmt import iso


def parse_until(raw: str | None):
    if not raw:
        return None
    value = parse_datetime(raw.strip().replace("Z", "+00:00"))
    if value is None:
        raise CommandError(f"--until must be an ISO 8601 time such as 2026-12-01T06:00:00Z, got {raw!r}")
    return value if value.tzinfo else value.replace(tzinfo=dt_timezone.utc)


class Command(BaseCommand):
    help = "Turns maintenance mode on or off (the API then answers 503 MAINTENANCE), or shows it."

    def add_arguments(self, parser):
        parser.add_argument("switch", choices=["on", "off", "status"])
        parser.add_argument("--until", help="announced end, ISO 8601 (sets Retry-After)")
        parser.add_argument("--message", default="", help="shown to API clients and on the status page")
        parser.add_argument("--json", action="store_true", help="print machine-readable JSON")

    def handle(self, *args, **options):
        if options["switch"] != "status":
            set_maintenance(
                enabled=options["switch"] == "on", message=options["message"], until=parse_until(options["until"])
            )
        forget()
        state = current_state()
        result = {
            "maintenance": state.enabled,
            "message": state.message,
            "until": iso(state.until),
            "retry_after": retry_after(state) if state.enabled else None,
        }
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write("Maintenance mode is " + ("ON" if state.enabled else "off"))
