import json

from django.core.management.base import BaseCommand, CommandError

from accounts.management.commands.create_account import parse_scopes
from accounts.services.accounts import find_account
from accounts.services.api_keys import create_api_key
from core.timefmt import iso


class Command(BaseCommand):
    help = "Creates an API key for an account and prints it (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="the account's email or acct_ id")
        parser.add_argument("--environment", choices=["live", "test"], default="live")
        parser.add_argument("--name", default="")
        parser.add_argument("--scopes", help="comma-separated; default: all scopes")
        parser.add_argument("--expires-in-days", type=int, default=None)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        account = find_account(options["account"])
        if account is None:
            raise CommandError(f"No account {options['account']}")
        days = options["expires_in_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-in-days must be at least 1")
        key, plaintext = create_api_key(
            account,
            environment=options["environment"],
            name=options["name"],
            scopes=parse_scopes(options["scopes"]),
            expires_in_days=days,
        )
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "account_id": account.id,
                        "key_id": key.id,
                        "api_key": plaintext,
                        "environment": key.environment,
                        "scopes": key.scopes,
                        "expires_at": iso(key.expires_at),
                    }
                )
            )
        else:
            self.stdout.write(f"API key for {account.email} ({key.environment}): {plaintext}")
