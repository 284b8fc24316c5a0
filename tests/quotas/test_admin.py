"""Support staff can look at monthly usage in the admin, not change it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from quotas.models import MonthlyUsage
from accounts.plans import GB
from core.timefmt import month_start
from tests.admin_urls import admin_url


@pytest.fixture
def staff_client(client, db):
    client.force_login(User.objects.create_superuser("support", "support@example.com", "pw-support-123"))
    return client


def test_usage_is_listed_with_its_limits(staff_client, pro):
    MonthlyUsage.objects.create(account=pro.account, month=month_start(), jobs_count=1234, data_bytes=5 * GB)
    page = staff_client.get("/admin/quotas/monthlyusage/")
    assert page.status_code == 200
    text = page.content.decode()
    assert pro.account.email in text
    assert "1234" in text and "10,000" in text
    assert "5 GB" in text and "100 GB" in text


def test_usage_cannot_be_added_changed_or_deleted(staff_client, pro):
    row = MonthlyUsage.objects.create(account=pro.account, month=month_start(), jobs_count=5)
    assert staff_client.get("/admin/quotas/monthlyusage/add/").status_code == 403
    change = staff_client.post(admin_url(row), {"jobs_count": 0})
    assert change.status_code == 403
    assert staff_client.post(admin_url(row, "delete"), {"post": "yes"}).status_code == 403
    row.refresh_from_db()
    assert row.jobs_count == 5
