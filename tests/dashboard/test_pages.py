"""Every dashboard page renders for a logged-in customer, needs a login,
and refuses a POST without a CSRF token."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from ops.maintenance import set_maintenance
from tests.dashboard.conftest import make_job

PAGES = [
    ("/dashboard/", "Overview"),
    ("/dashboard/keys", "API Keys"),
    ("/dashboard/keys/new", "New Key"),
    ("/dashboard/jobs", "Jobs"),
    ("/dashboard/webhooks", "Webhooks"),
    ("/dashboard/logs", "Request logs"),
    ("/dashboard/security", "Security"),
    ("/dashboard/usage", "Usage"),
]


@pytest.mark.parametrize("path,heading", PAGES)
def test_each_page_renders_for_a_logged_in_customer(customer, path, heading):
    response = customer.client.get(path)
    assert response.status_code == 200, response.content[:500]
    html = response.content.decode()
    assert f"<h1>{heading}" in html
    assert 'aria-current="page"' in html or path == "/dashboard/keys/new"
    assert customer.account.email in html


@pytest.mark.parametrize("path,heading", PAGES)
def test_each_page_sends_an_anonymous_visitor_to_the_login(db, path, heading):
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/dashboard/login?next=")


def test_the_job_and_webhook_detail_pages_render(customer):
    job = make_job(customer.account)
    response = customer.client.get(f"/dashboard/jobs/{job.id}")
    assert response.status_code == 200
    assert job.name in response.content.decode()


def test_a_user_without_an_account_gets_an_explanation_not_an_error(db):
    user = get_user_model().objects.create_user("staff", "staff@example.com", "pw-for-staff")
    client = Client()
    client.force_login(user)
    response = client.get("/dashboard/")
    assert response.status_code == 403
    assert "No AIPROD account is linked" in response.content.decode()


def test_a_post_without_a_csrf_token_is_refused(customer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer.user)
    response = client.post("/dashboard/keys/new", {"name": "ci", "environment": "live", "scopes": ["jobs.read"],
                                                   "expires_in_days": "30"})
    assert response.status_code == 403
    assert customer.account.api_keys.filter(name="ci").count() == 0


def test_a_post_with_the_pages_csrf_token_is_accepted(customer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer.user)
    client.get("/dashboard/keys/new")
    token = client.cookies["csrftoken"].value
    response = client.post("/dashboard/keys/new", {"name": "ci", "environment": "live", "scopes": ["jobs.read"],
                                                   "expires_in_days": "30", "csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert customer.account.api_keys.filter(name="ci").count() == 1


def test_an_unknown_dashboard_page_is_not_a_500(customer):
    assert customer.client.get("/dashboard/jobs/job_doesnotexist").status_code == 404


def test_the_mode_switch_shows_test_data_and_a_banner(customer):
    live = make_job(customer.account, livemode=True, name="live-job")
    test = make_job(customer.account, livemode=False, name="test-job")
    html = customer.client.get("/dashboard/jobs").content.decode()
    assert live.name in html and test.name not in html and "Test mode" not in html

    response = customer.client.post("/dashboard/mode", {"mode": "test", "next": "/dashboard/jobs"})
    assert response.status_code == 302 and response["Location"] == "/dashboard/jobs"
    html = customer.client.get("/dashboard/jobs").content.decode()
    assert test.name in html and live.name not in html
    assert "Test mode" in html


def test_the_mode_switch_ignores_a_foreign_next(customer):
    response = customer.client.post("/dashboard/mode", {"mode": "test", "next": "https://evil.example/"})
    assert response["Location"] == "/dashboard/"


def test_a_suspended_account_can_look_but_not_change(customers):
    suspended = customers("pro", suspended=True)
    html = suspended.client.get("/dashboard/keys").content.decode()
    assert "suspended" in html
    response = suspended.client.post("/dashboard/keys/new", {"name": "x", "environment": "live",
                                                             "scopes": ["jobs.read"], "expires_in_days": "30"})
    assert response.status_code == 302
    assert suspended.account.api_keys.filter(name="x").count() == 0


def test_a_suspended_accounts_post_to_an_action_url_returns_to_the_page_not_a_405(customers):
    suspended = customers("pro", suspended=True)
    job = make_job(suspended.account, status="failed")
    page = f"/dashboard/jobs/{job.pk}"
    response = suspended.client.post(f"{page}/retry", HTTP_REFERER=f"http://testserver{page}")
    assert (response.status_code, response["Location"]) == (302, f"http://testserver{page}")
    followed = suspended.client.get(response["Location"])
    assert followed.status_code == 200 and "suspended" in followed.content.decode()
    job.refresh_from_db()
    assert job.status == "failed"


def test_in_maintenance_pages_stay_readable_and_changes_are_paused(customer):
    set_maintenance(enabled=True, message="Database upgrade")
    try:
        assert customer.client.get("/dashboard/keys").status_code == 200
        response = customer.client.post("/dashboard/keys/new", {"name": "x", "environment": "live",
                                                                "scopes": ["jobs.read"], "expires_in_days": "30"},
                                        follow=True)
        assert "Changes are paused: Database upgrade." in response.content.decode()
        assert customer.account.api_keys.filter(name="x").count() == 0
    finally:
        set_maintenance(enabled=False)


def test_a_suspended_account_can_still_switch_mode(customers):
    suspended = customers("pro", suspended=True)
    suspended.client.post("/dashboard/mode", {"mode": "test"})
    assert "Test mode" in suspended.client.get("/dashboard/keys").content.decode()
