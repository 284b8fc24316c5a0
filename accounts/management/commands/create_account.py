import json

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

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
        parser.add_argument(
            "--password", help="also create a dashboard login (a Django user named by the email) with this password"
        )
        parser.add_argument("--json", action="store_true", help="print machine-readable JSON")

    def handle(self, *args, **options):
        if find_account(options["email"]):
            raise CommandError(f"An account with email {options['email']} already exists")
        scopes = parse_scopes(options["scopes"])
        with transaction.atomic():
            user = self._dashboard_user(options["email"], options["password"])
            account = create_account(email=options["email"], name=options["name"], tier=options["tier"], user=user)
            _, plaintext = create_api_key(account, environment=options["environment"], name="default", scopes=scopes)
        if options["json"]:
            self.stdout.write(json.dumps({"account_id": account.id, "api_key": plaintext}))
        else:
            self.stdout.write(f"Account {account.id} ({account.email}, {account.tier})\nAPI key: {plaintext}")
            if account.user_id:
                self.stdout.write(f"Dashboard login: {account.user.username} at /dashboard/login")

    @staticmethod
    def _dashboard_user(email: str, password: str | None):
        if password is None:
            return None
        email = email.strip().lower()
        users = get_user_model()
        if users.objects.filter(username=email).exists():
            raise CommandError(f"A dashboard user named {email} already exists")
        user = users(username=email, email=email)
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise CommandError("Password refused: " + " ".join(exc.messages)) from None
        user.set_password(password)
        user.save()
        return user
