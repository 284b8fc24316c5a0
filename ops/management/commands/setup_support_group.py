import json

from django.core.management.base import BaseCommand

from ops.support import ensure_support_group


class Command(BaseCommand):
    help = 'Creates or refreshes the "Support" admin group (also run after every migrate).'

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print machine-readable JSON")

    def handle(self, *args, **options):
        group = ensure_support_group()
        codenames = sorted(f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type"))
        if options["json"]:
            self.stdout.write(json.dumps({"group": group.name, "permissions": codenames}))
        else:
            self.stdout.write(f'Group "{group.name}": {len(codenames)} permissions\n' + "\n".join(codenames))
