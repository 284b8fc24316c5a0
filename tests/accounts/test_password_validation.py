"""Django's password validators (similarity, length 12, common, numeric) apply
to staff users made in the admin and to dashboard logins made by create_account."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client

ROOT_PASSWORD = "root-pass-phrase-for-tests"
GOOD = "lantern-orchard-47-quietly"


@pytest.fixture
def root(db) -> Client:
    User.objects.create_superuser("root", "root@aiprod.example", ROOT_PASSWORD)
    client = Client()
    assert client.post("/admin/login/", {"username": "root", "password": ROOT_PASSWORD,
                                         "next": "/admin/"}).status_code == 302
    return client


def add_staff_user(client: Client, username: str, password: str):
    return client.post("/admin/auth/user/add/", {
        "username": username, "password1": password, "password2": password, "usable_password": "true",
    })


@pytest.mark.parametrize("username, password, says", [
    ("maria.gonzalez", "maria.gonzalez1", "too similar to the username"),
    ("kim", "Sh0rt-pass", "too short. It must contain at least 12 characters"),
    ("kim", "qwertyuiop12", "too common"),
    ("kim", "804591726354", "entirely numeric"),
])
def test_the_admin_refuses_a_weak_staff_password(root, username, password, says):
    response = add_staff_user(root, username, password)
    assert response.status_code == 200
    assert says in response.content.decode()
    assert not User.objects.filter(username=username).exists()


def test_the_admin_accepts_a_strong_password(root):
    response = add_staff_user(root, "kim", GOOD)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert User.objects.get(username="kim").check_password(GOOD)


@pytest.mark.parametrize("password", ["shop@example.com", "qwertyuiop12", "804591726354", "eleven-char"])
def test_a_dashboard_login_with_a_weak_password_is_refused(db, password):
    with pytest.raises(CommandError, match="Password refused"):
        call_command("create_account", "--email", "shop@example.com", "--password", password, stdout=io.StringIO())
    assert not User.objects.filter(username="shop@example.com").exists()
