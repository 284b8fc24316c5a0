from django.contrib import admin, messages

from accounts.models import Account, ApiKey, IpAllowlistEntry, RequestLog
from accounts.services.accounts import suspend_account, unsuspend_account
from accounts.services.api_keys import revoke_api_keys


class IpAllowlistInline(admin.TabularInline):
    model = IpAllowlistEntry
    extra = 1
    fields = ["cidr", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["email", "id", "tier", "suspended", "ip_allowlist_enabled", "created_at"]
    list_filter = ["tier", "suspended", "ip_allowlist_enabled"]
    search_fields = ["email", "id", "name"]
    readonly_fields = ["id", "created_at"]
    fields = [
        "id", "email", "name", "tier",
        "jobs_per_month", "requests_per_second", "data_gb_per_month",
        "suspended", "suspended_reason", "ip_allowlist_enabled", "user", "created_at",
    ]
    inlines = [IpAllowlistInline]
    actions = ["suspend", "unsuspend"]

    @admin.action(description="Suspend selected accounts", permissions=["change"])
    def suspend(self, request, queryset):
        for account in queryset:
            suspend_account(account, reason="Suspended by support")
        self.message_user(request, f"Suspended {queryset.count()} account(s)", messages.SUCCESS)

    @admin.action(description="Unsuspend selected accounts", permissions=["change"])
    def unsuspend(self, request, queryset):
        for account in queryset:
            unsuspend_account(account)
        self.message_user(request, f"Unsuspended {queryset.count()} account(s)", messages.SUCCESS)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "account", "environment", "created_at", "expires_at", "revoked_at", "last_used_at"]
    list_filter = ["environment", "revoked_at"]
    search_fields = ["prefix", "name", "account__email", "id"]
    # The hash is never shown; keys are created through the API or commands.
    fields = ["id", "account", "name", "prefix", "environment", "scopes", "created_at", "expires_at", "revoked_at", "last_used_at"]
    readonly_fields = ["id", "account", "prefix", "environment", "created_at", "revoked_at", "last_used_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke(self, request, queryset):
        count = revoke_api_keys(queryset)
        self.message_user(request, f"Revoked {count} key(s)", messages.SUCCESS)


@admin.register(RequestLog)
class RequestLogAdmin(admin.ModelAdmin):
    list_display = ["request_id", "created_at", "account", "method", "path", "status", "error_code", "duration_ms"]
    list_filter = ["status", "livemode"]
    search_fields = ["request_id", "=object_id", "account__email"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
