"""Security page: the allow-list with the API's lockout guard."""

from accounts.models import Account
from tests.conftest import Api

ME = "127.0.0.1"  # the test client's REMOTE_ADDR


def test_adding_an_address_stores_it_as_a_network(customer):
    response = customer.client.post("/dashboard/security/allowlist/add", {"ip": "203.0.113.9"})
    assert response.status_code == 302
    html = customer.client.get("/dashboard/security").content.decode()
    assert "203.0.113.9/32" in html
    assert ME in html  # "your address as AIPROD sees it"


def test_an_invalid_address_is_an_error_on_the_field(customer):
    response = customer.client.post("/dashboard/security/allowlist/add", {"ip": "999.1.1.1"})
    assert response.status_code == 200
    assert "is not an IPv4/IPv6 address or CIDR" in response.content.decode()
    assert not customer.account.ip_allowlist.exists()


def test_turning_on_without_your_address_is_prevented(customer):
    customer.client.post("/dashboard/security/allowlist/add", {"ip": "203.0.113.9"})
    response = customer.client.post("/dashboard/security/allowlist/toggle", {"enabled": "on"}, follow=True)
    assert f"would block your own address ({ME})" in response.content.decode()
    assert not Account.objects.get(pk=customer.account.pk).ip_allowlist_enabled


def test_turning_on_with_force_blocks_the_api_from_elsewhere(customer):
    customer.client.post("/dashboard/security/allowlist/add", {"ip": "203.0.113.9"})
    customer.client.post("/dashboard/security/allowlist/toggle", {"enabled": "on", "force": "on"})
    assert Account.objects.get(pk=customer.account.pk).ip_allowlist_enabled
    answer = Api(customer.persona.key).get("/account/api-keys/current")
    assert answer.json()["code"] == "IP_NOT_ALLOWED"
    assert Api(customer.persona.key).get("/account/api-keys/current", REMOTE_ADDR="203.0.113.9").status_code == 200


def test_removing_your_own_address_while_on_is_prevented(customer):
    customer.client.post("/dashboard/security/allowlist/add", {"ip": ME})
    customer.client.post("/dashboard/security/allowlist/toggle", {"enabled": "on"})
    assert Account.objects.get(pk=customer.account.pk).ip_allowlist_enabled
    response = customer.client.post("/dashboard/security/allowlist/remove", {"ip": f"{ME}/32"}, follow=True)
    assert "would block your own address" in response.content.decode()
    assert customer.account.ip_allowlist.filter(cidr=f"{ME}/32").exists()


def test_the_free_tier_is_told_the_allow_list_needs_pro(customers):
    free = customers("free")
    html = free.client.get("/dashboard/security").content.decode()
    assert "needs the Pro or Enterprise plan" in html
    response = free.client.post("/dashboard/security/allowlist/add", {"ip": "203.0.113.9"})
    assert response.status_code == 302
    assert not free.account.ip_allowlist.exists()


def test_a_refused_api_caller_is_sent_to_the_security_page_which_works_from_its_address(customer):
    customer.client.post("/dashboard/security/allowlist/add", {"ip": "203.0.113.9"})
    customer.client.post("/dashboard/security/allowlist/toggle", {"enabled": "on", "force": "on"})
    refused = Api(customer.persona.key).get("/account/api-keys/current", REMOTE_ADDR="198.51.100.7").json()
    assert refused["code"] == "IP_NOT_ALLOWED"
    assert "198.51.100.7" in refused["message"] and "/dashboard/security" in refused["message"]
    # The place it points to answers from that very address, and adding it lets the API in.
    assert customer.client.get("/dashboard/security", REMOTE_ADDR="198.51.100.7").status_code == 200
    customer.client.post("/dashboard/security/allowlist/add", {"ip": "198.51.100.7"}, REMOTE_ADDR="198.51.100.7")
    assert Api(customer.persona.key).get("/account/api-keys/current", REMOTE_ADDR="198.51.100.7").status_code == 200
