"""manage.py recover_stuck_jobs [--older-than 24h | --job ID ...] [--action timeout|retry] [--reason TEXT]
[--dry-run] [--json]"""

import json
import re
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from jobs.services.recovery import recover_jobs, recover_stuck_jobs

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_age(value: str) -> timedelta:
    match = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", value or "")
    if not match:
        raise CommandError(f"--older-than must look like 30m, 24h or 2d, got {value!r}")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


class Command(BaseCommand):
    help = "Force-timeout (and optionally retry) jobs stuck in processing."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", default=None, type=parse_age,
                            help="processing jobs without activity this long: 30m, 24h, 2d (default 24h)")
        parser.add_argument("--job", action="append", dest="job_ids", metavar="ID",
                            help="act on this job, whatever its age (repeatable); instead of --older-than")
        parser.add_argument("--action", choices=["timeout", "retry"], default="timeout")
        parser.add_argument("--reason", default="", help='shown as "Timeout: <reason>" on the job')
        parser.add_argument("--dry-run", action="store_true", help="only list what would be done")
        parser.add_argument("--json", action="store_true", dest="as_json", help="machine-readable output")

    def handle(self, *args, older_than, job_ids, action, reason, dry_run, as_json, **options):
        if job_ids and older_than is not None:
            raise CommandError("use either --job or --older-than, not both")
        if job_ids:
            report = recover_jobs(job_ids, action=action, reason=reason, dry_run=dry_run)
            summary = {"action": action, "dry_run": dry_run, "job_ids": job_ids}
        else:
            older_than = older_than or timedelta(hours=24)
            report = recover_stuck_jobs(older_than=older_than, action=action, reason=reason, dry_run=dry_run)
            summary = {"action": action, "dry_run": dry_run, "older_than_seconds": int(older_than.total_seconds())}
        if as_json:
            self.stdout.write(json.dumps({**summary, "count": len(report), "jobs": report}, indent=2))
            return
        for entry in report:
            if entry["result"] == "not found":
                self.stdout.write(f"{entry['id']}: not found")
                continue
            self.stdout.write(f"{entry['id']} ({entry['account_id']}, {entry['status']}) last active "
                              f"{entry['last_activity_at']}: {entry['result']}")
        self.stdout.write(f"{len(report)} job(s){' (dry run)' if dry_run else ''}")
