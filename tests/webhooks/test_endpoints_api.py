"""/account/webhooks: create, list, read, change, delete, secrets, scoping."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.outbound import LOCAL_DEVELOPMENT_HINT
from tests.webhooks.conftest import register
from webhooks.models import SUBSCRIBABLE_EVENTS, Delivery, WebhookEndpoint
from webhooks.services.events import emit_account_event


def test_create_returns_the_endpoint_with_its_secret_once_in_lists(pro, receiver):
    created = pro.api.post("/account/webhooks", {"url": receiver.url + "/hook"})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["id"].startswith("wh_")
    assert body["object"] == "webhook_endpoint"
    assert body["secret"].startswith("whsec_")
    assert body["status"] == "unverified"
    assert body["active"] is True and body["disabled_reason"] is None
    assert body["events"] == list(SUBSCRIBABLE_EVENTS)
    assert body["livemode"] is True and body["created_at"].endswith("Z")

    listed = pro.api.get("/account/webhooks").json()
    assert listed["object"] == "list" and [e["id"] for e in listed["data"]] == [body["id"]]
    assert "secret" not in listed["data"][0]
    one = pro.api.get(f"/account/webhooks/{body['id']}").json()
    assert one["secret"] == body["secret"]


def test_events_are_validated_with_the_guides_message(pro, receiver):
    response = pro.api.post("/account/webhooks", {"url": receiver.url + "/hook", "events": ["job.completed", "job.done"]})
    assert response.status_code == 400
    message = response.json()["details"]["events"]["1"][0]
    assert message == "Must be one of: " + ", ".join(SUBSCRIBABLE_EVENTS)
    empty = pro.api.post("/account/webhooks", {"url": receiver.url + "/hook", "events": []})
    assert empty.status_code == 400


def test_a_subscription_list_is_kept_without_duplicates(pro, receiver):
    body = pro.api.post(
        "/account/webhooks", {"url": receiver.url + "/hook", "events": ["job.failed", "job.completed", "job.failed"]}
    ).json()
    assert body["events"] == ["job.failed", "job.completed"]


@pytest.mark.parametrize("url", ["not a url", "ftp://example.com/hook", "https://", 42])
def test_a_malformed_url_is_a_400(pro, url):
    response = pro.api.post("/account/webhooks", {"url": url})
    assert response.status_code == 400
    assert "url" in response.json()["details"]


def test_unknown_fields_and_missing_url_are_400(pro):
    assert pro.api.post("/account/webhooks", {}).json()["details"] == {"url": ["This field is required"]}
    assert pro.api.post("/account/webhooks", {"url": "https://a.example", "secret": "x"}).status_code == 400


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://example.com/hook", "Webhook URL must use HTTPS"),
        ("https://127.0.0.1/hook", "Webhook URL resolves to a private address" + LOCAL_DEVELOPMENT_HINT),
        ("https://10.1.2.3/hook", "Webhook URL resolves to a private address" + LOCAL_DEVELOPMENT_HINT),
        ("https://169.254.169.254/latest/meta-data", "Webhook URL resolves to a private address"),
        ("https://[::1]/hook", "Webhook URL resolves to a private address" + LOCAL_DEVELOPMENT_HINT),
        ("https://localhost/hook", "Webhook URL resolves to a private address" + LOCAL_DEVELOPMENT_HINT),
    ],
)
def test_urls_we_refuse_to_call_are_422_invalid_url_when_insecure_urls_are_off(pro, settings, url, message):
    settings.AIPROD_ALLOW_INSECURE_URLS = False
    response = pro.api.post("/account/webhooks", {"url": url})
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "INVALID_URL"
    assert response.json()["message"] == message
    assert not WebhookEndpoint.objects.exists()


def test_patching_the_url_to_a_private_address_is_refused_too(pro, receiver, settings):
    endpoint = register(pro, receiver.url + "/hook")
    settings.AIPROD_ALLOW_INSECURE_URLS = False
    response = pro.api.patch(f"/account/webhooks/{endpoint.id}", {"url": "https://192.168.1.10/hook"})
    assert response.status_code == 422 and response.json()["code"] == "INVALID_URL"
    endpoint.refresh_from_db()
    assert endpoint.url == receiver.url + "/hook" and endpoint.status == "verified"


def test_patch_changes_events_and_a_new_url_needs_verifying_again(pro, receiver):
    endpoint = register(pro, receiver.url + "/hook")
    changed = pro.api.patch(f"/account/webhooks/{endpoint.id}", {"events": ["job.failed"]}).json()
    assert changed["events"] == ["job.failed"] and changed["status"] == "verified"
    moved = pro.api.patch(f"/account/webhooks/{endpoint.id}", {"url": receiver.url + "/hook?v=2"}).json()
    assert moved["url"].endswith("/hook?v=2") and moved["status"] == "unverified"
    assert "secret" not in moved


def test_deactivating_and_reenabling_requires_verifying_again(pro, receiver):
    endpoint = register(pro, receiver.url + "/hook")
    off = pro.api.patch(f"/account/webhooks/{endpoint.id}", {"active": False}).json()
    assert off["active"] is False and off["disabled_reason"]
    on = pro.api.patch(f"/account/webhooks/{endpoint.id}", {"active": True}).json()
    assert on["active"] is True and on["disabled_reason"] is None and on["status"] == "unverified"
    assert pro.api.patch(f"/account/webhooks/{endpoint.id}", {"active": "yes"}).status_code == 400


def test_delete_removes_the_endpoint_but_keeps_its_delivery_log(pro, receiver):
    endpoint = register(pro, receiver.url + "/hook")
    delivery_id = Delivery.objects.get(endpoint=endpoint).id
    assert pro.api.delete(f"/account/webhooks/{endpoint.id}").status_code == 204
    assert pro.api.get(f"/account/webhooks/{endpoint.id}").status_code == 404
    assert pro.api.get(f"/account/webhooks/deliveries/{delivery_id}").json()["webhook_id"] is None


def test_rotate_secret_returns_a_new_secret(pro, receiver):
    endpoint = register(pro, receiver.url + "/hook")
    rotated = pro.api.post(f"/account/webhooks/{endpoint.id}/rotate-secret").json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != endpoint.secret
    assert pro.api.get(f"/account/webhooks/{endpoint.id}").json()["secret"] == rotated["secret"]


def test_the_default_secret_is_created_on_first_use_and_stable_per_environment(pro):
    first = pro.api.get("/account/webhooks/default/secret")
    assert first.status_code == 200
    secret = first.json()["secret"]
    assert secret.startswith("whsec_")
    assert pro.api.get("/account/webhooks/default/secret").json()["secret"] == secret
    test_secret = pro.test_api.get("/account/webhooks/default/secret").json()
    assert test_secret["secret"] != secret and test_secret["livemode"] is False
    rotated = pro.api.post("/account/webhooks/default/rotate-secret").json()["secret"]
    assert rotated != secret and pro.api.get("/account/webhooks/default/secret").json()["secret"] == rotated


def test_the_webhooks_manage_scope_is_required(personas, receiver):
    reader = personas("pro", scopes=["jobs.read"])
    response = reader.api.get("/account/webhooks")
    assert response.status_code == 403
    assert "webhooks.manage" in response.json()["message"]
    assert reader.api.get("/account/webhooks/default/secret").status_code == 403


def test_other_accounts_endpoints_and_deliveries_are_404(personas, receiver):
    owner, other = personas("pro"), personas("pro")
    endpoint = register(owner, receiver.url + "/hook")
    delivery = Delivery.objects.get(endpoint=endpoint)
    for method, path in [
        ("get", f"/account/webhooks/{endpoint.id}"),
        ("patch", f"/account/webhooks/{endpoint.id}"),
        ("delete", f"/account/webhooks/{endpoint.id}"),
        ("post", f"/account/webhooks/{endpoint.id}/verify"),
        ("post", f"/account/webhooks/{endpoint.id}/rotate-secret"),
        ("post", f"/account/webhooks/{endpoint.id}/test"),
        ("post", f"/account/webhooks/{endpoint.id}/recover"),
        ("get", f"/account/webhooks/deliveries/{delivery.id}"),
        ("post", f"/account/webhooks/deliveries/{delivery.id}/redeliver"),
    ]:
        if method == "get":
            response = other.api.get(path)
        else:
            response = getattr(other.api, method)(path, {"since": "2020-01-01T00:00:00Z"})
        assert response.status_code == 404, (method, path, response.content)
        assert response.json()["code"] == "NOT_FOUND"
    assert other.api.get("/account/webhooks").json()["data"] == []
    assert len(receiver.requests) == 1  # only the owner's verification


def test_test_mode_endpoints_are_invisible_to_live_keys_and_vice_versa(pro, receiver):
    live = register(pro, receiver.url + "/hook")
    test = register(pro, receiver.url + "/hook", test=True)
    assert [e["id"] for e in pro.api.get("/account/webhooks").json()["data"]] == [live.id]
    assert [e["id"] for e in pro.test_api.get("/account/webhooks").json()["data"]] == [test.id]
    assert pro.api.get(f"/account/webhooks/{test.id}").status_code == 404
    assert test.livemode is False


def test_an_account_has_at_most_the_configured_number_of_endpoints(pro, receiver, settings):
    settings.AIPROD_WEBHOOK_MAX_ENDPOINTS = 2
    for _ in range(2):
        assert pro.api.post("/account/webhooks", {"url": receiver.url + "/hook"}).status_code == 201
    response = pro.api.post("/account/webhooks", {"url": receiver.url + "/hook"})
    assert response.status_code == 422 and response.json()["code"] == "WEBHOOK_LIMIT_REACHED"


def test_include_logs_adds_the_latest_deliveries_newest_first(pro, receiver, django_capture_on_commit_callbacks):
    endpoint = register(pro, receiver.url + "/hook")
    receiver.routes["/hook"] = 500
    with django_capture_on_commit_callbacks(execute=True):
        emit_account_event(pro.account, livemode=True, event_type="quota.warning", data={"percent": 80})
    body = pro.api.get("/account/webhooks?include_logs=true").json()
    logs = body["data"][0]["logs"]
    assert [entry["event"] for entry in logs] == ["quota.warning", "webhook.verification"]
    failed = logs[0]
    assert set(failed) >= {"id", "timestamp", "event", "status", "response_code", "error", "attempt", "duration_ms"}
    assert failed["status"] == "failed" and failed["response_code"] == 500
    assert failed["error"] == "500 Internal Server Error"
    assert failed["attempt"] == 2  # the first try and the immediate retry
    assert logs[1]["status"] == "delivered"
    assert "logs" not in pro.api.get("/account/webhooks").json()["data"][0]
    assert pro.api.get(f"/account/webhooks/{endpoint.id}?include_logs=true").json()["logs"] == logs
    assert pro.api.get("/account/webhooks?include_logs=maybe").status_code == 400


def test_include_logs_costs_the_same_queries_for_one_or_many_endpoints(pro, receiver, time_machine):
    # The maintenance switch is re-read (3 queries with its savepoint) by the
    # first request after its 2 s memo expires: the clock stands still, so both
    # counts are the endpoint's alone, however long the test takes.
    time_machine.move_to(timezone.now(), tick=False)
    register(pro, receiver.url + "/hook")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert pro.api.get("/account/webhooks?include_logs=true").status_code == 200
        return len(captured.captured_queries)

    one = queries()
    for _ in range(4):
        register(pro, receiver.url + "/hook")
    assert queries() == one


def test_redeliver_answers_only_post(pro):
    # GET used to fall through to the delivery's own handler.
    response = pro.api.get("/account/webhooks/deliveries/dlv_nope/redeliver")
    assert response.status_code == 405 and response.json()["code"] == "METHOD_NOT_ALLOWED"
