"""manage.py recover_stuck_jobs [--older-than 24h] [--action timeout|retry] [--dry-run] [--json]"""

import json
import re
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from jobs.services.recovery import recover_stuck_jobs

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_age(value: str) -> timedelta:
    match = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", value or "")
    if not match:
        raise CommandError(f"--older-than must look like 30m, 24h or 2d, got {value!r}")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


class Command(BaseCommand):
    help = "Force-timeout (and optionally retry) jobs stuck in processing."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", default="24h", type=parse_age, help="e.g. 30m, 24h, 2d (default 24h)")
        parser.add_argument("--action", choices=["timeout", "retry"], default="timeout")
        parser.add_argument("--dry-run", action="store_true", help="only list what would be done")
        parser.add_argument("--json", action="store_true", dest="as_json", help="machine-readable output")

    def handle(self, *args, older_than, action, dry_run, as_json, **options):
        report = recover_stuck_jobs(older_than=older_than, action=action, dry_run=dry_run)
        if as_json:
            self.stdout.write(json.dumps({"action": action, "dry_run": dry_run, "older_than_seconds":
                                      int(older_than.total_seconds()), "count": len(report), "jobs": report}, indent=2))
            return
        for entry in report:
            self.stdout.write(f"{entry['id']} ({entry['account_id']}) last active {entry['last_activity_at']}: "
                              f"{entry['result']}")
        self.stdout.write(f"{len(report)} stuck job(s){' (dry run)' if dry_run else ''}")
