"""Jobs pages: scoped list and detail, the timeline, retry and cancel through the jobs services."""

from jobs.models import Job, JobTransition
from tests.dashboard.conftest import make_customer, make_job


def test_the_list_filters_by_status_and_type(customer):
    failed = make_job(customer.account, status="failed", name="broken")
    done = make_job(customer.account, status="completed", name="fine", type="image.transform")
    html = customer.client.get("/dashboard/jobs?status=failed").content.decode()
    assert failed.name in html and done.name not in html
    html = customer.client.get("/dashboard/jobs?type=image.transform").content.decode()
    assert done.name in html and failed.name not in html


def test_a_bad_filter_is_a_message_not_a_500(customer):
    response = customer.client.get("/dashboard/jobs?status=exploded&created_after=yesterday")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Must be one of: pending, processing" in html
    assert "Must be an ISO 8601 date" in html


def test_the_list_pages_with_a_cursor(customer):
    for n in range(27):
        make_job(customer.account, name=f"bulk-{n:02d}")
    first = customer.client.get("/dashboard/jobs").content.decode()
    assert "Older jobs" in first
    cursor = first.split("?cursor=", 1)[1].split('"', 1)[0]
    second = customer.client.get(f"/dashboard/jobs?cursor={cursor}").content.decode()
    assert "bulk-00" in second and "bulk-26" not in second


def test_another_accounts_job_is_a_404(customer, db):
    theirs = make_job(make_customer("pro").account)
    assert customer.client.get(f"/dashboard/jobs/{theirs.id}").status_code == 404
    assert customer.client.post(f"/dashboard/jobs/{theirs.id}/retry").status_code == 404
    assert Job.objects.get(pk=theirs.pk).status == "failed"


def test_a_test_mode_job_is_a_404_in_live_mode(customer):
    job = make_job(customer.account, livemode=False)
    assert customer.client.get(f"/dashboard/jobs/{job.id}").status_code == 404
    customer.client.post("/dashboard/mode", {"mode": "test"})
    assert customer.client.get(f"/dashboard/jobs/{job.id}").status_code == 200


def test_the_detail_shows_the_error_and_the_timeline(customer):
    job = make_job(customer.account)
    JobTransition.objects.create(job=job, from_status="processing", to_status="failed", actor="worker",
                                 attempt=1, reason="Invalid input: URL returned HTTP 403", error_code="INPUT_FETCH_FAILED")
    customer.persona.api.get(f"/jobs/{job.id}")  # an API request that touched it, when the jobs API is mounted
    html = customer.client.get(f"/dashboard/jobs/{job.id}").content.decode()
    assert "Invalid input: URL returned HTTP 403" in html
    assert "processing → failed" in html
    assert "&quot;object&quot;: &quot;job&quot;" in html  # the API's job object, escaped in a <pre>


def test_retry_puts_a_failed_job_back_to_pending(customer):
    job = make_job(customer.account)
    response = customer.client.post(f"/dashboard/jobs/{job.id}/retry")
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == "pending"
    transition = JobTransition.objects.filter(job=job).last()
    assert transition.actor == f"dashboard:{customer.user.username}"


def test_cancel_stops_a_pending_job(customer):
    job = make_job(customer.account, status="pending")
    customer.client.post(f"/dashboard/jobs/{job.id}/cancel")
    job.refresh_from_db()
    assert job.status == "cancelled"


def test_retrying_a_completed_job_says_why_not(customer):
    job = make_job(customer.account, status="completed")
    response = customer.client.post(f"/dashboard/jobs/{job.id}/retry", follow=True)
    assert response.status_code == 200
    assert "only failed or cancelled jobs can be retried" in response.content.decode()
    assert Job.objects.get(pk=job.pk).status == "completed"


def test_the_overview_lists_recent_failures(customer):
    make_job(customer.account, name="went-wrong")
    customer.persona.api.get("/account/api-keys/key_missing")
    html = customer.client.get("/dashboard/").content.decode()
    assert "went-wrong" in html
    assert "/account/api-keys/key_missing" in html


def test_a_completed_job_links_its_signed_output(customer):
    job = make_job(customer.account, status="completed", output_file="outputs/x.txt", output={"chars": 3})
    html = customer.client.get(f"/dashboard/jobs/{job.id}").content.decode()
    assert f"/jobs/{job.id}/output?token=" in html
    assert "Download output" in html


def test_the_timeline_links_a_jobs_webhook_deliveries(customer, settings):
    from tests.httpservers import serve
    from jobs.serializers import job_data
    from webhooks.services.events import emit_job_event

    settings.AIPROD_WEBHOOK_TIMEOUT = 2
    with serve({"/hook": 200}) as receiver:
        job = make_job(customer.account, webhook_url=receiver.url + "/hook")
        emit_job_event(job, "job.failed", job_data(job, for_webhook=True))
        html = customer.client.get(f"/dashboard/jobs/{job.id}").content.decode()
    assert "/dashboard/webhooks/deliveries/dlv_" in html
