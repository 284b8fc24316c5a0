"""Every admin change list filters only by what its admin declares: a hidden
secret cannot be recovered by guessing it through the query string
(`?secret__regex=^whsec_X` answering differently for a right guess).

Logged in through the real admin login, as a Support user and as a superuser."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.db import models
from django.test import Client
from django.urls import reverse

from accounts.models import ApiKey
from core.admin_base import SafeLookupsMixin
from ops.support import GROUP_NAME
from tests.conftest import make_persona
from webhooks.models import Delivery, Event, WebhookEndpoint

PASSWORD = "a-long-pass-phrase-for-staff-42"
SECRET = "whsec_" + "Q" * 32
# (changelist model, lookup path, the value a right guess starts with)
ORACLES = [
    (WebhookEndpoint, "secret", lambda data: data["endpoint"].secret),
    (WebhookEndpoint, "previous_secret", lambda data: data["endpoint"].previous_secret),
    (ApiKey, "key_hash", lambda data: data["key"].key_hash),
    (User, "password", lambda data: data["user"].password),
    (Delivery, "endpoint__secret", lambda data: data["endpoint"].secret),
    (WebhookEndpoint, "account__api_keys__key_hash", lambda data: data["key"].key_hash),
]
LOOKUPS = ["regex", "startswith", "istartswith", "contains", "gte", "exact"]


def login(username: str) -> Client:
    client = Client()
    response = client.post("/admin/login/", {"username": username, "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == "/admin/", response.content[:500]
    return client


@pytest.fixture(params=["support", "superuser"])
def staff(request, db) -> Client:
    if request.param == "superuser":
        User.objects.create_superuser("root", "root@aiprod.example", PASSWORD)
        return login("root")
    user = User.objects.create_user("sam", "sam@aiprod.example", PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=GROUP_NAME))
    return login("sam")


@pytest.fixture
def secrets(db) -> dict:
    persona = make_persona("pro")
    endpoint = WebhookEndpoint.objects.create(
        account=persona.account, url="https://hooks.example.com/in", events=["job.completed"], secret=SECRET,
        previous_secret="whsec_" + "P" * 32,
    )
    event = Event.objects.create(account=persona.account, livemode=True, type="job.completed", body="{}")
    Delivery.objects.create(
        event=event, account=persona.account, livemode=True, event_type="job.completed",
        endpoint=endpoint, url=endpoint.url,
    )
    return {
        "endpoint": endpoint,
        "key": ApiKey.objects.filter(account=persona.account).first(),
        "user": User.objects.create_user("victim", "victim@example.com", "victim-pass-phrase-99"),
    }


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def observable(response) -> tuple:
    """What a guesser sees, minus what differs on every request anyway."""
    body = response.content.decode(errors="replace")
    if response.get("Content-Type", "").startswith("application/json"):
        payload = json.loads(body)
        payload.pop("request_id", None)
        body = json.dumps(payload, sort_keys=True)
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body)
    return response.status_code, response.get("Location"), body


def guess_changes_the_answer(client: Client, model, path: str, value: str, lookup: str) -> bool:
    url = changelist(model)
    right, wrong = value[:6], ("~" if value[:1] != "~" else "!") + value[1:6]
    if lookup == "regex":
        right, wrong = "^" + re.escape(right), "^" + re.escape(wrong)
    if lookup == "exact":
        right, wrong = value, value + "x"
    answers = [observable(client.get(url, {f"{path}__{lookup}": guess})) for guess in (right, wrong)]
    return answers[0] != answers[1]


def test_every_registered_admin_uses_the_shared_lookup_guard():
    unguarded = [type(ma).__qualname__ for ma in admin.site._registry.values() if not isinstance(ma, SafeLookupsMixin)]
    assert unguarded == []
    # Django's auth and django-q2 admins are wrapped, not only ours.
    assert isinstance(admin.site._registry[User], SafeLookupsMixin)
    assert any(model._meta.app_label == "django_q" for model in admin.site._registry)


@pytest.mark.parametrize("model, path, secret_of", ORACLES, ids=[f"{m.__name__}-{p}" for m, p, _ in ORACLES])
def test_a_right_guess_of_a_secret_answers_like_a_wrong_one(staff, secrets, model, path, secret_of):
    value = secret_of(secrets)
    for lookup in LOOKUPS:
        assert not guess_changes_the_answer(staff, model, path, value, lookup), f"{path}__{lookup} leaks"


def test_secret_lookups_are_refused_with_400_while_the_list_itself_opens(staff, secrets):
    url = changelist(WebhookEndpoint)
    listed = staff.get(url)
    assert listed.status_code == 200 and secrets["endpoint"].id in listed.content.decode()
    refused = staff.get(url, {"secret__regex": "^whsec_Q"})
    assert refused.status_code == 400
    assert secrets["endpoint"].id not in refused.content.decode()


def _undeclared_fields(model_admin) -> list[str]:
    declared = model_admin.declared_lookups()
    names = []
    for field in model_admin.model._meta.concrete_fields:
        if isinstance(field, (models.CharField, models.TextField)) and not {field.name, f"{field.name}__exact"} & declared:
            names.append(field.name)
    return names


def test_every_admin_refuses_lookups_it_does_not_declare_even_for_a_superuser(db):
    User.objects.create_superuser("root", "root@aiprod.example", PASSWORD)
    client = login("root")
    tried = 0
    for model, model_admin in admin.site._registry.items():
        url = changelist(model)
        if client.get(url).status_code != 200:  # the maintenance switch redirects to its one row
            continue
        for name in _undeclared_fields(model_admin):
            response = client.get(url, {f"{name}__startswith": "a"})
            assert response.status_code == 400, f"{model.__name__}.{name}: {response.status_code}"
            tried += 1
    assert tried > 30


def test_declared_filters_and_date_drill_down_still_work(staff, secrets):
    endpoint = secrets["endpoint"]
    for model, params in [
        (WebhookEndpoint, {"status__exact": "unverified", "active__exact": "1", "livemode__exact": "1"}),
        (Delivery, {"created_at__year": "2026", "status__exact": "pending"}),
        (ApiKey, {"environment__exact": "live", "revoked_at__isnull": "True"}),
    ]:
        response = staff.get(changelist(model), params)
        assert response.status_code == 200, (model, response.status_code)
    shown = staff.get(changelist(WebhookEndpoint), {"status__exact": "unverified", "q": endpoint.id})
    assert endpoint.id in shown.content.decode()
