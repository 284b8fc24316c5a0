"""The allow-list endpoints and the lockout guard (docs/authentication.md)."""

import pytest

from accounts.models import Account

ME = "198.51.100.20"


def test_get_shows_the_guides_shape(pro):
    response = pro.api.get("/account/security")
    assert response.status_code == 200
    assert response.json()["ip_whitelist"] == {"enabled": False, "ips": []}


def test_the_guides_form_encoded_ip_is_added_as_a_32(pro):
    response = pro.api.post(
        "/account/security/whitelist", "ip=203.0.113.10", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 201, response.content
    assert response.json()["ip_whitelist"]["ips"] == ["203.0.113.10/32"]


def test_json_ipv6_is_added_as_a_128(pro):
    response = pro.api.post("/account/security/whitelist", {"ip": "2001:db8::5"})
    assert response.json()["ip_whitelist"]["ips"] == ["2001:db8::5/128"]


def test_an_invalid_address_is_a_validation_error(pro):
    response = pro.api.post("/account/security/whitelist", {"ip": "999.1.1.1"})
    assert response.status_code == 400
    assert response.json()["details"]["ip"]


def test_enabling_without_your_own_address_is_prevented(pro):
    pro.api.post("/account/security/whitelist", {"ip": "203.0.113.10"})
    response = pro.api.patch("/account/security", {"enabled": True}, REMOTE_ADDR=ME)
    assert response.status_code == 422
    assert response.json()["code"] == "LOCKOUT_PREVENTED"
    assert ME in response.json()["message"]
    assert not Account.objects.get(pk=pro.account.pk).ip_allowlist_enabled


def test_force_overrides_the_lockout_guard(pro):
    pro.api.post("/account/security/whitelist", {"ip": "203.0.113.10"})
    response = pro.api.patch("/account/security", {"enabled": True, "force": True}, REMOTE_ADDR=ME)
    assert response.status_code == 200
    assert pro.api.get("/account/security", REMOTE_ADDR=ME).json()["code"] == "IP_NOT_ALLOWED"


def test_enabling_with_your_address_listed_works(pro):
    response = pro.api.patch(
        "/account/security", {"ip_whitelist": {"enabled": True, "ips": [ME, "203.0.113.0/24"]}}, REMOTE_ADDR=ME
    )
    assert response.status_code == 200, response.content
    assert response.json()["ip_whitelist"] == {"enabled": True, "ips": [f"{ME}/32", "203.0.113.0/24"]}


def test_deleting_your_own_entry_while_enabled_is_prevented(pro):
    pro.api.patch("/account/security", {"enabled": True, "ips": [ME]}, REMOTE_ADDR=ME)
    response = pro.api.delete(f"/account/security/whitelist?ip={ME}", REMOTE_ADDR=ME)
    assert response.status_code == 422
    assert response.json()["code"] == "LOCKOUT_PREVENTED"


def test_deleting_another_entry_works(pro):
    pro.api.patch("/account/security", {"enabled": True, "ips": [ME, "203.0.113.1"]}, REMOTE_ADDR=ME)
    response = pro.api.delete("/account/security/whitelist?ip=203.0.113.1", REMOTE_ADDR=ME)
    assert response.status_code == 200
    assert response.json()["ip_whitelist"]["ips"] == [f"{ME}/32"]


def test_deleting_an_unknown_entry_is_404(pro):
    response = pro.api.delete("/account/security/whitelist?ip=192.0.2.1")
    assert response.status_code == 404


def test_the_whitelist_path_answers_only_post_and_delete(pro):
    # GET and PATCH used to fall through to /account/security's own handlers.
    assert pro.api.get("/account/security/whitelist").status_code == 405
    assert pro.api.patch("/account/security/whitelist", {"enabled": True}).status_code == 405


@pytest.mark.parametrize(("body", "details"), [
    ({"ip_whitelist": "x"}, {"ip_whitelist": ["Expected object, got string"]}),
    ({"ip_whitelist": {"enabled": "yes"}}, {"ip_whitelist": {"enabled": ["Expected boolean, got string"]}}),
    ({"ip_whitelist": {"ips": "1.2.3.4"}}, {"ip_whitelist": {"ips": ["Expected array, got string"]}}),
])
def test_errors_in_the_nested_shape_are_reported_where_they_were_sent(pro, body, details):
    response = pro.api.patch("/account/security", body)
    assert response.status_code == 400
    assert response.json()["details"] == details


# --------------------------------------------------------------------------- live key required (docs/authentication.md)

@pytest.mark.parametrize("method, path, body", [
    ("patch", "/account/security", {"enabled": True, "ips": ["203.0.113.10"], "force": True}),
    ("post", "/account/security/whitelist", {"ip": "203.0.113.10"}),
    ("delete", f"/account/security/whitelist?ip={ME}&force=1", None),
])
def test_a_test_key_cannot_change_the_account_wide_allow_list(pro, method, path, body):
    pro.api.post("/account/security/whitelist", {"ip": ME})
    response = getattr(pro.test_api, method)(path, body, REMOTE_ADDR=ME)
    assert response.status_code == 403
    assert response.json()["code"] == "LIVE_KEY_REQUIRED"
    assert "live key (sk_live_)" in response.json()["message"]
    account = Account.objects.get(pk=pro.account.pk)
    assert not account.ip_allowlist_enabled
    assert list(account.ip_allowlist.values_list("cidr", flat=True)) == [f"{ME}/32"]
    # The live key is not locked out and still manages it.
    assert pro.api.get("/account/security", REMOTE_ADDR=ME).json()["ip_whitelist"] == {"enabled": False, "ips": [f"{ME}/32"]}


def test_a_test_key_may_read_the_allow_list(pro):
    pro.api.post("/account/security/whitelist", {"ip": "203.0.113.10"})
    response = pro.test_api.get("/account/security")
    assert response.status_code == 200
    assert response.json()["ip_whitelist"]["ips"] == ["203.0.113.10/32"]
