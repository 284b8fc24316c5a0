"""Webhook test helpers: real local receivers and endpoints registered through the API."""

from __future__ import annotations

import pytest
from django.utils import timezone

from jobs.models import Job
from tests.httpservers import serve
from webhooks.models import WebhookEndpoint


@pytest.fixture
def receiver():
    """A local HTTP receiver answering 200 on /hook (change ``receiver.routes`` to script it)."""
    with serve({"/hook": (200, {"Content-Type": "application/json"}, b'{"received": true}')}) as srv:
        yield srv


@pytest.fixture
def fast_webhooks(settings):
    """Short timeouts for tests; the retry schedule stays as configured unless a test sets it."""
    settings.AIPROD_WEBHOOK_TIMEOUT = 1
    return settings


def register(persona, url: str, *, events=None, verify: bool = True, test: bool = False) -> WebhookEndpoint:
    """Creates an endpoint through the API (and verifies it against a live receiver)."""
    api = persona.test_api if test else persona.api
    body = {"url": url} if events is None else {"url": url, "events": events}
    created = api.post("/account/webhooks", body)
    assert created.status_code == 201, created.content
    endpoint_id = created.json()["id"]
    if verify:
        verified = api.post(f"/account/webhooks/{endpoint_id}/verify")
        assert verified.status_code == 200, verified.content
    return WebhookEndpoint.objects.get(pk=endpoint_id)


def make_job(persona, *, webhook_url=None, livemode=True, name="clip") -> Job:
    now = timezone.now()
    return Job.objects.create(
        account=persona.account,
        livemode=livemode,
        name=name,
        type="media.probe",
        requested_type="media.probe",
        input_url="https://example.com/clip.mp4",
        timeout=300,
        webhook_url=webhook_url,
        created_month=now.date().replace(day=1),
        last_activity_at=now,
    )


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    """Emits a quota.warning for the persona and runs the on-commit queueing (django-q2 sync mode)."""

    from tests.webhooks.deliveries import emit

    def run(persona, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return emit(persona, **kwargs)

    return run
