"""GET /metrics in one process: who may scrape, and what the counters and gauges say.
(tests/core/test_observability_e2e.py scrapes real gunicorn workers and a qcluster.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from jobs.services import transitions
from quotas.models import MonthlyUsage
from core.timefmt import month_start
from tests.conftest import Api
from tests.httpservers import serve
from tests.webhooks.conftest import make_job, receiver, register  # noqa: F401 (receiver: a fixture)

TOKEN = "metrics-test-token"


def samples(text: str) -> dict:
    """{(sample name, frozenset of label pairs): value} of a scrape."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(scraped: dict, name: str, **labels) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def scraper(settings):
    settings.AIPROD_METRICS_TOKEN = TOKEN
    api = Api()

    def scrape() -> dict:
        response = api.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200, response.content
        return samples(response.content.decode())

    return scrape


def test_metrics_are_a_404_until_a_token_or_network_is_configured(anonymous, db):
    response = anonymous.get("/metrics")
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


def test_with_a_token_the_scrape_needs_it_as_a_bearer(anonymous, settings, db):
    settings.AIPROD_METRICS_TOKEN = TOKEN
    missing = anonymous.get("/metrics")
    assert missing.status_code == 401 and missing.json()["code"] == "MISSING_CREDENTIALS"
    assert missing["WWW-Authenticate"].startswith("Bearer")
    wrong = anonymous.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "INVALID_CREDENTIALS"
    ok = anonymous.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200
    assert ok["Content-Type"].startswith("text/plain")
    assert "# TYPE aiprod_http_requests_total counter" in ok.content.decode()


def test_an_allowed_network_scrapes_without_a_token_and_others_are_refused(anonymous, settings, db):
    import ipaddress

    settings.AIPROD_METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]
    refused = anonymous.get("/metrics")  # the test client comes from 127.0.0.1
    assert refused.status_code == 403 and refused.json()["code"] == "IP_NOT_ALLOWED"
    settings.AIPROD_METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]
    assert anonymous.get("/metrics").status_code == 200


def test_requests_are_counted_by_route_template_and_status_class(pro, scraper):
    before = scraper()
    for _ in range(3):
        assert pro.api.get("/jobs/job_doesnotexist").status_code == 404
    assert pro.api.get("/jobs").status_code == 200
    after = scraper()
    route = dict(method="GET", route="jobs/<str:job_id>", status="4xx")
    assert value(after, "aiprod_http_requests_total", **route) - value(before, "aiprod_http_requests_total", **route) == 3
    listing = dict(method="GET", route="jobs", status="2xx")
    assert value(after, "aiprod_http_request_duration_seconds_count", **listing) - value(
        before, "aiprod_http_request_duration_seconds_count", **listing) == 1
    # No label carries an id.
    assert not any("job_doesnotexist" in str(key) for key in after)


def test_rate_limit_and_quota_rejections_are_counted(personas, scraper):
    persona = personas("enterprise")  # its rate is the account's own setting
    persona.account.__class__.objects.filter(pk=persona.account.pk).update(requests_per_second=1)
    before = scraper()
    codes = [persona.api.get("/account/usage").status_code for _ in range(4)]
    assert codes.count(429) >= 2  # four requests span at most two one-second windows
    fresh = personas("free")
    MonthlyUsage.objects.create(account=fresh.account, month=month_start(), jobs_count=100)
    with serve({"/a.txt": (200, {"Content-Type": "text/plain"}, b"hi")}) as srv:
        refused = fresh.api.post("/jobs", {"name": "over", "input_url": srv.url + "/a.txt"})
    assert refused.status_code == 422 and refused.json()["code"] == "QUOTA_EXCEEDED"
    after = scraper()
    limited = value(after, "aiprod_rate_limit_rejections_total", limit="account") - value(
        before, "aiprod_rate_limit_rejections_total", limit="account")
    assert limited == codes.count(429)
    assert value(after, "aiprod_quota_rejections_total") - value(before, "aiprod_quota_rejections_total") == 1


def test_job_transitions_are_counted_with_type_error_code_and_processing_time(pro, scraper,
                                                                               django_capture_on_commit_callbacks):
    before = scraper()
    with django_capture_on_commit_callbacks(execute=True):
        done = transitions.claim_job(make_job(pro).id, worker="w1")
    done.started_at = timezone.now() - timedelta(seconds=3)  # the histogram sees 3 s of work
    with django_capture_on_commit_callbacks(execute=True):
        assert transitions.complete_job(done, output={})
    with django_capture_on_commit_callbacks(execute=True):
        failed = transitions.claim_job(make_job(pro, name="bad").id, worker="w1")
        assert transitions.fail_job(failed, code="INVALID_INPUT", message="Not a media file")
    after = scraper()

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("aiprod_jobs_completed_total", type="media.probe") == 1
    assert delta("aiprod_jobs_failed_total", type="media.probe", error_code="INVALID_INPUT") == 1
    assert delta("aiprod_job_processing_seconds_count", type="media.probe", status="completed") == 1
    assert delta("aiprod_job_processing_seconds_bucket", type="media.probe", status="completed", le="2.5") == 0
    assert delta("aiprod_job_processing_seconds_bucket", type="media.probe", status="completed", le="5.0") == 1


def test_jobs_created_through_the_api_are_counted(pro, scraper, transactional_db):
    before = scraper()
    with serve({"/a.txt": (200, {"Content-Type": "text/plain"}, b"hi")}) as srv:
        created = pro.api.post("/jobs", {"name": "counted", "input_url": srv.url + "/a.txt", "type": "document.extract_text"})
    assert created.status_code == 201, created.content
    after = scraper()
    assert value(after, "aiprod_jobs_created_total", type="document.extract_text") - value(
        before, "aiprod_jobs_created_total", type="document.extract_text") == 1


def test_queue_depth_and_oldest_pending_age_are_read_from_the_database(pro, scraper):
    old = make_job(pro, name="old")
    old.__class__.objects.filter(pk=old.pk).update(last_activity_at=timezone.now() - timedelta(minutes=10))
    make_job(pro, name="new")
    transitions.claim_job(make_job(pro, name="running").id, worker="w1")
    scraped = scraper()
    assert value(scraped, "aiprod_jobs_active", status="pending", type="media.probe") == 2
    assert value(scraped, "aiprod_jobs_active", status="processing", type="media.probe") == 1
    assert 600 <= value(scraped, "aiprod_jobs_oldest_pending_age_seconds") < 700
    assert value(scraped, "aiprod_queue_tasks") == 0  # sync mode in unit tests: nothing waits in the broker
    assert value(scraped, "aiprod_webhook_deliveries_due") == 0


def test_webhook_deliveries_due_are_a_gauge(pro, receiver, scraper):
    from webhooks.services.events import emit_account_event

    register(pro, receiver.url + "/hook")
    assert value(scraper(), "aiprod_webhook_deliveries_due") == 0
    # Not committed (the test's transaction), so never queued: due and waiting.
    emit_account_event(pro.account, livemode=True, event_type="quota.warning", data={"percent": 80})
    assert value(scraper(), "aiprod_webhook_deliveries_due") == 1


def test_webhook_attempts_are_counted_by_outcome_with_latency(pro, receiver, scraper):
    before = scraper()
    register(pro, receiver.url + "/hook")  # the verification is one delivered attempt
    receiver.routes["/hook"] = 500
    endpoint = register(pro, receiver.url + "/hook", verify=False)
    assert pro.api.post(f"/account/webhooks/{endpoint.id}/verify").status_code == 422
    after = scraper()
    for outcome in ("delivered", "failed"):
        assert value(after, "aiprod_webhook_deliveries_total", outcome=outcome) - value(
            before, "aiprod_webhook_deliveries_total", outcome=outcome) == 1
        assert value(after, "aiprod_webhook_delivery_duration_seconds_count", outcome=outcome) - value(
            before, "aiprod_webhook_delivery_duration_seconds_count", outcome=outcome) == 1


def test_metrics_answer_during_maintenance(anonymous, settings, db):
    from ops.maintenance import forget, set_maintenance

    settings.AIPROD_METRICS_TOKEN = TOKEN
    set_maintenance(enabled=True, message="Upgrading")
    try:
        assert anonymous.get("/account/usage").status_code == 503
        assert anonymous.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    finally:
        forget()


def test_metrics_are_in_the_openapi_document_as_text_without_an_api_key(anonymous):
    operation = anonymous.get("/openapi.json").json()["paths"]["/metrics"]["get"]
    ok = operation["responses"]["200"]
    assert list(ok["content"]) == ["text/plain"] and ok["content"]["text/plain"]["schema"]["type"] == "string"
    assert "X-RateLimit-Limit" not in ok["headers"]
    assert operation.get("security", []) == []
    assert {"401", "403", "404"} <= set(operation["responses"])
