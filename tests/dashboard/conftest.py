"""Dashboard fixtures: customers are personas with a Django login."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from accounts.models import Account
from jobs.models import Job
from core.timefmt import month_start
from tests.conftest import Persona, make_persona

PASSWORD = "correct horse battery"


@dataclass
class Customer:
    persona: Persona
    user: object
    client: Client

    @property
    def account(self) -> Account:
        return self.persona.account


def make_customer(tier: str = "pro", **kwargs) -> Customer:
    persona = make_persona(tier, **kwargs)
    user = get_user_model().objects.create_user(persona.account.email, persona.account.email, PASSWORD)
    Account.objects.filter(pk=persona.account.pk).update(user=user)
    persona.account.refresh_from_db()
    client = Client()
    client.force_login(user)
    return Customer(persona=persona, user=user, client=client)


@pytest.fixture
def customer(db) -> Customer:
    return make_customer("pro")


@pytest.fixture
def customers(db):
    """Factory: customers("free", suspended=True)."""
    return make_customer


def make_job(account, *, livemode: bool = True, status: str = "failed", name: str | None = None, **fields) -> Job:
    """A job row in a given state, for pages that list and act on jobs (the
    jobs app's own tests cover how jobs get there)."""
    now = timezone.now()
    defaults = {
        "type": "media.probe",
        "requested_type": "media.probe",
        "input_url": "https://example.com/in.mp4",
        "timeout": 300,
        "created_month": month_start(now),
        "last_activity_at": now,
    }
    if status == "failed":
        defaults.update(error="Invalid input: URL returned HTTP 403", error_code="INPUT_FETCH_FAILED", completed_at=now)
    defaults.update(fields)
    return Job.objects.create(
        account=account, livemode=livemode, status=status, name=name or f"job-{Job.objects.count() + 1}", **defaults
    )
