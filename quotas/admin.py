"""Support staff look at usage; they never edit counters (limits are edited
on the Account: tier and enterprise values)."""

from django.contrib import admin

from core.admin_base import ReadOnlyAdmin
from quotas.models import MonthlyUsage, QuotaWarning
from accounts.plans import format_gb, limits_for


@admin.register(MonthlyUsage)
class MonthlyUsageAdmin(ReadOnlyAdmin):
    list_display = ["account", "month", "jobs_count", "jobs_limit", "data_used", "data_limit", "updated_at"]
    list_filter = ["month", "account__tier"]
    search_fields = ["account__email", "=account__id"]
    list_select_related = ["account"]
    date_hierarchy = "month"

    @admin.display(description="jobs limit")
    def jobs_limit(self, obj):
        return f"{limits_for(obj.account).jobs_per_month:,}"

    @admin.display(description="data used")
    def data_used(self, obj):
        return format_gb(obj.data_bytes)

    @admin.display(description="data limit")
    def data_limit(self, obj):
        return format_gb(limits_for(obj.account).data_bytes_per_month)


@admin.register(QuotaWarning)
class QuotaWarningAdmin(ReadOnlyAdmin):
    list_display = ["account", "month", "quota", "threshold", "used", "limit", "created_at"]
    list_filter = ["quota", "threshold", "month"]
    search_fields = ["account__email", "=account__id"]
    list_select_related = ["account"]
