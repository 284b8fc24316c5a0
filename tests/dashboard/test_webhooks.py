"""Webhooks pages: create, verify, test event, deliveries, redeliver, scoping."""

import pytest

from tests.dashboard.conftest import make_customer
from tests.httpservers import serve
from webhooks.models import Delivery, WebhookEndpoint


@pytest.fixture
def receiver(settings):
    settings.AIPROD_WEBHOOK_TIMEOUT = 2
    with serve({"/hook": (200, {"Content-Type": "application/json"}, b'{"ok": true}'), "/gone": 404}) as srv:
        yield srv


def _create(customer, url):
    response = customer.client.post("/dashboard/webhooks/new", {"url": url})
    assert response.status_code == 302, response.content[:1000]
    return WebhookEndpoint.objects.get(account=customer.account, url=url)


def test_an_endpoint_is_created_verified_and_tested_from_the_page(customer, receiver):
    endpoint = _create(customer, receiver.url + "/hook")
    assert endpoint.status == "unverified" and endpoint.livemode

    html = customer.client.post(f"/dashboard/webhooks/{endpoint.id}/verify", follow=True).content.decode()
    assert "Verified" in html
    endpoint.refresh_from_db()
    assert endpoint.status == "verified"

    html = customer.client.post(f"/dashboard/webhooks/{endpoint.id}/test", {"event": "job.failed"}, follow=True).content.decode()
    assert "Test job.failed delivered: HTTP 200" in html
    assert [r.headers["X-AIPROD-Event"] for r in receiver.requests] == ["webhook.verification", "job.failed"]
    assert "job.failed" in html and ">200<" in html  # the deliveries table with the response code


def test_a_failing_verification_is_explained(customer, receiver):
    endpoint = _create(customer, receiver.url + "/gone")
    html = customer.client.post(f"/dashboard/webhooks/{endpoint.id}/verify", follow=True).content.decode()
    assert "Verification failed" in html and "404" in html
    endpoint.refresh_from_db()
    assert endpoint.status == "unverified"


def test_a_bad_url_is_an_error_on_the_form(customer):
    response = customer.client.post("/dashboard/webhooks/new", {"url": "not a url"})
    assert response.status_code == 400
    assert "Must be a valid HTTPS URL" in response.content.decode()
    assert not WebhookEndpoint.objects.filter(account=customer.account).exists()


def test_redeliver_sends_a_delivery_again(customer, receiver, django_capture_on_commit_callbacks):
    endpoint = _create(customer, receiver.url + "/hook")
    customer.client.post(f"/dashboard/webhooks/{endpoint.id}/test", {"event": "job.completed"})
    delivery = Delivery.objects.get(endpoint=endpoint)
    with django_capture_on_commit_callbacks(execute=True):
        response = customer.client.post(f"/dashboard/webhooks/deliveries/{delivery.id}/redeliver")
    assert response.status_code == 302
    receiver.wait_for_requests(2)
    delivery.refresh_from_db()
    assert delivery.attempt_count == 2 and delivery.status == "delivered"
    html = customer.client.get(f"/dashboard/webhooks/deliveries/{delivery.id}").content.decode()
    assert "Attempts" in html and "&quot;sample&quot;: true" in html


def test_rotate_disable_and_delete(customer, receiver):
    endpoint = _create(customer, receiver.url + "/hook")
    old = endpoint.secret
    customer.client.post(f"/dashboard/webhooks/{endpoint.id}/rotate-secret")
    endpoint.refresh_from_db()
    assert endpoint.secret != old
    html = customer.client.post(f"/dashboard/webhooks/{endpoint.id}/active", {"active": "false"}, follow=True).content.decode()
    assert "This endpoint is disabled" in html and "Deactivated with PATCH active: false" in html
    customer.client.post(f"/dashboard/webhooks/{endpoint.id}/delete")
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_another_accounts_endpoint_and_delivery_are_404(customer, receiver, db):
    other = make_customer("pro")
    endpoint = _create(other, receiver.url + "/hook")
    other.client.post(f"/dashboard/webhooks/{endpoint.id}/test", {"event": "job.completed"})
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert customer.client.get(f"/dashboard/webhooks/{endpoint.id}").status_code == 404
    assert customer.client.post(f"/dashboard/webhooks/{endpoint.id}/rotate-secret").status_code == 404
    assert customer.client.get(f"/dashboard/webhooks/deliveries/{delivery.id}").status_code == 404
    assert customer.client.post(f"/dashboard/webhooks/deliveries/{delivery.id}/redeliver").status_code == 404


def test_a_live_endpoint_is_not_visible_in_test_mode(customer, receiver):
    endpoint = _create(customer, receiver.url + "/hook")
    customer.client.post("/dashboard/mode", {"mode": "test"})
    assert endpoint.url not in customer.client.get("/dashboard/webhooks").content.decode()
    assert customer.client.get(f"/dashboard/webhooks/{endpoint.id}").status_code == 404
