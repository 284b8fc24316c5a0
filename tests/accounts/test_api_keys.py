"""API key endpoints: current, list, create (shown once), revoke."""

from accounts.keys import hash_key
from accounts.models import ApiKey
from accounts.services.api_keys import create_api_key


def test_current_key_has_the_guides_fields(pro):
    body = pro.api.get("/account/api-keys/current").json()
    assert body["tier"] == "pro"
    assert body["rate_limit_requests"] == 10000
    assert body["rate_limit_period"] == "month"
    assert body["requests_per_second"] == 100
    assert set(body["scopes"]) >= {"jobs.read", "jobs.create", "jobs.delete", "webhooks.manage"}
    for field in ("id", "name", "prefix", "environment", "created_at", "expires_at", "last_used_at"):
        assert field in body
    assert body["created_at"].endswith("Z")


def test_a_new_key_is_shown_once_and_works(pro, anonymous):
    created = pro.api.post("/account/api-keys", {"name": "ci", "scopes": ["jobs.read"]})
    assert created.status_code == 201, created.content
    plaintext = created.json()["key"]
    assert plaintext.startswith("sk_live_")
    listed = pro.api.get("/account/api-keys").json()["data"]
    assert all("key" not in k for k in listed)
    assert plaintext not in str(listed)
    me = anonymous.get("/account/api-keys/current", key=plaintext).json()
    assert me["name"] == "ci" and me["scopes"] == ["jobs.read"]


def test_a_key_cannot_grant_scopes_it_lacks(personas):
    limited = personas("pro", scopes=["keys.manage", "jobs.read"])
    response = limited.api.post("/account/api-keys", {"scopes": ["jobs.read", "security.manage"]})
    assert response.status_code == 403
    assert "security.manage" in response.json()["message"]


def test_a_test_key_cannot_create_live_keys(pro):
    response = pro.test_api.post("/account/api-keys", {"environment": "live"})
    assert response.status_code == 403


def test_create_validates_with_the_guides_messages(pro):
    response = pro.api.post("/account/api-keys", {"expires_in_days": "30", "scopes": ["nope"], "extra": 1})
    assert response.status_code == 400
    details = response.json()["details"]
    assert details == {"extra": ["Unknown field"]} or details["expires_in_days"] == ["Expected integer, got string"]


def test_create_reports_each_bad_field(pro):
    details = pro.api.post("/account/api-keys", {"expires_in_days": "30", "scopes": ["nope"]}).json()["details"]
    assert details["expires_in_days"] == ["Expected integer, got string"]
    assert details["scopes"]["0"][0].startswith("Must be one of: jobs.read")


def test_revoke_marks_the_key_and_it_stops_working(pro, anonymous):
    created = pro.api.post("/account/api-keys", {"name": "temp"}).json()
    revoked = pro.api.delete(f"/account/api-keys/{created['id']}")
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    assert anonymous.get("/account/api-keys/current", key=created["key"]).json()["code"] == "REVOKED_KEY"


def test_a_test_key_sees_and_revokes_only_test_keys(pro):
    live = ApiKey.objects.get(key_hash=hash_key(pro.key))
    listed = pro.test_api.get("/account/api-keys").json()["data"]
    assert {k["environment"] for k in listed} == {"test"}
    assert pro.test_api.get(f"/account/api-keys/{live.id}").status_code == 404
    assert pro.test_api.delete(f"/account/api-keys/{live.id}").status_code == 404
    assert ApiKey.objects.get(pk=live.pk).revoked_at is None
    # A live key manages both.
    assert {k["environment"] for k in pro.api.get("/account/api-keys").json()["data"]} == {"live", "test"}


def test_the_key_list_says_when_there_are_more_than_a_hundred(pro):
    for n in range(100):
        create_api_key(pro.account, environment="test", name=f"k{n}")
    body = pro.api.get("/account/api-keys").json()
    assert (len(body["data"]), body["has_more"]) == (100, True)


def test_another_accounts_key_is_404(pro, free):
    other = ApiKey.objects.get(key_hash=hash_key(free.key))
    assert pro.api.delete(f"/account/api-keys/{other.id}").status_code == 404
    assert ApiKey.objects.get(pk=other.pk).revoked_at is None


def test_the_key_list_costs_a_fixed_number_of_queries(pro, django_assert_max_num_queries):
    for i in range(5):
        pro.api.post("/account/api-keys", {"name": f"k{i}"})
    with django_assert_max_num_queries(3):
        # auth (1) + list (1) + request log insert (1); last_used_at is fresh.
        response = pro.api.get("/account/api-keys")
    assert len(response.json()["data"]) == 7


def test_a_new_key_never_outlives_the_key_that_creates_it(free):
    from datetime import timedelta

    from django.utils import timezone

    from tests.conftest import Api

    soon = timezone.now() + timedelta(days=1)
    ApiKey.objects.filter(prefix=free.key[:12]).update(expires_at=soon)
    created = free.api.post("/account/api-keys", {"name": "ten years", "expires_in_days": 3650})
    assert created.status_code == 201, created.content
    assert ApiKey.objects.get(pk=created.json()["id"]).expires_at == soon
    assert created.json()["expires_at"] == soon.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    # A shorter lifetime than the creator's is kept as asked.
    shorter = Api(created.json()["key"]).post("/account/api-keys", {"name": "an hour less", "expires_in_days": 1})
    assert shorter.status_code == 201
    assert ApiKey.objects.get(pk=shorter.json()["id"]).expires_at <= soon
