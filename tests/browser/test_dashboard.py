"""The dashboard in a real browser: what a customer clicks, and what the API then does."""

from __future__ import annotations

import requests

from accounts.models import Account
from tests.dashboard.conftest import PASSWORD, make_customer
from tests.httpservers import serve
from webhooks.models import WebhookEndpoint


def test_a_new_key_works_on_the_api_until_it_is_revoked(page, live_server):
    customer = make_customer("pro")
    page.login(customer.user.username, PASSWORD)
    page.find("nav.sidenav").find_element("link text", "API Keys").click()
    page.click_button("New Key")
    page.fill("#id_name", "browser key")
    page.click_button("Create key")

    assert "shown only this once" in page.text()
    key = page.find("#new-key").get_attribute("value")
    assert key.startswith("sk_live_")
    page.find("[data-copy]").click()
    assert page.find(".copy-status").text  # copied, or told how to copy

    answer = requests.get(f"{live_server.url}/account/api-keys/current", headers={"X-API-Key": key}, timeout=10)
    assert answer.status_code == 200 and answer.json()["name"] == "browser key"

    page.click_button("I have copied it")
    row = next(r for r in page.find_all("tbody tr") if "browser key" in r.text)
    assert key not in page.text() and key[:12] in row.text
    row.find_element("partial link text", "Revoke").click()
    page.click_button("Revoke key")
    assert "is revoked" in page.text()

    answer = requests.get(f"{live_server.url}/account/api-keys/current", headers={"X-API-Key": key}, timeout=10)
    assert answer.status_code == 401
    assert answer.json()["code"] == "REVOKED_KEY"


def test_the_log_filter_shows_only_errors(page, live_server):
    customer = make_customer("pro")
    headers = {"X-API-Key": customer.persona.key}
    ok = requests.get(f"{live_server.url}/account/api-keys/current", headers=headers, timeout=10)
    bad = requests.get(f"{live_server.url}/account/api-keys/key_missing", headers=headers, timeout=10)
    assert bad.status_code == 404

    page.login(customer.user.username, PASSWORD)
    page.visit("/dashboard/logs")
    assert ok.headers["X-Request-ID"] in page.text() and bad.headers["X-Request-ID"] in page.text()
    page.find("#id_errors").click()
    page.click_button("Filter")
    assert bad.headers["X-Request-ID"] in page.text()
    assert ok.headers["X-Request-ID"] not in page.text()
    assert "NOT_FOUND" in page.text()


def test_an_address_is_added_to_the_allow_list_and_the_lockout_guard_speaks(page):
    customer = make_customer("pro")
    page.login(customer.user.username, PASSWORD)
    page.visit("/dashboard/security")
    assert page.find("[data-testid=client-ip]").text == "127.0.0.1"
    page.fill("#id_ip", "203.0.113.0/24")
    page.click_button("Add", within="form.add-form")
    assert "203.0.113.0/24 added" in page.text()
    assert "203.0.113.0/24" in page.find("table").text

    page.click_button("Turn the allow-list on")
    assert "would block your own address (127.0.0.1)" in page.text()
    assert not Account.objects.get(pk=customer.account.pk).ip_allowlist_enabled

    page.click_button("Add my address")
    page.click_button("Turn the allow-list on")
    assert "The allow-list is on" in page.text()
    assert Account.objects.get(pk=customer.account.pk).ip_allowlist_enabled


def test_a_registered_webhook_is_verified_and_its_deliveries_listed(page, settings):
    settings.AIPROD_WEBHOOK_TIMEOUT = 2
    customer = make_customer("pro")
    with serve({"/hook": (200, {"Content-Type": "application/json"}, b'{"ok": true}')}) as receiver:
        page.login(customer.user.username, PASSWORD)
        page.visit("/dashboard/webhooks")
        page.fill("#id_url", receiver.url + "/hook")
        page.click_button("Add endpoint")
        assert "Not verified yet" in page.text()

        page.click_button("Verify")
        assert "Verified: the endpoint answered HTTP 200" in page.text()
        page.click_button("Send test event")
        assert "delivered: HTTP 200" in page.text()

        deliveries = page.find("table").text
        assert "webhook.verification" in deliveries and "job.completed" in deliveries and "200" in deliveries
        assert [r.headers["X-AIPROD-Event"] for r in receiver.requests] == ["webhook.verification", "job.completed"]
    assert WebhookEndpoint.objects.get(account=customer.account).status == "verified"


def test_the_mode_switch_and_the_phone_layout(page, chromium):
    customer = make_customer("pro")
    page.login(customer.user.username, PASSWORD)
    page.visit("/dashboard/keys")
    page.click_button("Test", within=".mode-switch")
    assert "Test mode" in page.text("body")
    assert customer.persona.test_key[:12] in page.text()
    try:
        chromium.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                 {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
        page.visit("/dashboard/keys")
        assert page.find("nav.sidenav").is_displayed()
        # No sideways scrolling of the page itself on a phone: tables stack into cards.
        assert chromium.execute_script("return document.documentElement.scrollWidth") <= 390
        assert not page.find("table thead").is_displayed()
    finally:
        chromium.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_the_jobs_tables_error_column_is_in_view_at_1280_pixels(page, chromium):
    from tests.dashboard.conftest import make_job

    customer = make_customer("pro")
    make_job(customer.account, name="nightly-export-" + "x" * 70 + ".mp4", type="document.extract_text",
             error="Unsupported Content-Type: audio.transcribe does not take image input (image/png); "
                   "https://cdn.example.com/" + "a" * 60, error_code="UNSUPPORTED_INPUT")
    page.login(customer.user.username, PASSWORD)
    page.visit("/dashboard/jobs")
    assert chromium.execute_script("return window.innerWidth") == 1280
    wrap = page.find(".table-wrap")
    # Nothing to scroll sideways, and the error cell ends inside the visible table.
    assert chromium.execute_script("return arguments[0].scrollWidth <= arguments[0].clientWidth", wrap)
    right = chromium.execute_script("return arguments[0].getBoundingClientRect().right", wrap)
    cell = page.find("td.cell-error")
    assert chromium.execute_script("return arguments[0].getBoundingClientRect().right", cell) <= right
    assert "UNSUPPORTED_INPUT" in cell.text
