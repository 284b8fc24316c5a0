"""Support staff view of endpoints and deliveries. Secrets are never shown;
actions call the same services as the API and are recorded in the admin log."""

from django.contrib import admin, messages
from django.utils.html import format_html

from core.admin_base import SafeLookupsAdmin
from core.errors import ApplicationError
from webhooks.models import Delivery, DeliveryAttempt, WebhookEndpoint
from webhooks.services import delivery as delivery_services
from webhooks.services import endpoints as endpoint_services


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyMixin, SafeLookupsAdmin):
    list_display = ["id", "url", "account", "livemode", "status", "active", "failing_since", "created_at"]
    list_filter = ["status", "active", "livemode"]
    search_fields = ["=id", "url", "account__email", "=account__id"]
    # No "secret" here: support never needs it, and a screen share must not leak it.
    fields = [
        "id", "account", "livemode", "url", "events", "status", "active", "disabled_reason",
        "failing_since", "verified_at", "created_at", "updated_at",
    ]
    readonly_fields = fields
    actions = ["deactivate", "reenable"]

    def has_change_permission(self, request, obj=None):
        # The change view is read-only; the actions need "change".
        return obj is None and super().has_change_permission(request, obj)

    @admin.action(description="Deactivate (sends webhook.disabled)", permissions=["change"])
    def deactivate(self, request, queryset):
        count = 0
        for endpoint in queryset:
            if endpoint_services.deactivate(endpoint.id, "Deactivated by AIPROD support"):
                self.log_change(request, endpoint, "Deactivated")
                count += 1
        self.message_user(request, f"Deactivated {count} endpoint(s)", messages.SUCCESS)

    @admin.action(description="Re-enable (customer must verify again)", permissions=["change"])
    def reenable(self, request, queryset):
        for endpoint in queryset:
            endpoint_services.update_endpoint(endpoint, active=True)
            self.log_change(request, endpoint, "Re-enabled (unverified)")
        self.message_user(request, f"Re-enabled {queryset.count()} endpoint(s)", messages.SUCCESS)


class DeliveryAttemptInline(ReadOnlyMixin, admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    fields = ["number", "created_at", "status", "response_code", "error", "duration_ms", "url", "response_body"]
    readonly_fields = fields
    can_delete = False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyMixin, SafeLookupsAdmin):
    list_display = [
        "id", "event_type", "url", "account", "status", "attempt_count", "response_code", "error", "created_at",
    ]
    list_filter = ["status", "event_type", "target", "kind", "livemode"]
    search_fields = ["=id", "=event__id", "=event__job_id", "=endpoint__id", "account__email", "url"]
    date_hierarchy = "created_at"
    fields = [
        "id", "event_link", "account", "livemode", "event_type", "kind", "target", "endpoint", "url", "status",
        "attempt_count", "next_attempt_at", "claimed_until", "last_attempt_at", "delivered_at", "response_code",
        "error", "duration_ms", "payload", "created_at",
    ]
    readonly_fields = fields
    inlines = [DeliveryAttemptInline]
    actions = ["redeliver"]
    list_select_related = ["account"]

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    @admin.display(description="Event")
    def event_link(self, obj):
        return format_html("{} (job {})", obj.event_id, obj.event.job_id or "-")

    @admin.display(description="Payload")
    def payload(self, obj):
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", obj.event.body)

    @admin.action(description="Redeliver", permissions=["change"])
    def redeliver(self, request, queryset):
        done, busy = 0, 0
        for delivery in queryset:
            try:
                delivery_services.redeliver(delivery)
            except ApplicationError:
                busy += 1
                continue
            self.log_change(request, delivery, "Redelivered")
            done += 1
        self.message_user(request, f"Queued {done} delivery(ies) again", messages.SUCCESS)
        if busy:
            self.message_user(request, f"{busy} were being sent right now; try them again in a minute", messages.WARNING)
