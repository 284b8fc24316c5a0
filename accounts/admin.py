from django import forms
from django.contrib import admin, messages

from accounts import key_cache
from accounts.client_ip import parse_network
from accounts.models import Account, ApiKey, IpAllowlistEntry, RequestLog
from accounts.services.accounts import suspend_account, unsuspend_account
from accounts.services.api_keys import revoke_api_keys
from core.admin_base import ReadOnlyAdmin, SafeLookupsAdmin


class IpAllowlistEntryForm(forms.ModelForm):
    class Meta:
        model = IpAllowlistEntry
        fields = ["account", "cidr"]

    def clean_cidr(self):
        # A malformed entry would break every request of the account.
        try:
            return str(parse_network(self.cleaned_data["cidr"]))
        except ValueError:
            raise forms.ValidationError("Not an IPv4/IPv6 address or CIDR") from None


class IpAllowlistInline(admin.TabularInline):
    model = IpAllowlistEntry
    form = IpAllowlistEntryForm
    extra = 1
    fields = ["cidr", "created_at"]
    readonly_fields = ["created_at"]


class ForgetsCachedKeys:
    """Admin edits (tier, limits, scopes, suspension, the allow-list) take
    effect in this process at once; see accounts.key_cache for the others."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        key_cache.forget_all()

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        key_cache.forget_all()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        key_cache.forget_all()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        key_cache.forget_all()


@admin.register(Account)
class AccountAdmin(ForgetsCachedKeys, SafeLookupsAdmin):
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

    def get_readonly_fields(self, request, obj=None):
        # Linking an account to a login is a superuser's call.
        fields = list(super().get_readonly_fields(request, obj))
        return fields if request.user.is_superuser else fields + ["user"]

    @admin.action(description="Suspend selected accounts", permissions=["change"])
    def suspend(self, request, queryset):
        for account in queryset:
            suspend_account(account, reason="Suspended by support")
            self.log_change(request, account, "Suspended via admin action")
        self.message_user(request, f"Suspended {queryset.count()} account(s)", messages.SUCCESS)

    @admin.action(description="Unsuspend selected accounts", permissions=["change"])
    def unsuspend(self, request, queryset):
        for account in queryset:
            unsuspend_account(account)
            self.log_change(request, account, "Unsuspended via admin action")
        self.message_user(request, f"Unsuspended {queryset.count()} account(s)", messages.SUCCESS)


@admin.register(IpAllowlistEntry)
class IpAllowlistEntryAdmin(ForgetsCachedKeys, admin.ModelAdmin):
    """Every account's allow-list in one place, searchable by account and
    address (the account page has the same entries inline)."""

    form = IpAllowlistEntryForm
    list_display = ["cidr", "account", "enabled", "created_at"]
    list_filter = ["account__ip_allowlist_enabled"]
    search_fields = ["cidr", "account__email", "account__id", "account__name"]
    autocomplete_fields = ["account"]
    fields = ["account", "cidr", "created_at"]
    readonly_fields = ["created_at"]
    list_select_related = ["account"]

    @admin.display(description="IP allow-list enabled", boolean=True, ordering="account__ip_allowlist_enabled")
    def enabled(self, entry):
        return entry.account.ip_allowlist_enabled


@admin.register(ApiKey)
class ApiKeyAdmin(ForgetsCachedKeys, SafeLookupsAdmin):
    list_display = ["prefix", "name", "account", "environment", "created_at", "expires_at", "revoked_at", "last_used_at"]
    list_filter = ["environment", "revoked_at"]
    search_fields = ["prefix", "name", "account__email", "id"]
    # The hash is never shown; keys are created through the API or commands.
    fields = ["id", "account", "name", "prefix", "environment", "scopes", "created_at", "expires_at", "revoked_at", "last_used_at"]
    readonly_fields = ["id", "account", "prefix", "environment", "created_at", "revoked_at", "last_used_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def get_readonly_fields(self, request, obj=None):
        # Staff revoke keys (the action needs "change"); only superusers edit them.
        return super().get_readonly_fields(request, obj) if request.user.is_superuser else self.fields

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke(self, request, queryset):
        active = list(queryset.filter(revoked_at__isnull=True))
        count = revoke_api_keys(queryset)
        for key in active:
            self.log_change(request, key, "Revoked via admin action")
        self.message_user(request, f"Revoked {count} key(s)", messages.SUCCESS)


@admin.register(RequestLog)
class RequestLogAdmin(ReadOnlyAdmin):
    list_display = ["request_id", "created_at", "account", "method", "path", "status", "error_code", "duration_ms"]
    list_filter = ["status", "livemode"]
    search_fields = ["request_id", "=object_id", "account__email"]
    date_hierarchy = "created_at"
