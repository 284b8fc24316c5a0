import json

from django.core.management.base import BaseCommand, CommandError

from ops.backup import BackupError, prune_backups, run_backup
from core.timefmt import iso


class Command(BaseCommand):
    help = "Dumps the PostgreSQL database with pg_dump into AIPROD_BACKUP_DIR and records it."

    def add_arguments(self, parser):
        parser.add_argument("--dir", help="target directory (default: AIPROD_BACKUP_DIR)")
        parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
        parser.add_argument(
            "--keep", type=int, default=None,
            help="after a successful dump, delete all but the newest KEEP dumps (default: AIPROD_BACKUP_KEEP)",
        )

    def handle(self, *args, **options):
        if options["keep"] is not None and options["keep"] < 1:
            raise CommandError("--keep must be at least 1: pruning must never delete the newest backup")
        try:
            record = run_backup(options["dir"])
            pruned = prune_backups(options["dir"], keep=options["keep"])
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        result = {
            "path": record.path, "size_bytes": record.size_bytes, "finished_at": iso(record.finished_at),
            "pruned": [str(path) for path in pruned],
        }
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(f"Backup written: {record.path} ({record.size_bytes} bytes)")
            for path in pruned:
                self.stdout.write(f"Old backup deleted: {path}")
