"""Events API (docs/webhooks.md): GET /events and GET /events/{id}, scope account.read.

The outbox as a customer sees it: what happened to the account in the key's
environment, whether or not any webhook got it, so a receiver can reconcile
after an outage without trusting delivery.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from accounts.scoping import get_owned_or_404
from core.api import ApiView
from core.openapi import CURSOR_PATTERN, api_doc, int_query, str_query
from core.pagination import list_body, paginate
from webhooks import selectors
from webhooks.models import SUBSCRIBABLE_EVENTS
from webhooks.serializers import EventDetailOut, EventListOut, event_data

_INSTANT = {"anyOf": [
    {"type": "string", "maxLength": 0},
    {"type": "string", "format": "date"},
    {"type": "string", "format": "date-time"},
]}
EVENT_FILTERS = [
    OpenApiParameter("type", {"type": "array", "items": {"type": "string", "enum": list(SUBSCRIBABLE_EVENTS)}},
                     explode=True, description="repeatable: ?type=job.completed&type=job.failed (any of them)"),
    OpenApiParameter("created_after", _INSTANT, description="inclusive; ISO 8601 date or datetime, naive = UTC"),
    OpenApiParameter("created_before", _INSTANT, description="exclusive; ISO 8601 date or datetime, naive = UTC"),
    int_query("limit", minimum=1, maximum=100, description="default 20"),
    str_query("cursor", description="next_cursor of the previous page", pattern=CURSOR_PATTERN),
]


class EventListView(ApiView):
    required_scopes = "account.read"

    @api_doc(summary="List the account's events, newest first (kept AIPROD_EVENT_RETENTION_DAYS, default 30)",
             response=EventListOut, parameters=EVENT_FILTERS, operation_id="events_list")
    def get(self, request):
        events = selectors.filter_events(
            selectors.events_for(request.auth.account_id, request.auth.livemode), request.query_params
        )
        rows, has_more, next_cursor = paginate(events, request.query_params)
        return Response(list_body([event_data(e) for e in rows], has_more, next_cursor))


class EventDetailView(ApiView):
    required_scopes = "account.read"

    @api_doc(summary="An event with its deliveries (target, status, attempts)", response=EventDetailOut,
             errors=(404,))
    def get(self, request, event_id):
        key = request.auth
        event = get_owned_or_404(selectors.events_for(key.account_id, key.livemode), request, event_id, "Event")
        return Response(event_data(event, deliveries=selectors.deliveries_of_event(event)))
