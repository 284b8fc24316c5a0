"""Request-log export as CSV (the API's ?format=csv and the dashboard's button)."""

import csv
import io

from django.http import HttpResponse

LOG_FIELDS = [
    "request_id", "timestamp", "method", "path", "status", "duration_ms", "ip", "api_key_prefix", "error_code", "message",
]


# Spreadsheets run cells that start with these as formulas (OWASP "CSV
# injection": a leading tab or carriage return counts as well).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value):
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def request_logs_csv(entries: list[dict]) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LOG_FIELDS)
    writer.writeheader()
    writer.writerows({k: _csv_cell(v) for k, v in entry.items()} for entry in entries)
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="aiprod-logs.csv"'
    return response
