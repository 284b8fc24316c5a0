"""The admin console as a "Support" user: logged in through the real admin
login, posting the real action and change forms."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth.models import Group, User
from django.test import Client, RequestFactory
from django.utils import timezone

from accounts.models import Account, ApiKey, IpAllowlistEntry, RequestLog
from ops.models import Incident, MaintenanceMode
from ops.support import GROUP_NAME
from jobs.models import Job, JobStatus, JobTransition, Upload
from core.timefmt import month_start
from tests.admin_urls import admin_url
from tests.httpservers import serve
from tests.jobs.helpers import unique_name
from tests.webhooks.conftest import register
from webhooks.models import Delivery, WebhookEndpoint
from webhooks.services.events import emit_account_event

CURRENT = "/account/api-keys/current"
PASSWORD = "support-pass-123"


@pytest.fixture
def support(db) -> Client:
    user = User.objects.create_user("sam", "sam@aiprod.example", PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=GROUP_NAME))
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {"username": "sam", "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == "/admin/", response.content[:500]
    client.user = user
    return client


def post_action(client: Client, changelist: str, action: str, pks) -> None:
    response = client.post(changelist, {"action": action, "_selected_action": [str(pk) for pk in pks],
                                        "index": "0", "select_across": "0"})
    assert response.status_code == 302, response.content[:2000]


def logged(user, obj, flag=CHANGE) -> list[str]:
    return [
        entry.get_change_message()
        for entry in LogEntry.objects.filter(user=user, object_id=str(obj.pk), action_flag=flag)
    ]


def test_the_support_group_exists_after_migrate_with_no_user_group_or_delete_powers(db):
    permissions = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Group.objects.get(name=GROUP_NAME).permissions.select_related("content_type")
    }
    assert {"accounts.change_account", "accounts.view_apikey", "accounts.change_apikey", "accounts.view_requestlog",
            "aiprod.add_incident", "aiprod.change_maintenancemode", "admin.view_logentry"} <= permissions
    assert not {p for p in permissions if p.startswith(("auth.", "sessions.", "contenttypes.", "django_q."))}
    assert not {p for p in permissions if ".delete_" in p} - {"accounts.delete_ipallowlistentry"}
    assert not {p for p in permissions if ".add_" in p} - {
        "accounts.add_ipallowlistentry", "aiprod.add_incident", "aiprod.add_incidentupdate", "aiprod.add_maintenancewindow"}
    assert "accounts.change_requestlog" not in permissions and "admin.change_logentry" not in permissions


def test_support_cannot_open_the_user_or_group_admin(support):
    for path in ("/admin/auth/user/", "/admin/auth/user/add/", "/admin/auth/group/", admin_url(support.user)):
        assert support.get(path).status_code == 403, path
    assert "/admin/auth/" not in support.get("/admin/").content.decode()


def test_support_suspends_and_unsuspends_accounts_and_it_is_logged(support, free):
    post_action(support, "/admin/accounts/account/", "suspend", [free.account.pk])
    assert Account.objects.get(pk=free.account.pk).suspended
    assert free.api.get(CURRENT).json()["code"] == "ACCOUNT_SUSPENDED"
    assert logged(support.user, free.account) == ["Suspended via admin action"]

    post_action(support, "/admin/accounts/account/", "unsuspend", [free.account.pk])
    assert free.api.get(CURRENT).status_code == 200
    assert "Unsuspended via admin action" in logged(support.user, free.account)


def account_form(account: Account, **changes) -> dict:
    form = {
        "email": account.email, "name": account.name, "tier": account.tier,
        "jobs_per_month": "", "requests_per_second": "", "data_gb_per_month": "",
        "suspended_reason": "",
        "ip_allowlist-TOTAL_FORMS": "0", "ip_allowlist-INITIAL_FORMS": "0",
        "ip_allowlist-MIN_NUM_FORMS": "0", "ip_allowlist-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    form.update(changes)
    return form


def test_support_sets_tier_enterprise_limits_and_the_ip_allow_list_inline(support, free):
    path = admin_url(free.account)
    assert support.get(path).status_code == 200
    response = support.post(path, account_form(
        free.account, tier="enterprise", jobs_per_month="250000", requests_per_second="800",
        **{"ip_allowlist-TOTAL_FORMS": "1", "ip_allowlist-0-cidr": " 203.0.113.7 ", "ip_allowlist-0-account": free.account.pk},
    ))
    assert response.status_code == 302, response.content[:3000]
    account = Account.objects.get(pk=free.account.pk)
    assert (account.tier, account.jobs_per_month, account.requests_per_second) == ("enterprise", 250000, 800)
    assert list(IpAllowlistEntry.objects.filter(account=account).values_list("cidr", flat=True)) == ["203.0.113.7/32"]
    [message] = logged(support.user, account)
    assert "Tier" in message and "IP allow-list entry" in message


def test_a_malformed_allow_list_entry_is_refused_by_the_form(support, free):
    response = support.post(admin_url(free.account), account_form(
        free.account, **{"ip_allowlist-TOTAL_FORMS": "1", "ip_allowlist-0-cidr": "10.0.0.300",
                         "ip_allowlist-0-account": free.account.pk},
    ))
    assert response.status_code == 200
    assert b"Not an IPv4/IPv6 address or CIDR" in response.content
    assert not IpAllowlistEntry.objects.exists()


def test_support_cannot_link_an_account_to_a_login(support, free):
    other = User.objects.create_user("victim")
    support.post(admin_url(free.account), account_form(free.account, user=str(other.pk)))
    assert Account.objects.get(pk=free.account.pk).user is None


def test_support_revokes_keys_and_the_api_then_refuses_them(support, free):
    key = ApiKey.objects.get(account=free.account, environment="live")
    post_action(support, "/admin/accounts/apikey/", "revoke", [key.pk])
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    assert free.api.get(CURRENT).json()["code"] == "REVOKED_KEY"
    assert logged(support.user, key) == ["Revoked via admin action"]


def test_a_key_page_shows_the_prefix_never_the_hash_and_nothing_is_editable(support, free):
    key = ApiKey.objects.get(account=free.account, environment="live")
    html = support.get(admin_url(key)).content.decode()
    assert key.prefix in html
    assert key.key_hash not in html and free.key not in html
    assert 'name="scopes"' not in html and 'name="name"' not in html and 'name="expires_at_0"' not in html
    listing = support.get("/admin/accounts/apikey/").content.decode()
    assert key.prefix in listing and key.key_hash not in listing


def test_request_logs_are_read_only_and_searchable_by_request_id(support, free):
    free.api.get(CURRENT, headers={"X-Request-ID": "req_support_lookup_1"})
    row = RequestLog.objects.get(request_id="req_support_lookup_1")
    listing = support.get("/admin/accounts/requestlog/", {"q": "req_support_lookup_1"})
    assert listing.status_code == 200 and b"req_support_lookup_1" in listing.content
    page = support.get(admin_url(row))
    assert page.status_code == 200 and b'name="status"' not in page.content
    assert support.post(admin_url(row, "delete"), {"post": "yes"}).status_code == 403


def test_support_posts_an_incident_that_appears_on_the_status_page(support, anonymous):
    response = support.post("/admin/aiprod/incident/add/", {
        "name": "Elevated webhook failures", "status": "identified", "impact": "minor", "components": ["webhooks"],
        "updates-TOTAL_FORMS": "1", "updates-INITIAL_FORMS": "0", "updates-MIN_NUM_FORMS": "0",
        "updates-MAX_NUM_FORMS": "1000", "updates-0-status": "identified",
        "updates-0-body": "A receiver-side TLS change; retries are succeeding.", "_save": "Save",
    })
    assert response.status_code == 302, response.content[:3000]
    incident = Incident.objects.get()
    assert incident.components == ["webhooks"]
    body = anonymous.get("/api/status.json").json()
    assert body["status"]["indicator"] == "minor"
    assert body["incidents"][0]["incident_updates"][0]["body"].startswith("A receiver-side TLS change")
    assert LogEntry.objects.filter(user=support.user, object_id=incident.pk, action_flag=ADDITION).exists()

    post_action(support, "/admin/aiprod/incident/", "resolve", [incident.pk])
    assert Incident.objects.get().status == "resolved"
    assert anonymous.get("/api/status.json").json()["incidents"] == []
    assert logged(support.user, incident) == ["Resolved via admin action"]


def test_support_switches_maintenance_on_and_off_in_the_admin(support, free):
    response = support.get("/admin/aiprod/maintenancemode/")
    assert response.status_code == 302 and response["Location"].endswith("/admin/aiprod/maintenancemode/1/change/")
    until = timezone.now() + timedelta(minutes=15)
    response = support.post("/admin/aiprod/maintenancemode/1/change/", {
        "enabled": "on", "message": "Database upgrade",
        "until_0": until.strftime("%Y-%m-%d"), "until_1": until.strftime("%H:%M:%S"), "_save": "Save",
    })
    assert response.status_code == 302, response.content[:3000]
    api = free.api.get(CURRENT)
    assert api.status_code == 503 and api.json()["code"] == "MAINTENANCE"
    assert 1 <= int(api["Retry-After"]) <= 15 * 60
    assert support.get("/admin/").status_code == 200  # the admin keeps working
    switch = MaintenanceMode.objects.get()
    assert switch.updated_by == support.user

    support.post("/admin/aiprod/maintenancemode/1/change/", {"message": "", "until_0": "", "until_1": "", "_save": "Save"})
    assert free.api.get(CURRENT).status_code == 200
    assert len(logged(support.user, switch)) == 2


def test_support_sees_the_audit_trail_but_cannot_alter_it(support, free):
    post_action(support, "/admin/accounts/account/", "suspend", [free.account.pk])
    entry = LogEntry.objects.get(user=support.user)
    listing = support.get("/admin/admin/logentry/")
    assert listing.status_code == 200 and b"Suspended via admin action" in listing.content
    assert support.post(admin_url(entry, "delete"), {"post": "yes"}).status_code == 403
    assert LogEntry.objects.filter(pk=entry.pk).exists()


def test_support_can_use_the_jobs_and_webhooks_actions_but_never_sees_a_webhook_secret(support, free):
    endpoint = WebhookEndpoint.objects.create(account=free.account, url="https://example.com/hook",
                                              events=["job.completed"], secret="whsec_supersecretvalue123")
    page = support.get(admin_url(endpoint))
    assert page.status_code == 200
    assert b"whsec_supersecretvalue123" not in page.content
    assert b"whsec_supersecretvalue123" not in support.get("/admin/webhooks/webhookendpoint/").content
    # The actions Support needs are offered to it (the lists are empty here,
    # so ask the admin directly, with Support's own request).
    request = RequestFactory().get("/admin/")
    request.user = support.user
    assert "redeliver" in admin.site._registry[Delivery].get_actions(request)
    job_actions = admin.site._registry[Job].get_actions(request)
    assert "force_timeout" in job_actions and "retry" in job_actions


# --------------------------------------------------------------------------- jobs and webhooks, acted on

JOBS = "/admin/jobs/job/"


def make_job(account: Account, *, status: str = JobStatus.PENDING, type_name: str = "media.probe", **fields) -> Job:
    """A row straight into the table (the API path is tested in tests/jobs), as if a worker had had it."""
    now = timezone.now()
    attempted = 0 if status == JobStatus.PENDING else 1
    return Job.objects.create(
        account=account, name=unique_name(type_name), type=type_name, requested_type=type_name,
        status=status, input_url="https://example.com/in.png", timeout=300, created_month=month_start(now),
        attempted_count=attempted, started_at=now if attempted else None, last_activity_at=now, **fields,
    )


def changelist_ids(client: Client, query: dict) -> set[str]:
    response = client.get(JOBS, query)
    assert response.status_code == 200, response.content[:2000]
    return {job.pk for job in response.context["cl"].result_list}


def test_support_force_times_out_a_processing_job_and_it_is_logged(support, free):
    job = make_job(free.account, status=JobStatus.PROCESSING, worker_instance="worker-1:42")
    post_action(support, JOBS, "force_timeout", [job.pk])
    job.refresh_from_db()
    assert (job.status, job.error_code, job.error) == ("failed", "TIMEOUT", "Timeout: Forced by AIPROD support")
    assert job.cancel_requested  # its worker is told to stop
    last = JobTransition.objects.filter(job=job).last()
    assert (last.from_status, last.to_status, last.actor) == ("processing", "failed", "admin:sam")
    assert logged(support.user, job) == ["Force timeout via admin action"]
    # The customer sees who in general, never the staff member's name.
    seen = free.api.get(f"/jobs/{job.pk}/timeline").content.decode()
    assert "sam" not in seen
    change = [e for e in free.api.get(f"/jobs/{job.pk}/timeline").json()["data"] if e["kind"] == "state_change"][-1]
    assert (change["actor"], change["reason"]) == ("AIPROD support", "Timeout: Forced by AIPROD support")


def test_support_retries_a_failed_job_and_it_is_logged(support, free):
    job = make_job(free.account, status=JobStatus.FAILED, error="Timeout: stuck", error_code="TIMEOUT")
    post_action(support, JOBS, "retry", [job.pk])
    job.refresh_from_db()
    assert (job.status, job.error, job.error_code, job.attempt_base) == ("pending", None, None, 1)
    last = JobTransition.objects.filter(job=job).last()
    assert (last.from_status, last.to_status, last.actor) == ("failed", "pending", "admin:sam")
    assert logged(support.user, job) == ["Retry via admin action"]


def test_a_support_action_on_a_job_in_the_wrong_state_changes_nothing_and_logs_nothing(support, free):
    done = make_job(free.account, status=JobStatus.COMPLETED)
    post_action(support, JOBS, "force_timeout", [done.pk])
    post_action(support, JOBS, "retry", [done.pk])
    assert Job.objects.get(pk=done.pk).status == "completed"
    assert logged(support.user, done) == []


def test_support_filters_the_job_list_by_type(support, free):
    probe = make_job(free.account, type_name="media.probe")
    make_job(free.account, type_name="image.transform")
    assert changelist_ids(support, {"type": "media.probe"}) == {probe.pk}


def test_support_filters_the_job_list_by_account(support, free, pro):
    mine = make_job(free.account)
    make_job(pro.account)
    assert changelist_ids(support, {"account__id__exact": free.account.pk}) == {mine.pk}


@pytest.fixture
def receiver():
    """A real local webhook receiver answering 200 on /hook (scripted through ``receiver.routes``)."""
    with serve({"/hook": (200, {"Content-Type": "application/json"}, b'{"received": true}')}) as srv:
        yield srv


def test_support_redelivers_a_failed_delivery_to_the_receiver_and_it_is_logged(
    support, pro, receiver, settings, django_capture_on_commit_callbacks
):
    settings.AIPROD_WEBHOOK_RETRY_SCHEDULE = []  # the first failure is final
    settings.AIPROD_WEBHOOK_TIMEOUT = 1
    endpoint = register(pro, receiver.url + "/hook")
    receiver.routes["/hook"] = 500
    with django_capture_on_commit_callbacks(execute=True):
        emit_account_event(pro.account, livemode=True, event_type="quota.warning", data={})
    delivery = Delivery.objects.get(endpoint=endpoint, event_type="quota.warning")
    assert (delivery.status, delivery.attempt_count, delivery.response_code) == ("failed", 1, 500)
    sent_before = len(receiver.requests)

    receiver.routes["/hook"] = 200
    with django_capture_on_commit_callbacks(execute=True):
        post_action(support, "/admin/webhooks/delivery/", "redeliver", [delivery.pk])
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count, delivery.response_code) == ("delivered", 2, 200)
    assert list(delivery.attempts.order_by("number").values_list("number", "response_code")) == [(1, 500), (2, 200)]
    [redelivered] = receiver.requests[sent_before:]
    assert (redelivered.method, redelivered.path) == ("POST", "/hook")
    assert b"quota.warning" in redelivered.body
    assert logged(support.user, delivery) == ["Redelivered"]


def test_support_sees_the_worker_clusters_and_the_queue_progress(support):
    from django_q.conf import Conf

    from jobs.services import workers

    workers.beat("c-1", queue=Conf.CLUSTER_NAME, host="box", pid=10, worker_pids=[11, 12])
    response = support.get("/admin/jobs/workerheartbeat/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "1 cluster(s) alive, 2 worker process(es)" in page
    assert "re-queued after worker loss in the last hour: 0" in page
    assert "box" in page


def test_support_finds_a_direct_upload_by_account_email_or_job_id_but_cannot_change_it(support, free, pro):
    response = free.api.post("/uploads", {"filename": "notes.txt", "content_type": "text/plain"})
    assert response.status_code == 201, response.content
    upload = Upload.objects.get(pk=response.json()["id"])
    pro.api.post("/uploads", {"filename": "other.txt", "content_type": "text/plain"})
    other = Upload.objects.get(account=pro.account)
    for query in ({"q": free.account.email}, {"q": upload.job_id}, {"q": upload.pk},
                  {"used_at__isempty": "1", "kind": upload.kind, "livemode": "1", "q": free.account.email}):
        listing = support.get("/admin/jobs/upload/", query)
        assert listing.status_code == 200, query
        assert upload.pk in listing.content.decode() and other.pk not in listing.content.decode(), query
    assert support.get("/admin/jobs/upload/", {"storage_name__startswith": "jobs/"}).status_code == 400
    page = support.get(admin_url(upload))
    assert page.status_code == 200 and upload.job_id in page.content.decode()
    assert b'name="filename"' not in page.content
    assert support.post(admin_url(upload, "delete"), {"post": "yes"}).status_code == 403
    assert support.get("/admin/jobs/upload/add/").status_code == 403
