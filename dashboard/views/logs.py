"""The request log: the rows GET /account/logs returns, with its error filter,
request-id search and CSV export (the API's own CSV writer)."""

from __future__ import annotations

from django.shortcuts import render

from accounts.exports import request_logs_csv
from accounts.selectors import request_logs_for, request_logs_page
from core.errors import ValidationFailed
from accounts.serializers import request_log_data
from dashboard.customer import customer_view
from dashboard.forms import LogFilterForm

PAGE_SIZE = 50
CSV_MAX_ROWS = 1000  # the API's `limit` ceiling for /account/logs


def _filtered(request):
    form = LogFilterForm(request.GET or None)
    values = form.cleaned_data if form.is_valid() else {}
    rows = request_logs_for(
        request.customer.account,
        livemode=request.customer.livemode,
        errors_only=bool(values.get("errors")),
        request_id=(values.get("request_id") or "").strip() or None,
    )
    return form, values, rows


@customer_view
def log_list(request):
    form, values, rows = _filtered(request)
    try:
        page, _, next_cursor = request_logs_page(rows, limit=PAGE_SIZE, cursor=request.GET.get("before") or None)
    except ValidationFailed:  # a mangled link: start from the newest
        page, _, next_cursor = request_logs_page(rows, limit=PAGE_SIZE)
    query = request.GET.copy()
    query.pop("before", None)
    older = None
    if next_cursor:
        query["before"] = next_cursor
        older = query.urlencode()
    query.pop("before", None)
    return render(
        request,
        "dashboard/logs.html",
        {
            "section": "logs",
            "form": form,
            "rows": page,
            "older_query": older,
            "filter_query": query.urlencode(),
            "filtered": bool(values.get("errors") or values.get("request_id")),
        },
    )


@customer_view
def log_csv(request):
    _, _, rows = _filtered(request)
    page, _, _ = request_logs_page(rows, limit=CSV_MAX_ROWS)
    entries = [request_log_data(row) for row in page]
    return request_logs_csv(entries)
