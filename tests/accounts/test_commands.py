"""create_account / create_api_key / prune, as operators and `make run` use them."""

import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import Account, ApiKey, RequestLog
from tests.conftest import Api


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_account_prints_json_with_a_working_key(db):
    result = json.loads(run("create_account", "--email", "ops@example.com", "--tier", "pro", "--json"))
    assert result["account_id"].startswith("acct_")
    assert result["api_key"].startswith("sk_live_")
    assert Api(result["api_key"]).get("/account/api-keys/current").json()["tier"] == "pro"


def test_create_account_with_test_environment_and_scopes(db):
    result = json.loads(
        run("create_account", "--email", "t@example.com", "--environment", "test", "--scopes", "jobs.read,jobs.create", "--json")
    )
    key = ApiKey.objects.get(account_id=result["account_id"])
    assert result["api_key"].startswith("sk_test_")
    assert key.scopes == ["jobs.read", "jobs.create"]


def test_create_account_refuses_unknown_scopes_and_duplicates(db):
    with pytest.raises(CommandError):
        run("create_account", "--email", "x@example.com", "--scopes", "everything")
    run("create_account", "--email", "dup@example.com")
    with pytest.raises(CommandError):
        run("create_account", "--email", "dup@example.com")


def test_create_api_key_by_email_or_id_with_expiry(free):
    by_email = json.loads(run("create_api_key", "--account", free.account.email, "--expires-in-days", "7", "--json"))
    by_id = json.loads(run("create_api_key", "--account", free.account.id, "--environment", "test", "--json"))
    assert by_email["api_key"].startswith("sk_live_") and by_id["api_key"].startswith("sk_test_")
    key = ApiKey.objects.get(pk=by_email["key_id"])
    assert timedelta(days=6) < key.expires_at - timezone.now() <= timedelta(days=7)


def test_create_api_key_for_an_unknown_account_fails(db):
    with pytest.raises(CommandError):
        run("create_api_key", "--account", "nobody@example.com")


def test_a_default_key_expires_after_two_years(free):
    key = ApiKey.objects.filter(account=free.account).first()
    assert (key.expires_at - key.created_at).days == 730


def test_prune_deletes_logs_past_retention(pro):
    pro.api.get("/account/api-keys/current")
    old = RequestLog.objects.create(
        request_id="req_old", account=pro.account, method="GET", path="/x", status=200,
        created_at=timezone.now() - timedelta(days=31),
    )
    result = json.loads(run("prune", "--older-than", "30d", "--json"))
    assert result["request_logs_deleted"] == 1
    assert not RequestLog.objects.filter(pk=old.pk).exists()
    assert RequestLog.objects.filter(account=pro.account).count() == 1


def test_demo_account_is_created_once(db, settings, tmp_path):
    settings.BASE_DIR = tmp_path
    first = run("demo_account")
    second = run("demo_account")
    assert Account.objects.filter(email="demo@aiprod.local").count() == 1
    live = [line.split(": ")[1] for line in first.splitlines() if "live key" in line][0]
    assert live in second
    assert Api(live).get("/account/api-keys/current").status_code == 200


def test_the_demo_account_has_a_dashboard_login(db, settings, tmp_path):
    from django.test import Client

    settings.BASE_DIR = tmp_path
    out = run("demo_account")
    password = out.split("login demo@aiprod.local / ")[1].split(")")[0]
    assert Client().login(username="demo@aiprod.local", password=password)


@pytest.mark.parametrize(("bind", "base"), [(None, "http://127.0.0.1:8000"), ("0.0.0.0:9000", "http://127.0.0.1:9000")])
def test_the_demo_accounts_try_lines_follow_make_runs_bind(db, settings, tmp_path, monkeypatch, bind, base):
    settings.BASE_DIR = tmp_path
    if bind:
        monkeypatch.setenv("BIND", bind)
    else:
        monkeypatch.delenv("BIND", raising=False)
    out = run("demo_account")
    assert f"{base}/dashboard/" in out and f"{base}/account/api-keys/current" in out
