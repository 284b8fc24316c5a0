"""`make screenshots`: a PNG of every dashboard page at desktop (1280×800) and
phone (390×844) size, into docs/screenshots/.

Starts the app on a fresh SQLite database (var/screenshots.sqlite3) in this
process, seeds a demo customer through the services (keys, jobs, a webhook
endpoint verified against a local receiver, API requests that fill the log),
logs in with Debian's headless Chromium and visits each page.
"""

from __future__ import annotations

import os
import secrets
import sys
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
DB = ROOT / "var" / "screenshots.sqlite3"
SIZES = {"desktop": (1280, 800, False), "phone": (390, 844, True)}
PASSWORD = "screenshots-demo-password"

sys.path.insert(0, str(ROOT))
os.environ.update(
    DJANGO_SETTINGS_MODULE="aiprod.settings",
    DATABASE_URL=f"sqlite:///{DB}",
    AIPROD_ALLOW_INSECURE_URLS="1",  # the local webhook receiver is http://127.0.0.1
    AIPROD_Q_SYNC="1",  # queued work (redeliveries) runs inline: no worker here
    REDIS_URL="",
    DJANGO_SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50),
)


def setup_django() -> None:
    import django
    from django.core.management import call_command

    DB.parent.mkdir(parents=True, exist_ok=True)
    DB.unlink(missing_ok=True)
    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def seed(receiver_url: str) -> dict:
    """A Pro customer with a few weeks of history. Returns ids the pages need."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from accounts.services.accounts import create_account
    from accounts.services.api_keys import create_api_key, revoke_api_key
    from jobs.models import Job, JobTransition
    from core.timefmt import month_start
    from quotas.models import MonthlyUsage
    from webhooks.services import delivery, endpoints

    user = get_user_model().objects.create_user("maya@acme.example", "maya@acme.example", PASSWORD)
    account = create_account(email="maya@acme.example", name="Acme Media", tier="pro", user=user)
    _, live = create_api_key(account, name="production")
    create_api_key(account, name="CI (read only)", scopes=["jobs.read", "account.read"], expires_in_days=90)
    old, _ = create_api_key(account, name="old laptop")
    revoke_api_key(old)
    create_api_key(account, environment="test", name="local development")

    api = Client(HTTP_X_API_KEY=live)
    for path in ("/account/api-keys/current", "/account/usage", "/jobs", "/account/logs", "/jobs/job_doesnotexist"):
        api.get(path)
    api.post("/jobs", {"name": "bad", "input_url": "ftp://example.com/a.mp4", "timeout": "60"},
             content_type="application/json")
    api.get("/account/security", REMOTE_ADDR="198.51.100.23")

    now = timezone.now()
    kinds = [
        ("podcast-episode-42", "audio.transcribe", "completed", None),
        ("hero-image-webp", "image.transform", "completed", None),
        ("launch-video-720p", "video.convert", "processing", None),
        ("contract-scan", "document.extract_text", "failed", ("INPUT_FETCH_FAILED", "Invalid input: URL returned HTTP 403")),
        ("trailer-thumbnail", "video.thumbnail", "pending", None),
        ("interview-raw", "audio.transcribe", "failed", ("TIMEOUT", "Timeout: Job exceeded 1800s limit")),
        ("catalog-probe", "media.probe", "cancelled", None),
    ]
    jobs = []
    for n, (name, type_, status, error) in enumerate(kinds):
        created = now - timedelta(hours=3 * n + 1)
        done = status in ("completed", "failed", "cancelled")
        job = Job.objects.create(
            account=account, livemode=True, name=name, type=type_, requested_type="auto", status=status,
            input_url=f"https://media.acme.example/in/{name}", input_filename=f"{name}.bin", timeout=1800,
            created_at=created, created_month=month_start(created), last_activity_at=created + timedelta(seconds=40),
            started_at=created + timedelta(seconds=2) if status != "pending" else None,
            completed_at=created + timedelta(seconds=40) if done else None,
            duration_ms=38000 if done else None, attempted_count=0 if status == "pending" else 1,
            worker_instance="worker-1:4242" if status != "pending" else None,
            output={"text_chars": 18234, "words": 3120} if status == "completed" else None,
            error=error[1] if error else None, error_code=error[0] if error else None,
            metadata={"customer": "acme", "batch": "2026-11"},
        )
        JobTransition.objects.create(job=job, from_status=None, to_status="pending", at=created, actor="api")
        if status != "pending":
            JobTransition.objects.create(job=job, from_status="pending", to_status="processing", actor="worker",
                                         worker="worker-1:4242", attempt=1, at=created + timedelta(seconds=2))
        if done:
            JobTransition.objects.create(job=job, from_status="processing", to_status=status, actor="worker",
                                         worker="worker-1:4242", attempt=1, at=created + timedelta(seconds=40),
                                         reason=error[1] if error else "", error_code=error[0] if error else None)
        jobs.append(job)
        api.get(f"/jobs/{job.id}")

    this_month = month_start(now)
    year, month = this_month.year, this_month.month
    for back, (count, gb) in enumerate([(1840, 31.5), (1510, 24.2), (1630, 27.9), (980, 15.1), (1220, 19.4),
                                        (860, 12.0), (640, 9.8), (410, 6.2), (300, 4.1), (150, 2.0), (90, 1.1)]):
        MonthlyUsage.objects.update_or_create(
            account=account, month=date(year, month, 1), defaults={"jobs_count": count, "data_bytes": int(gb * 1e9)}
        )
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)

    good = endpoints.create_endpoint(account, livemode=True, url=receiver_url + "/hook",
                                     events=["job.completed", "job.failed"])
    delivery.verify_endpoint(good)
    for event in ("job.completed", "job.failed", "job.completed"):
        delivery.send_test_event(good, event)
    broken = endpoints.create_endpoint(account, livemode=True, url=receiver_url + "/broken")
    delivery.verify_endpoint(broken)
    endpoints.deactivate(broken.id, "Every delivery failed for 5 days (last: 500 Internal Server Error)")
    return {"job": jobs[3].id, "endpoint": good.id, "key": old.id}


def shoot(driver, base: str, name: str, path: str, mobile: bool, width: int, height: int, before=None) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})
    driver.get(base + path)
    if before:
        before(driver)
    target = OUT / f"{name}-{'phone' if mobile else 'desktop'}.png"
    driver.save_screenshot(str(target))
    print(f"  {target.relative_to(ROOT)}")


def main() -> int:
    from tests.browser.conftest import browser_missing_reason, start_chromium

    reason = browser_missing_reason()
    if reason:
        print(f"screenshots: {reason}", file=sys.stderr)
        return 1
    setup_django()
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test.testcases import LiveServerThread

    from tests.httpservers import serve

    OUT.mkdir(parents=True, exist_ok=True)
    with serve({"/hook": (200, {}, b"ok"), "/broken": 500}) as receiver:
        ids = seed(receiver.url)
        server = LiveServerThread("127.0.0.1", StaticFilesHandler, port=0)
        server.daemon = True
        server.start()
        server.is_ready.wait()
        if server.error:
            raise server.error
        base = f"http://127.0.0.1:{server.port}"
        driver = start_chromium()
        try:
            def new_key(d):
                d.find_element("css selector", "#id_name").send_keys("staging")
                d.find_element("css selector", "form.form button[type=submit]").click()

            def submit_and_wait(d, selector):
                # The form posts and the page reloads: wait until the old page is gone.
                from selenium.webdriver.support.ui import WebDriverWait

                from tests.browser.conftest import _left_the_page

                old = d.find_element("css selector", "html")
                d.find_element("css selector", selector).click()
                WebDriverWait(d, 10).until(lambda driver: _left_the_page(old))
                WebDriverWait(d, 10).until(lambda driver: driver.execute_script("return document.readyState") == "complete")

            def test_mode(d):
                submit_and_wait(d, ".mode-switch button[value=test]")

            def lockout(d):
                d.find_element("css selector", "#id_ip").send_keys("203.0.113.0/24")
                submit_and_wait(d, "form.add-form button[type=submit]")
                submit_and_wait(d, ".toggle-form button[type=submit]")

            pages = [
                ("overview", "/dashboard/", None),
                ("keys", "/dashboard/keys", None),
                ("key-new", "/dashboard/keys/new", None),
                ("key-created", "/dashboard/keys/new", new_key),
                ("key-revoke", f"/dashboard/keys/{ids['key']}/revoke", None),
                ("jobs", "/dashboard/jobs", None),
                ("job-detail", f"/dashboard/jobs/{ids['job']}", None),
                ("webhooks", "/dashboard/webhooks", None),
                ("webhook-detail", f"/dashboard/webhooks/{ids['endpoint']}", None),
                ("logs", "/dashboard/logs", None),
                ("security", "/dashboard/security", lockout),
                ("usage", "/dashboard/usage", None),
                # Last: it leaves the session in test mode, where no job has completed yet.
                ("get-started", "/dashboard/", test_mode),
            ]
            for mode, (width, height, mobile) in SIZES.items():
                driver.delete_all_cookies()
                shoot(driver, base, "login", "/dashboard/login", mobile, width, height)
                driver.find_element("css selector", "#id_username").send_keys("maya@acme.example")
                driver.find_element("css selector", "#id_password").send_keys(PASSWORD)
                driver.find_element("css selector", "form button[type=submit]").click()
                for name, path, before in pages:
                    shoot(driver, base, name, path, mobile, width, height, before)
                # Security again, clean, for the phone shot that ends the list.
        finally:
            driver.quit()
            server.terminate()
    print(f"Screenshots in {OUT.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
