"""Overview and Usage pages: the "Get started" card leads a new customer from
login to a first job and a webhook; the usage meters and charts show the
account's real usage against its plan's limits."""

from __future__ import annotations

import html
import json
import re
import shlex
from datetime import date, timedelta
from html.parser import HTMLParser
from urllib.parse import urlparse

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiKey, RequestLog
from accounts.services.api_keys import create_api_key
from jobs.models import Job
from quotas.models import MonthlyUsage
from accounts.plans import GB
from quotas.services import consume_data, reserve_job
from core.timefmt import month_start
from tests import media_factory
from tests.dashboard.conftest import make_job
from tests.httpservers import serve

MB = 1000**2


class _Elements(HTMLParser):
    """Every start tag's attributes, in document order."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def progressbars(page: str) -> dict[str, dict]:
    parser = _Elements()
    parser.feed(page)
    return {attrs["aria-label"]: attrs for _, attrs in parser.tags if attrs.get("role") == "progressbar"}


def get_started_card(page: str) -> str | None:
    match = re.search(r'<section class="card get-started".*?</section>', page, re.DOTALL)
    return match.group(0) if match else None


def curl_command(card: str) -> str:
    return html.unescape(re.search(r'<textarea id="first-job-curl"[^>]*>(.*?)</textarea>', card, re.DOTALL).group(1))


def run_curl(command: str, key: str, input_url: str):
    """Sends the request the card's curl command describes, through the test
    client, with the real key and input URL in place of the placeholders."""
    words = shlex.split(command.replace("\\\n", " "))
    assert words[:3] == ["curl", "-X", "POST"]
    url = urlparse(words[3])
    headers = dict(words[i + 1].split(": ", 1) for i, word in enumerate(words) if word == "-H")
    body = json.loads(words[words.index("-d") + 1])
    hint = headers.pop("X-API-Key")
    assert key.startswith(hint.removesuffix("…")), "the placeholder is the key's own prefix"
    body["input_url"] = input_url
    return Client().post(url.path, data=json.dumps(body), content_type=headers.pop("Content-Type"),
                         headers={"X-API-Key": key, **headers})


# --------------------------------------------------------------------------- Get started


def test_a_new_customer_sees_a_get_started_card_with_the_sites_own_base_url(customer):
    page = customer.client.get("/dashboard/", HTTP_HOST="localhost:8000").content.decode()
    card = get_started_card(page)
    assert card is not None
    command = curl_command(card)
    assert command.startswith("curl -X POST http://localhost:8000/jobs ")
    assert '"type": "media.probe"' in command and '"name": "first job"' in command

    secure = customer.client.get("/dashboard/", secure=True).content.decode()
    assert curl_command(get_started_card(secure)).startswith("curl -X POST https://testserver/jobs ")


def test_the_card_shows_the_keys_prefix_and_never_a_whole_key(customer):
    page = customer.client.get("/dashboard/").content.decode()
    live, test = customer.persona.key, customer.persona.test_key
    assert live not in page and test not in page
    assert f'-H "X-API-Key: {live[:12]}…"' in curl_command(get_started_card(page))

    customer.client.post("/dashboard/mode", {"mode": "test"})
    page = customer.client.get("/dashboard/").content.decode()
    assert live not in page and test not in page
    assert f'-H "X-API-Key: {test[:12]}…"' in curl_command(get_started_card(page))


def test_the_card_links_to_the_docs_a_new_key_the_jobs_and_the_webhooks(customer):
    card = get_started_card(customer.client.get("/dashboard/").content.decode())
    links = dict((html.unescape(text), href) for href, text in re.findall(r'<a href="([^"]+)">([^<]+)</a>', card))
    assert links["API docs"] == reverse("docs") == "/docs"
    assert links["Create a new key"] == reverse("dashboard:key_new")
    assert links["Jobs"] == reverse("dashboard:jobs")
    assert links["Add and verify a webhook endpoint"] == reverse("dashboard:webhooks")
    assert 'data-copy="#first-job-curl"' in card


def test_the_cards_curl_command_is_a_request_the_api_accepts(customer, tmp_path):
    command = curl_command(get_started_card(customer.client.get("/dashboard/").content.decode()))
    clip = open(media_factory.make_mp4(tmp_path / "clip.mp4", seconds=0.2), "rb").read()
    with serve({"/clip.mp4": (200, {"Content-Type": "video/mp4"}, clip)}) as files:
        response = run_curl(command, customer.persona.key, files.url + "/clip.mp4")
    assert response.status_code == 201, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert (job.account_id, job.livemode, job.type, job.name) == (customer.account.id, True, "media.probe", "first job")


def test_without_a_key_that_can_create_jobs_the_card_says_to_create_one(customer):
    now = timezone.now()
    ApiKey.objects.filter(account=customer.account, environment="live").update(revoked_at=now)
    reader, _ = create_api_key(customer.account, environment="live", name="reader", scopes=["jobs.read"])
    card = get_started_card(customer.client.get("/dashboard/").content.decode())
    assert "No key of this mode can create jobs yet" in card
    assert '<a href="/dashboard/keys/new">create a key</a>' in card
    assert '-H "X-API-Key: sk_live_…"' in curl_command(card)
    assert reader.prefix not in card


def test_the_card_stays_after_a_failed_job_and_goes_after_a_completed_one(customer):
    make_job(customer.account, status="failed")
    make_job(customer.account, livemode=False, status="completed", completed_at=timezone.now())
    assert get_started_card(customer.client.get("/dashboard/").content.decode()) is not None

    make_job(customer.account, status="completed", completed_at=timezone.now())
    assert get_started_card(customer.client.get("/dashboard/").content.decode()) is None
    customer.client.post("/dashboard/mode", {"mode": "test"})
    assert get_started_card(customer.client.get("/dashboard/").content.decode()) is None


# --------------------------------------------------------------------------- usage meters


def _requests_in_one_second(account, at, count: int) -> None:
    RequestLog.objects.bulk_create(
        RequestLog(request_id=f"req_{at:%H%M%S}_{i}", account=account, created_at=at, method="GET", path="/jobs",
                   status=200)
        for i in range(count)
    )


def test_the_overview_meters_show_this_months_usage_against_the_plan(customers):
    free = customers("free")  # 100 jobs, 1 GB, 10 requests/s
    for _ in range(30):
        reserve_job(free.account, livemode=True)
    reserve_job(free.account, livemode=False)  # test mode counts against no quota
    consume_data(free.account, livemode=True, nbytes=250 * MB)
    busiest = (timezone.now() - timedelta(minutes=10)).replace(microsecond=0)
    _requests_in_one_second(free.account, busiest, 4)
    _requests_in_one_second(free.account, busiest + timedelta(seconds=1), 2)
    _requests_in_one_second(free.account, busiest - timedelta(hours=2), 9)  # outside the last hour

    bars = progressbars(free.client.get("/dashboard/").content.decode())
    assert list(bars) == ["Jobs this month", "Data this month", "Peak request rate"]
    facts = {label: (b["aria-valuemin"], b["aria-valuemax"], b["aria-valuenow"], b["aria-valuetext"])
             for label, b in bars.items()}
    assert facts == {
        "Jobs this month": ("0", "100", "30", "30 of 100 (30%)"),
        "Data this month": ("0", "100", "25", "250 MB of 1 GB (25%)"),
        "Peak request rate": ("0", "100", "40", "4/s of 10/s (40%)"),
    }


def test_a_meter_past_its_limit_stays_a_valid_progressbar_and_warns(customers):
    free = customers("free")
    _requests_in_one_second(free.account, timezone.now().replace(microsecond=0) - timedelta(seconds=5), 15)
    page = free.client.get("/dashboard/").content.decode()
    rate = progressbars(page)["Peak request rate"]
    assert (rate["aria-valuenow"], rate["aria-valuemax"]) == ("100", "100")
    assert rate["aria-valuetext"] == "15/s of 10/s (100%)"
    assert page.count("meter meter-danger") == 1 and page.count("meter meter-ok") == 2


def test_an_empty_month_shows_zero_of_each_limit(customer):  # pro: 10,000 jobs, 100 GB, 100/s
    bars = progressbars(customer.client.get("/dashboard/").content.decode())
    assert [(b["aria-valuenow"], b["aria-valuetext"]) for b in bars.values()] == [
        ("0", "0 of 10,000 (0%)"), ("0", "0 B of 100 GB (0%)"), ("0", "0/s of 100/s (0%)"),
    ]


# --------------------------------------------------------------------------- usage charts


def _chart(page: str, chart_id: str) -> tuple[str, dict[str, str]]:
    """The chart's title and its description as {bar label: value}."""
    svg = re.search(rf'<svg [^>]*aria-labelledby="{chart_id}-t {chart_id}-d"[^>]*>(.*?)</svg>', page, re.DOTALL)
    assert svg is not None, f"no inline svg {chart_id}"
    assert 'role="img"' in svg.group(0)
    title = html.unescape(re.search(rf'<title id="{chart_id}-t">(.*?)</title>', svg.group(1)).group(1))
    desc = html.unescape(re.search(rf'<desc id="{chart_id}-d">(.*?)</desc>', svg.group(1)).group(1))
    return title, dict(item.split(": ") for item in desc.split("; "))


def _previous_month(month: date) -> date:
    return (month - timedelta(days=1)).replace(day=1)


def test_the_usage_page_charts_jobs_and_data_per_month_as_inline_svg(customers):
    free = customers("free")
    for _ in range(3):
        reserve_job(free.account, livemode=True)
    consume_data(free.account, livemode=True, nbytes=250 * MB)
    this_month = month_start()
    last_month = _previous_month(this_month)
    MonthlyUsage.objects.create(account=free.account, month=last_month, jobs_count=42, data_bytes=GB)

    page = free.client.get("/dashboard/usage").content.decode()

    title, jobs = _chart(page, "chart-jobs")
    assert title == "Jobs per month (live)"
    assert len(jobs) == 12
    assert list(jobs)[-2:] == [f"{last_month:%b}", f"{this_month:%b}"]
    assert (jobs[f"{last_month:%b}"], jobs[f"{this_month:%b}"]) == ("42", "3")
    assert sum(int(v) for v in jobs.values()) == 45

    title, data = _chart(page, "chart-data")
    assert title == "Data per month (live)"
    assert (data[f"{last_month:%b}"], data[f"{this_month:%b}"]) == ("1 GB", "250 MB")

    title, days = _chart(page, "chart-daily")
    assert title == "Jobs created per day, last 30 days"
    assert len(days) == 31  # every date from 30 days ago to today
