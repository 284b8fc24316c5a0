"""Support console: endpoints without secrets, deliveries with "Redeliver"; the prune command."""

import io
import json
from datetime import timedelta

import time_machine
from django.contrib.admin.models import LogEntry
from django.core.management import call_command
from django.utils import timezone

from tests.admin_urls import admin_url
from tests.webhooks.conftest import register
from webhooks.models import Delivery
from webhooks.services.events import emit_account_event


def test_the_endpoint_pages_never_show_the_secret(admin_client, pro, receiver):
    endpoint = register(pro, receiver.url + "/hook")
    listing = admin_client.get("/admin/webhooks/webhookendpoint/")
    page = admin_client.get(admin_url(endpoint))
    assert listing.status_code == page.status_code == 200
    assert endpoint.url in page.content.decode()
    for content in (listing.content, page.content):
        assert endpoint.secret.encode() not in content
        assert endpoint.secret[6:].encode() not in content


def test_the_redeliver_action_resends_through_the_same_service_and_is_logged(
    admin_client, pro, receiver, settings, django_capture_on_commit_callbacks
):
    settings.AIPROD_WEBHOOK_RETRY_SCHEDULE = []
    endpoint = register(pro, receiver.url + "/hook")
    receiver.routes["/hook"] = 500
    with django_capture_on_commit_callbacks(execute=True):
        emit_account_event(pro.account, livemode=True, event_type="quota.warning", data={})
    delivery = Delivery.objects.get(endpoint=endpoint, event_type="quota.warning")
    assert delivery.status == "failed"
    page = admin_client.get(admin_url(delivery))
    assert page.status_code == 200 and "500 Internal Server Error" in page.content.decode()

    receiver.routes["/hook"] = 200
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/webhooks/delivery/", {"action": "redeliver", "_selected_action": [delivery.id]}, follow=True
        )
    assert response.status_code == 200
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempt_count == 2
    assert LogEntry.objects.filter(object_id=delivery.id, change_message="Redelivered").exists()


def test_prune_deletes_delivery_logs_past_retention(pro, receiver, django_capture_on_commit_callbacks):
    register(pro, receiver.url + "/hook")
    with time_machine.travel(timezone.now() - timedelta(days=31), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            emit_account_event(pro.account, livemode=True, event_type="quota.warning", data={})
    out = io.StringIO()
    call_command("prune", "--older-than", "30d", "--json", stdout=out)
    assert json.loads(out.getvalue())["deliveries_deleted"] == 1
    assert not Delivery.objects.filter(event_type="quota.warning").exists()
    assert Delivery.objects.filter(event_type="webhook.verification").exists()
