import json

from django.core.management.base import BaseCommand, CommandError

from aiprod.ops.backup import BackupError, run_backup
from aiprod.timefmt import iso


class Command(BaseCommand):
    help = "Dumps the PostgreSQL database with pg_dump into AIPROD_BACKUP_DIR and records it."

    def add_arguments(self, parser):
        parser.add_argument("--dir", help="target directory (default: AIPROD_BACKUP_DIR)")
        parser.add_argument("--json", action="store_true", help="print machine-readable JSON")

    def handle(self, *args, **options):
        try:
            record = run_backup(options["dir"])
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        result = {"path": record.path, "size_bytes": record.size_bytes, "finished_at": iso(record.finished_at)}
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(f"Backup written: {record.path} ({record.size_bytes} bytes)")
