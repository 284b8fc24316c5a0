import json

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core.ids import random_token
from ops.support import GROUP_NAME, create_support_user


class Command(BaseCommand):
    help = f'Creates a support staff login for /admin/ in the "{GROUP_NAME}" group (not a superuser).'

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument("--email", default="")
        parser.add_argument("--password", help="default: a generated one, printed once")
        parser.add_argument("--json", action="store_true", help="print machine-readable JSON")

    def handle(self, *args, **options):
        password = options["password"] or random_token(16)
        try:
            validate_password(password)
            with transaction.atomic():
                user = create_support_user(options["username"], email=options["email"], password=password)
        except (ValueError, ValidationError) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from None
        shown = None if options["password"] else password
        if options["json"]:
            self.stdout.write(json.dumps({"username": user.username, "group": GROUP_NAME, "password": shown}))
        else:
            self.stdout.write(f'Support user {user.username} (group "{GROUP_NAME}"): log in at /admin/')
            if shown:
                self.stdout.write(f"Password (shown once): {shown}")
