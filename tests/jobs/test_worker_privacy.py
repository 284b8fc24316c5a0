"""Customers see a worker as an opaque label, never its `host:pid`: in the job
object, the timeline, the dashboard and webhook payloads. The admin keeps the
real `host:pid`."""

from __future__ import annotations

import os
import re
import socket

from django.contrib.auth.models import User
from django.test import Client

from jobs import tasks
from jobs.models import Job
from jobs.serializers import public_worker
from tests.admin_urls import admin_url
from tests.dashboard.conftest import make_customer
from tests.jobs.helpers import create_job, created
from webhooks.models import Event

HOST_PID = f"{socket.gethostname()}:{os.getpid()}"


def leaks_the_worker(text: str) -> bool:
    return HOST_PID in text or f"{socket.gethostname()}:" in text or f":{os.getpid()}" in text


def test_a_job_run_by_a_real_worker_names_it_by_an_opaque_label_only(db, files):
    customer = make_customer("pro")
    api = customer.persona.api
    job_id = created(create_job(api, files, "pic.png", type="media.probe"))["id"]
    assert tasks.run_job(job_id) == "completed"
    assert Job.objects.get(pk=job_id).worker_instance == HOST_PID  # stored for staff

    job = api.get(f"/jobs/{job_id}")
    assert re.fullmatch(r"worker_[0-9a-f]{12}", job.json()["worker_instance"])
    assert not leaks_the_worker(job.content.decode())

    timeline = api.get(f"/jobs/{job_id}/timeline")
    assert timeline.status_code == 200
    workers = {e["worker"] for e in timeline.json()["data"] if e["kind"] == "state_change" and e["worker"]}
    assert workers == {job.json()["worker_instance"]}
    assert not leaks_the_worker(timeline.content.decode())

    page = customer.client.get(f"/dashboard/jobs/{job_id}")
    assert page.status_code == 200 and job.json()["worker_instance"] in page.content.decode()
    assert not leaks_the_worker(page.content.decode())

    for event in Event.objects.filter(job_id=job_id):
        assert not leaks_the_worker(event.body)


def test_one_worker_has_one_label_and_two_workers_two():
    assert public_worker("host-a:10") == public_worker("host-a:10")
    assert public_worker("host-a:10") != public_worker("host-a:11")
    assert public_worker(None) is None


def test_the_admin_shows_staff_the_real_host_and_pid(db, files):
    customer = make_customer("pro")
    job_id = created(create_job(customer.persona.api, files, "pic.png", type="media.probe"))["id"]
    tasks.run_job(job_id)
    User.objects.create_superuser("root", "root@aiprod.example", "root-pass-phrase-for-tests")
    client = Client()
    client.post("/admin/login/", {"username": "root", "password": "root-pass-phrase-for-tests", "next": "/admin/"})
    page = client.get(admin_url(Job.objects.get(pk=job_id)))
    assert page.status_code == 200
    assert page.content.decode().count(HOST_PID) >= 2  # the field and the timeline
