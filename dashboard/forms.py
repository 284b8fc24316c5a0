"""Forms of the dashboard pages. They collect and render input; the rules
(allowed scopes, expiry range, CIDR syntax, URL checks) stay in the services
and serializers the API uses, which the views call with the cleaned values."""

from __future__ import annotations

from django import forms

from accounts.models import SCOPES, Environment

EXPIRY_CHOICES = [
    ("30", "30 days"),
    ("90", "90 days"),
    ("365", "1 year"),
    ("730", "2 years (default)"),
]

SCOPE_HELP = {
    "jobs.read": "List and read jobs",
    "jobs.create": "Create, cancel and retry jobs",
    "jobs.delete": "Delete jobs and their files",
    "webhooks.manage": "Register and manage webhook endpoints",
    "account.read": "Usage, logs and metrics",
    "keys.manage": "Create and revoke API keys",
    "security.manage": "Edit the IP allow-list",
}


class NewKeyForm(forms.Form):
    name = forms.CharField(max_length=200, required=False, help_text="So you can tell your keys apart, e.g. “CI”.")
    environment = forms.ChoiceField(choices=Environment.choices, widget=forms.RadioSelect)
    scopes = forms.MultipleChoiceField(
        choices=[(s, f"{s} — {SCOPE_HELP[s]}") for s in SCOPES],
        widget=forms.CheckboxSelectMultiple,
        help_text="What the key may do. New keys get every scope unless you untick some.",
    )
    expires_in_days = forms.TypedChoiceField(
        choices=EXPIRY_CHOICES, coerce=int, initial="730", label="Expires after"
    )


class AllowlistAddForm(forms.Form):
    ip = forms.CharField(
        max_length=50, label="IP address or CIDR", help_text="A bare address means /32 (IPv4) or /128 (IPv6)."
    )


class AllowlistToggleForm(forms.Form):
    enabled = forms.BooleanField(required=False)
    force = forms.BooleanField(
        required=False, label="I understand this may block API requests from my current address"
    )


class LogFilterForm(forms.Form):
    errors = forms.BooleanField(required=False, label="Errors only (status ≥ 400)")
    request_id = forms.CharField(max_length=128, required=False, label="Request ID")


class WebhookForm(forms.Form):
    url = forms.CharField(
        max_length=2048, label="Endpoint URL", widget=forms.URLInput(attrs={"placeholder": "https://example.com/webhooks/aiprod"}),
        help_text="HTTPS, reachable from the internet. It must answer 2xx to the verification request.",
    )
    events = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple, required=False,
        help_text="Leave all unticked to receive every event.",
    )

    def __init__(self, *args, events=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["events"].choices = [(e, e) for e in events]
