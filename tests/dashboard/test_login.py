"""Login and logout, the per-address login limit, and create_account --password."""

import io
import json

from django.core.management import call_command
from django.test import Client

from tests.dashboard.conftest import PASSWORD


def test_a_customer_logs_in_with_email_and_password(customer):
    client = Client()
    response = client.post("/dashboard/login", {"username": customer.user.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200


def test_login_returns_to_the_page_asked_for(customer):
    response = Client().post("/dashboard/login?next=/dashboard/logs",
                             {"username": customer.user.username, "password": PASSWORD, "next": "/dashboard/logs"})
    assert response["Location"] == "/dashboard/logs"


def test_a_wrong_password_is_said_plainly(customer):
    response = Client().post("/dashboard/login", {"username": customer.user.username, "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_logout_is_a_post_and_ends_the_session(customer):
    response = customer.client.post("/dashboard/logout")
    assert response.status_code == 302
    assert customer.client.get("/dashboard/").status_code == 302


def test_too_many_login_attempts_from_one_address_get_a_friendly_429(customer):
    client = Client()
    for _ in range(10):
        assert client.post("/dashboard/login", {"username": customer.user.username, "password": "x"}).status_code == 200
    response = client.post("/dashboard/login", {"username": customer.user.username, "password": PASSWORD})
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert "Too many login attempts" in response.content.decode()
    # Another address is not affected.
    other = Client(REMOTE_ADDR="198.51.100.7")
    assert other.post("/dashboard/login", {"username": customer.user.username, "password": PASSWORD}).status_code == 302


def test_create_account_with_password_makes_a_dashboard_login(db):
    out = io.StringIO()
    call_command("create_account", "--email", "Ops@Example.com", "--tier", "pro", "--password", PASSWORD, "--json", stdout=out)
    account_id = json.loads(out.getvalue())["account_id"]
    client = Client()
    response = client.post("/dashboard/login", {"username": "ops@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert account_id in client.get("/dashboard/").content.decode()


def test_create_account_refuses_a_short_password(db):
    import pytest
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="Password refused"):
        call_command("create_account", "--email", "short@example.com", "--password", "abc", stdout=io.StringIO())
