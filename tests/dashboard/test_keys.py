"""API Keys page: New Key shows the key once and it works on the API; revoke
has a confirmation step and the API then answers 401 REVOKED_KEY."""

import re

from accounts.models import ApiKey
from tests.conftest import Api
from tests.dashboard.conftest import make_customer

NEW_KEY = {"name": "deploy", "environment": "live", "scopes": ["jobs.read", "account.read"], "expires_in_days": "90"}


def _plaintext(html: str) -> str:
    return re.search(r'value="(sk_(?:live|test)_[A-Za-z0-9]+)"', html).group(1)


def test_new_key_is_shown_once_and_works_on_the_api(customer):
    response = customer.client.post("/dashboard/keys/new", NEW_KEY)
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0") or "no-store" in response["Cache-Control"]
    html = response.content.decode()
    key = _plaintext(html)
    assert "shown only this once" in html

    current = Api(key).get("/account/api-keys/current")
    assert current.status_code == 200
    assert current.json()["scopes"] == ["jobs.read", "account.read"]
    assert current.json()["name"] == "deploy"

    listing = customer.client.get("/dashboard/keys").content.decode()
    assert key not in listing
    assert key[:12] in listing


def test_a_key_with_only_some_scopes_is_refused_what_it_lacks(customer):
    html = customer.client.post("/dashboard/keys/new", {**NEW_KEY, "scopes": ["jobs.read"]}).content.decode()
    response = Api(_plaintext(html)).get("/account/logs")
    assert response.status_code == 403
    assert response.json()["code"] == "INSUFFICIENT_SCOPE"


def test_the_new_key_form_shows_errors_instead_of_creating(customer):
    before = ApiKey.objects.filter(account=customer.account).count()
    response = customer.client.post("/dashboard/keys/new", {**NEW_KEY, "scopes": [], "expires_in_days": "9999"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "field-error" in html
    assert ApiKey.objects.filter(account=customer.account).count() == before


def test_the_new_key_form_defaults_to_the_mode_being_viewed(customer):
    customer.client.post("/dashboard/mode", {"mode": "test"})
    html = customer.client.get("/dashboard/keys/new").content.decode()
    assert re.search(r'value="test"[^>]*checked', html)


def test_the_keys_page_lists_the_modes_keys_with_their_facts(customer):
    html = customer.client.get("/dashboard/keys").content.decode()
    live_prefix, test_prefix = customer.persona.key[:12], customer.persona.test_key[:12]
    assert live_prefix in html and test_prefix not in html
    assert "all scopes" in html and "never" in html  # scopes; never used
    customer.client.post("/dashboard/mode", {"mode": "test"})
    html = customer.client.get("/dashboard/keys").content.decode()
    assert test_prefix in html and live_prefix not in html


def test_revoke_asks_first_then_the_api_answers_revoked_key(customer):
    key = ApiKey.objects.get(account=customer.account, environment="live")
    confirm = customer.client.get(f"/dashboard/keys/{key.id}/revoke")
    assert confirm.status_code == 200
    assert "Revoke key" in confirm.content.decode()
    assert Api(customer.persona.key).get("/account/api-keys/current").status_code == 200

    response = customer.client.post(f"/dashboard/keys/{key.id}/revoke")
    assert response.status_code == 302
    answer = Api(customer.persona.key).get("/account/api-keys/current")
    assert answer.status_code == 401
    assert answer.json()["code"] == "REVOKED_KEY"
    assert "revoked" in customer.client.get("/dashboard/keys").content.decode()


def test_another_accounts_key_cannot_be_revoked(customer, db):
    other = make_customer("pro")
    key = ApiKey.objects.get(account=other.account, environment="live")
    assert customer.client.get(f"/dashboard/keys/{key.id}/revoke").status_code == 404
    assert customer.client.post(f"/dashboard/keys/{key.id}/revoke").status_code == 404
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None


def test_the_keys_table_has_an_environment_column(customer):
    html = customer.client.get("/dashboard/keys").content.decode()
    headers = re.findall(r'<th scope="col">([^<]*)</th>', html)
    assert headers[:8] == ["Name", "Key", "Environment", "Scopes", "Created", "Expires", "Last used", "Status"]
    assert "<caption" in html
    environments = re.findall(r'<td data-label="Environment">(.*?)</td>', html)
    assert environments == ['<span class="badge badge-ok">Live</span>']

    customer.client.post("/dashboard/mode", {"mode": "test"})
    html = customer.client.get("/dashboard/keys").content.decode()
    environments = re.findall(r'<td data-label="Environment">(.*?)</td>', html)
    assert environments == ['<span class="badge badge-warn">Test</span>']
