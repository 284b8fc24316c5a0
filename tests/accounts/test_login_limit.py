"""One failed-login limiter for the admin and the dashboard (accounts.login_limit):
10 failures a minute per client address, then 429 with Retry-After for every
login from that address, a right password included."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.dashboard.conftest import make_customer

STAFF_PASSWORD = "staff-pass-phrase-2026"
ADMIN = "/admin/login/"
DASHBOARD = "/dashboard/login"


@pytest.fixture(autouse=True)
def one_window(time_machine):
    """The clock stands still: every attempt of a test falls in one of the
    limiter's one-minute windows, however slow the machine."""
    time_machine.move_to("2026-12-07T12:00:00Z", tick=False)


@pytest.fixture
def staff(db) -> User:
    return User.objects.create_user("sam", "sam@aiprod.example", STAFF_PASSWORD, is_staff=True)


def admin_login(client: Client, password: str):
    return client.post(ADMIN, {"username": "sam", "password": password, "next": "/admin/"})


def test_the_admin_login_answers_429_after_ten_wrong_passwords_even_to_the_right_one(staff):
    client = Client()
    for _ in range(10):
        assert admin_login(client, "wrong").status_code == 200
    refused = admin_login(client, STAFF_PASSWORD)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert "Too many login attempts" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    # Another address still logs in.
    other = admin_login(Client(REMOTE_ADDR="198.51.100.7"), STAFF_PASSWORD)
    assert other.status_code == 302 and other["Location"] == "/admin/"


def test_successful_logins_are_not_counted(staff):
    for _ in range(12):
        assert admin_login(Client(), STAFF_PASSWORD).status_code == 302


def test_the_admin_and_the_dashboard_share_one_counter_per_address(staff):
    customer = make_customer()
    client = Client()
    for _ in range(5):
        assert admin_login(client, "wrong").status_code == 200
    for _ in range(5):
        assert client.post(DASHBOARD, {"username": customer.user.username, "password": "x"}).status_code == 200
    assert admin_login(client, STAFF_PASSWORD).status_code == 429
    blocked = client.post(DASHBOARD, {"username": customer.user.username, "password": "correct horse battery"})
    assert blocked.status_code == 429 and "Too many login attempts" in blocked.content.decode()


def test_a_customer_logged_in_to_the_dashboard_cannot_guess_admin_passwords_uncounted(staff):
    customer = make_customer()
    for _ in range(10):
        assert admin_login(customer.client, "wrong").status_code == 200
    assert admin_login(customer.client, STAFF_PASSWORD).status_code == 429


def test_a_valid_password_of_a_non_staff_user_counts_as_an_admin_failure(staff):
    customer = make_customer()
    client = Client()
    for _ in range(10):
        response = client.post(ADMIN, {"username": customer.user.username, "password": "correct horse battery"})
        assert response.status_code == 200
    assert admin_login(client, STAFF_PASSWORD).status_code == 429


def test_looking_at_the_login_page_is_never_limited(staff):
    client = Client()
    for _ in range(10):
        admin_login(client, "wrong")
    assert client.get(ADMIN).status_code == 200
    assert client.get(DASHBOARD).status_code == 200
