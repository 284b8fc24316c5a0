"""Admin for operations: incidents, maintenance windows, the maintenance
switch, backups, and the audit trail (Django's LogEntry) for staff."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

from core.admin_base import ReadOnlyAdmin, SafeLookupsAdmin
from ops.models import COMPONENTS, BackupRecord, Incident, IncidentUpdate, MaintenanceMode, MaintenanceWindow
from ops import incidents
from ops.maintenance import forget


class ComponentsFormMixin(forms.ModelForm):
    components = forms.MultipleChoiceField(
        choices=COMPONENTS, required=False, widget=forms.CheckboxSelectMultiple, help_text="Affected components"
    )


class IncidentForm(ComponentsFormMixin):
    class Meta:
        model = Incident
        fields = ["name", "status", "impact", "components"]


class MaintenanceWindowForm(ComponentsFormMixin):
    class Meta:
        model = MaintenanceWindow
        fields = ["name", "description", "scheduled_for", "scheduled_until", "components", "cancelled"]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("scheduled_for"), cleaned.get("scheduled_until")
        if start and end and end <= start:
            self.add_error("scheduled_until", "The end must be after the start")
        return cleaned


class IncidentUpdateInline(admin.StackedInline):
    model = IncidentUpdate
    extra = 1
    fields = ["status", "body", "created_at"]
    readonly_fields = ["created_at"]
    ordering = ["-created_at"]


@admin.register(Incident)
class IncidentAdmin(SafeLookupsAdmin):
    form = IncidentForm
    list_display = ["name", "status", "impact", "components_list", "created_at", "resolved_at"]
    list_filter = ["status", "impact"]
    search_fields = ["name", "id"]
    inlines = [IncidentUpdateInline]
    actions = ["resolve"]

    @admin.display(description="components")
    def components_list(self, obj):
        return ", ".join(obj.components)

    def save_model(self, request, obj, form, change):
        incidents.stamp_resolution(obj)
        super().save_model(request, obj, form, change)

    @admin.action(description="Mark selected incidents resolved", permissions=["change"])
    def resolve(self, request, queryset):
        resolved = [incident for incident in queryset if incidents.resolve_incident(incident)]
        for incident in resolved:
            self.log_change(request, incident, "Resolved via admin action")
        self.message_user(request, f"Resolved {len(resolved)} incident(s)", messages.SUCCESS)

    def has_delete_permission(self, request, obj=None):
        # Incidents are history: resolve them rather than delete (superusers still can).
        return request.user.is_superuser


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(SafeLookupsAdmin):
    form = MaintenanceWindowForm
    list_display = ["name", "scheduled_for", "scheduled_until", "window_status", "cancelled"]
    list_filter = ["cancelled"]
    search_fields = ["name"]

    @admin.display(description="status")
    def window_status(self, obj):
        return "cancelled" if obj.cancelled else obj.status()


@admin.register(MaintenanceMode)
class MaintenanceModeAdmin(SafeLookupsAdmin):
    """The switch: one row; the list page opens it directly."""

    fields = ["enabled", "message", "until", "updated_at", "updated_by"]
    readonly_fields = ["updated_at", "updated_by"]

    def changelist_view(self, request, extra_context=None):
        row, _ = MaintenanceMode.objects.get_or_create(pk=MaintenanceMode.SINGLETON_PK)
        return HttpResponseRedirect(reverse("admin:aiprod_maintenancemode_change", args=[row.pk]))

    def save_model(self, request, obj, form, change):
        obj.updated_at = timezone.now()
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)
        forget()
        state = "ON: the API answers 503 MAINTENANCE" if obj.enabled else "off"
        self.message_user(request, f"Maintenance mode is {state}", messages.WARNING if obj.enabled else messages.SUCCESS)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BackupRecord)
class BackupRecordAdmin(SafeLookupsAdmin):
    list_display = ["finished_at", "status", "size_bytes", "path"]
    list_filter = ["status"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(LogEntry)
class LogEntryAdmin(ReadOnlyAdmin):
    """Who did what, when, in the admin. Read-only for everyone."""

    list_display = ["action_time", "user", "content_type", "object_repr", "action", "change_message_text"]
    list_filter = ["action_flag", "content_type"]
    search_fields = ["object_repr", "object_id", "user__username", "change_message"]
    date_hierarchy = "action_time"
    list_select_related = ["user", "content_type"]

    @admin.display(description="action")
    def action(self, obj):
        return {1: "added", 2: "changed", 3: "deleted"}.get(obj.action_flag, obj.action_flag)

    @admin.display(description="message")
    def change_message_text(self, obj):
        return obj.get_change_message()
