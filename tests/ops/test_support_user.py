"""An operator's first hour: a support login made by one command, the IP
allow-list's own admin page, labels that read as words, and a quiet startup."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.models import Account, IpAllowlistEntry
from ops.support import GROUP_NAME
from tests.processes import ROOT

IP_ADMIN = "/admin/accounts/ipallowlistentry/"


def make_support_user(username: str = "kim", password: str = "correct horse 1") -> dict:
    out = io.StringIO()
    call_command("create_support_user", "--username", username, "--email", f"{username}@aiprod.example",
                 "--password", password, "--json", stdout=out)
    return json.loads(out.getvalue())


def logged_in(username: str = "kim", password: str = "correct horse 1") -> Client:
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {"username": username, "password": password, "next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == "/admin/", response.content[:500]
    return client


def test_create_support_user_makes_a_staff_login_in_the_support_group(db):
    assert make_support_user() == {"username": "kim", "group": GROUP_NAME, "password": None}
    user = User.objects.get(username="kim")
    assert user.is_staff and not user.is_superuser
    assert list(user.groups.values_list("name", flat=True)) == [GROUP_NAME]
    assert logged_in().get("/admin/jobs/job/").status_code == 200


def test_without_a_password_one_is_generated_and_shown_once(db):
    out = io.StringIO()
    call_command("create_support_user", "--username", "lee", stdout=out)
    text = out.getvalue()
    password = text.split("Password (shown once): ", 1)[1].strip()
    assert User.objects.get(username="lee").check_password(password)


def test_a_taken_username_is_a_clear_error(db):
    make_support_user()
    with pytest.raises(CommandError, match="A user named kim already exists"):
        make_support_user()


def test_the_ip_allow_list_has_its_own_admin_page_searchable_by_account_and_address(db, personas):
    first, second = personas("pro"), personas("pro")
    IpAllowlistEntry.objects.create(account=first.account, cidr="203.0.113.0/24")
    IpAllowlistEntry.objects.create(account=second.account, cidr="198.51.100.7/32")
    make_support_user()
    client = logged_in()
    by_account = client.get(IP_ADMIN, {"q": first.account.email})
    assert by_account.status_code == 200
    assert [str(e) for e in by_account.context["cl"].result_list] == ["203.0.113.0/24"]
    by_address = client.get(IP_ADMIN, {"q": "198.51.100"})
    assert [e.account_id for e in by_address.context["cl"].result_list] == [second.account.pk]
    # A malformed address is refused on the form, as on the account's inline.
    response = client.post(IP_ADMIN + "add/", {"account": first.account.pk, "cidr": "999.1.1.1"})
    assert response.status_code == 200 and "Not an IPv4/IPv6 address or CIDR" in response.content.decode()
    client.post(IP_ADMIN + "add/", {"account": first.account.pk, "cidr": "192.0.2.5"})
    assert first.account.ip_allowlist.filter(cidr="192.0.2.5/32").exists()


def test_admin_labels_read_as_words(db, personas):
    personas("pro")
    make_support_user()
    page = logged_in().get("/admin/accounts/account/").content.decode()
    assert "IP allow-list enabled" in page and "Ip allowlist enabled" not in page
    assert Account._meta.get_field("data_gb_per_month").verbose_name == "data per month (GB)"


def test_the_ratelimit_cache_warning_does_not_print_for_the_one_process_setup(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "aiprod.settings", "REDIS_URL": "",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "W001" not in result.stdout + result.stderr
