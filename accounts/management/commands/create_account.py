import json

from django.core.management.base import BaseCommand, CommandError

from accounts.models import SCOPES, Tier
from accounts.services.accounts import create_account, find_account
from accounts.services.api_keys import create_api_key


def parse_scopes(raw: str | None) -> list[str] | None:
    if not raw:
        return None
    scopes = [s.strip() for s in raw.split(",") if s.strip()]
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise CommandError(f"Unknown scopes: {', '.join(unknown)}. Must be among: {', '.join(SCOPES)}")
    return scopes


class Command(BaseCommand):
    help = "Creates an account with one API key and prints the key (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--name", default="")
        parser.add_argument("--tier", choices=Tier.values, default="free")
        parser.add_argument("--environment", choices=["live", "test"], default="live")
        parser.add_argument("--scopes", help="comma-separated; default: all scopes")
        parser.add_argument("--json", action="store_true", help="print machine-readable JSON")

    def handle(self, *args, **options):
        if find_account(options["email"]):
            raise CommandError(f"An account with email {options['email']} already exists")
        account = create_account(email=options["email"], name=options["name"], tier=options["tier"])
        _, plaintext = create_api_key(
            account, environment=options["environment"], name="default", scopes=parse_scopes(options["scopes"])
        )
        if options["json"]:
            self.stdout.write(json.dumps({"account_id": account.id, "api_key": plaintext}))
        else:
            self.stdout.write(f"Account {account.id} ({account.email}, {account.tier})\nAPI key: {plaintext}")
