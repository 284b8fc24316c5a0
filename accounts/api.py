"""Account endpoints: API keys, the IP allow-list, request logs (docs/authentication.md)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from accounts import selectors
from accounts.client_ip import client_ip
from accounts.exports import request_logs_csv
from accounts.models import ApiKey
from accounts.permissions import LiveKeyForWrites
from accounts.serializers import (
    ApiKeyCreatedOut,
    ApiKeyCreateInput,
    ApiKeyListOut,
    ApiKeyOut,
    CurrentKeyOut,
    RequestLogListOut,
    SecurityOut,
    SecurityPatchInput,
    WhitelistEntryForm,
    WhitelistEntryInput,
    api_key_data,
    current_key_data,
    request_log_data,
)
from accounts.services import security
from accounts.services.api_keys import create_api_key, revoke_api_key
from core.api import ApiView
from core.errors import ApplicationError, ValidationFailed, not_found
from core.openapi import CURSOR_PATTERN, api_doc, int_query, request_examples, str_query
from core.pagination import list_body, parse_limit


class CurrentApiKeyView(ApiView):
    @api_doc(summary="The API key making this request", response=CurrentKeyOut)
    def get(self, request):
        return Response(current_key_data(request.auth))


MAX_KEYS_LISTED = 100


def _manageable_keys(request):
    """The keys this key may see and revoke: a live key all of the account's,
    a test key only test keys (as it cannot create live ones)."""
    keys = selectors.api_keys_for(request.user)
    return keys if request.auth.livemode else keys.filter(environment="test")


class ApiKeyListView(ApiView):
    required_scopes = "keys.manage"

    @api_doc(summary="List API keys", response=ApiKeyListOut, operation_id="api_keys_list")
    def get(self, request):
        keys = list(_manageable_keys(request)[:MAX_KEYS_LISTED + 1])
        has_more = len(keys) > MAX_KEYS_LISTED
        return Response(list_body([api_key_data(k) for k in keys[:MAX_KEYS_LISTED]], has_more, None))

    @api_doc(summary="Create an API key (the key is shown once; its expiry is capped at the creating key's)", request=ApiKeyCreateInput, response=ApiKeyCreatedOut,
             status=201, errors=(413,),
             examples=request_examples(Read_only_test_key={"name": "CI", "environment": "test",
                                                           "scopes": ["jobs.read"], "expires_in_days": 90}))
    def post(self, request):
        data = ApiKeyCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        creator = request.auth
        environment = values.get("environment") or creator.environment
        scopes = values.get("scopes") or list(creator.scopes)
        beyond = [s for s in scopes if s not in creator.scopes]
        if beyond:
            raise ApplicationError(
                403, "INSUFFICIENT_SCOPE", f"A key cannot grant scopes it does not have: {', '.join(beyond)}"
            )
        if environment == "live" and not creator.livemode:
            raise ApplicationError(403, "INSUFFICIENT_SCOPE", "A test key cannot create live keys")
        key, plaintext = create_api_key(
            request.user,
            environment=environment,
            name=values["name"],
            scopes=scopes,
            expires_in_days=values.get("expires_in_days"),
            created_by=creator,  # never outlives the key that creates it
        )
        return Response({**api_key_data(key), "key": plaintext}, status=201)


class ApiKeyDetailView(ApiView):
    required_scopes = "keys.manage"

    def _key(self, request, key_id) -> ApiKey:
        key = _manageable_keys(request).filter(pk=key_id).first()
        if key is None:
            raise not_found("API key")
        return key

    @api_doc(summary="Retrieve an API key", response=ApiKeyOut, errors=(404,))
    def get(self, request, key_id):
        return Response(api_key_data(self._key(request, key_id)))

    @api_doc(summary="Revoke an API key", response=ApiKeyOut, errors=(404,))
    def delete(self, request, key_id):
        return Response(api_key_data(revoke_api_key(self._key(request, key_id))))


class SecurityView(ApiView):
    required_scopes = "security.manage"
    permission_classes = [*ApiView.permission_classes, LiveKeyForWrites]
    live_key_for_writes = True  # a test key must not lock out the live one (docs/authentication.md)

    @api_doc(summary="The IP allow-list", response=SecurityOut)
    def get(self, request):
        return Response({"ip_whitelist": security.allowlist(request.user), "client_ip": client_ip(request)})

    @api_doc(summary="Enable/disable or replace the IP allow-list (Pro+; live key: else 403 LIVE_KEY_REQUIRED)", request=SecurityPatchInput, response=SecurityOut,
             errors=(413, 422),
             examples=request_examples(Enable_with_addresses={"enabled": True, "ips": ["203.0.113.7", "198.51.100.0/24"]}))
    def patch(self, request):
        self._require_paid(request)
        data = SecurityPatchInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        cidrs = security.normalise_cidrs(values["ips"]) if "ips" in values else None
        result = security.set_allowlist(
            request.user,
            enabled=values.get("enabled"),
            cidrs=cidrs,
            requester_ip=client_ip(request),
            force=values["force"],
        )
        return Response({"ip_whitelist": result})

    @staticmethod
    def _require_paid(request):
        security.require_allowlist_feature(request.user)


class WhitelistView(SecurityView):
    # POST and DELETE only: GET/PATCH belong to /account/security, not to this path.
    http_method_names = ["post", "delete", "options"]

    @api_doc(summary="Add an address or CIDR to the allow-list (Pro+; live key: else 403 LIVE_KEY_REQUIRED)",
             request={"application/json": WhitelistEntryInput, "application/x-www-form-urlencoded": WhitelistEntryForm},
             response=SecurityOut, status=201, errors=(413,),
             examples=request_examples(One_address={"ip": "203.0.113.7"}))
    def post(self, request):
        self._require_paid(request)
        data = WhitelistEntryInput(data=request.data)
        data.is_valid(raise_exception=True)
        (cidr,) = security.normalise_cidrs([data.validated_data["ip"]], field="ip")
        return Response({"ip_whitelist": security.add_allowlist_entry(request.user, cidr)}, status=201)

    @api_doc(
        summary="Remove an address from the allow-list (Pro+; live key: else 403 LIVE_KEY_REQUIRED)",
        response=SecurityOut,
        errors=(404, 413, 422),
        parameters=[
            OpenApiParameter("ip", {"type": "string", "minLength": 1}, required=True,
                             description='Address or CIDR (or in a JSON body {"ip": ...})'),
            str_query("force", description='"1" or "true": allow locking yourself out (anything else: no)'),
        ],
    )
    def delete(self, request):
        self._require_paid(request)
        raw = request.query_params.get("ip") or (request.data.get("ip") if isinstance(request.data, dict) else None)
        if not raw:
            raise ValidationFailed({"ip": ["This field is required"]})
        (cidr,) = security.normalise_cidrs([raw], field="ip")
        force = request.query_params.get("force") in ("1", "true")
        result = security.remove_allowlist_entry(request.user, cidr, requester_ip=client_ip(request), force=force)
        return Response({"ip_whitelist": result})


class RequestLogView(ApiView):
    required_scopes = "account.read"

    @api_doc(
        summary="The account's API request log (30 days), by request time (newest first unless sort=asc)",
        response={"application/json": RequestLogListOut, "text/csv": OpenApiTypes.STR},
        parameters=[
            str_query("filter", description='"error": only answers with status >= 400 (other values: all)'),
            str_query("level", description='Same as filter'),
            int_query("limit", minimum=1, maximum=1000, description="default 100"),
            str_query("sort", enum=["asc", "desc"], default="desc"),
            str_query("format", enum=["json", "csv"], default="json"),
            str_query("request_id", description="Only the request with this id"),
            OpenApiParameter("cursor", {"type": "string", "pattern": CURSOR_PATTERN},
                             description="next_cursor of the previous page"),
        ],
    )
    def get(self, request):
        params = request.query_params
        errors_only = params.get("filter") == "error" or params.get("level") == "error"
        limit = parse_limit(params.get("limit"), default=100, maximum=1000)
        sort = params.get("sort", "desc")
        output = params.get("format", "json")
        if sort not in ("asc", "desc"):
            raise ValidationFailed({"sort": ["Must be one of: asc, desc"]})
        if output not in ("json", "csv"):
            raise ValidationFailed({"format": ["Must be one of: json, csv"]})
        rows = selectors.request_logs_for(
            request.user, livemode=request.auth.livemode, errors_only=errors_only, request_id=params.get("request_id")
        )
        rows, has_more, next_cursor = selectors.request_logs_page(
            rows, limit=limit, sort=sort, cursor=params.get("cursor")
        )
        entries = [request_log_data(r) for r in rows]
        if output == "csv":
            return request_logs_csv(entries)
        return Response(list_body(entries, has_more, next_cursor))
