"""HTTP shapes of accounts, keys, the allow-list and request logs."""

from rest_framework import serializers

from accounts.models import SCOPES, Environment
from core.fields import (
    StrictBooleanField,
    StrictChoiceField,
    StrictCharField,
    StrictDictField,
    StrictIntegerField,
    StrictListField,
    StrictSerializer,
)
from core.timefmt import iso
from accounts.plans import limits_for


def api_key_data(key, now=None) -> dict:
    return {
        "id": key.id,
        "object": "api_key",
        "name": key.name,
        "prefix": key.prefix,
        "environment": key.environment,
        "livemode": key.livemode,
        "scopes": key.scopes,
        "status": key.status(now),
        "created_at": iso(key.created_at),
        "expires_at": iso(key.expires_at),
        "revoked_at": iso(key.revoked_at),
        "last_used_at": iso(key.last_used_at),
    }


def current_key_data(key) -> dict:
    limits = limits_for(key.account)
    return {
        **api_key_data(key),
        "tier": key.account.tier,
        "rate_limit_requests": limits.jobs_per_month,
        "rate_limit_period": "month",
        "requests_per_second": limits.requests_per_second,
    }


def request_log_data(row) -> dict:
    return {
        "request_id": row.request_id,
        "timestamp": iso(row.created_at),
        "method": row.method,
        "path": row.path,
        "status": row.status,
        "duration_ms": row.duration_ms,
        "ip": row.ip,
        "api_key_prefix": row.api_key_prefix,
        "error_code": row.error_code,
        "message": row.message,
    }


class ApiKeyCreateInput(StrictSerializer):
    name = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    environment = StrictChoiceField(choices=Environment.values, required=False)
    scopes = StrictListField(child=StrictChoiceField(choices=SCOPES), required=False, allow_empty=False, min_length=1)
    expires_in_days = StrictIntegerField(min_value=1, max_value=3650, required=False)


class SecurityPatchInput(StrictSerializer):
    ip_whitelist = StrictDictField(required=False)
    enabled = StrictBooleanField(required=False)
    ips = StrictListField(child=StrictCharField(max_length=50), required=False, max_length=1000)
    force = StrictBooleanField(required=False, default=False)

    def validate(self, attrs):
        nested = attrs.pop("ip_whitelist", None) or {}
        # Accept both {"enabled": ...} and the GET shape {"ip_whitelist": {...}};
        # a nested value's error is reported where it was sent.
        errors = {}
        for name in ("enabled", "ips"):
            if name in nested and name not in attrs:
                try:
                    attrs[name] = self.fields[name].run_validation(nested[name])
                except serializers.ValidationError as exc:
                    errors[name] = exc.detail
        if errors:
            raise serializers.ValidationError({"ip_whitelist": errors})
        return attrs


class WhitelistEntryInput(StrictSerializer):
    ip = StrictCharField(max_length=50)
    force = StrictBooleanField(required=False, default=False)


# --- Response shapes, for the OpenAPI document only -------------------------------

API_KEY_STATUSES = ["active", "expired", "revoked"]


class ApiKeyOut(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    environment = serializers.ChoiceField(Environment.values)
    livemode = serializers.BooleanField()
    scopes = serializers.ListField(child=serializers.ChoiceField(SCOPES))
    status = serializers.ChoiceField(API_KEY_STATUSES)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)


class ApiKeyCreatedOut(ApiKeyOut):
    key = serializers.CharField(help_text="The secret key, shown only in this response")


class CurrentKeyOut(ApiKeyOut):
    tier = serializers.ChoiceField(["free", "pro", "enterprise"])
    rate_limit_requests = serializers.IntegerField(help_text="Jobs per month of the plan")
    rate_limit_period = serializers.ChoiceField(["month"])
    requests_per_second = serializers.IntegerField()


class ApiKeyListOut(serializers.Serializer):
    object = serializers.CharField()
    data = ApiKeyOut(many=True)
    has_more = serializers.BooleanField()
    next_cursor = serializers.CharField(allow_null=True)


class AllowlistOut(serializers.Serializer):
    enabled = serializers.BooleanField()
    ips = serializers.ListField(child=serializers.CharField())


class SecurityOut(serializers.Serializer):
    ip_whitelist = AllowlistOut()
    client_ip = serializers.CharField(
        required=False, allow_null=True, help_text="GET only: the address this request came from"
    )


class WhitelistEntryForm(serializers.Serializer):
    """POST /account/security/whitelist as a form (curl -d "ip=...")."""

    ip = serializers.CharField(max_length=50)


class RequestLogEntryOut(serializers.Serializer):
    request_id = serializers.CharField()
    timestamp = serializers.DateTimeField()
    method = serializers.CharField()
    path = serializers.CharField()
    status = serializers.IntegerField()
    duration_ms = serializers.IntegerField()
    ip = serializers.CharField(allow_null=True)
    api_key_prefix = serializers.CharField()
    error_code = serializers.CharField(allow_null=True)
    message = serializers.CharField(allow_null=True)


class RequestLogListOut(serializers.Serializer):
    object = serializers.CharField()
    data = RequestLogEntryOut(many=True)
    has_more = serializers.BooleanField()
    next_cursor = serializers.CharField(allow_null=True)
