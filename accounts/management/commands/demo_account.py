"""Creates the demo account once and prints its keys (used by `make run`).

Keys are stored only as hashes, so the plaintext of the demo keys is kept in
var/demo-keys.json (local development only) to print it on every start.
"""

import json
import os
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from accounts.services.accounts import create_account, find_account
from accounts.services.api_keys import create_api_key
from core.ids import random_token

DEMO_EMAIL = "demo@aiprod.local"


class Command(BaseCommand):
    help = "Ensures the demo account exists and prints its live and test keys."

    def handle(self, *args, **options):
        path = Path(settings.BASE_DIR) / "var" / "demo-keys.json"
        account = find_account(DEMO_EMAIL)
        keys = json.loads(path.read_text()) if path.exists() and account else None
        if account is None or keys is None:
            password = random_token(16)
            user = get_user_model().objects.filter(username=DEMO_EMAIL).first()
            if user is None:
                user = get_user_model().objects.create_user(username=DEMO_EMAIL, email=DEMO_EMAIL)
            user.set_password(password)
            user.save(update_fields=["password"])
            account = account or create_account(email=DEMO_EMAIL, name="Demo", tier="pro", user=user)
            if account.user_id is None:
                account.user = user
                account.save(update_fields=["user"])
            _, live = create_api_key(account, environment="live", name="demo live")
            _, test = create_api_key(account, environment="test", name="demo test")
            keys = {"account_id": account.id, "live": live, "test": test, "password": password}
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(keys))
            os.chmod(path, 0o600)
        # Where `make run` serves (its BIND); 0.0.0.0 listens everywhere, try it locally.
        bind = os.environ.get("BIND", "127.0.0.1:8000").replace("0.0.0.0", "127.0.0.1")
        base = f"http://{bind}"
        self.stdout.write(
            f"\nDemo account {keys['account_id']} ({DEMO_EMAIL}, pro)\n"
            f"  live key: {keys['live']}\n"
            f"  test key: {keys['test']}\n"
            f"  dashboard: {base}/dashboard/ (login {DEMO_EMAIL} / {keys.get('password')})\n"
            f"Try:\n  curl -s -H \"X-API-Key: {keys['live']}\" {base}/account/api-keys/current\n"
            f"  AIPROD_API_KEY={keys['live']} AIPROD_BASE_URL={base} .venv/bin/aiprod upload tests/fixtures/speech.wav"
            " --type audio.transcribe --wait\n"
        )
