"""ISO 8601 UTC timestamps with a `Z` (docs/jobs.md), and instants read from query strings."""

import re
from datetime import date, datetime, time, timezone

from django.utils import timezone as django_timezone
from django.utils.dateparse import parse_date, parse_datetime

from core.errors import ValidationFailed

# A "+" in an unencoded query string arrives as a space: "...T06:00:00 00:00".
_SPACED_OFFSET = re.compile(r"(T\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$")


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def month_start(moment: datetime | None = None) -> date:
    """The first day of the UTC calendar month containing `moment` (default:
    now): the period of monthly quotas and of job-name uniqueness."""
    utc = (moment or django_timezone.now()).astimezone(timezone.utc)
    return utc.date().replace(day=1)


def parse_instant(field: str, raw: str) -> datetime:
    """An ISO 8601 date (its midnight) or datetime from a query string; naive
    means UTC. Anything else is a 400 naming ``field``."""
    value = _SPACED_OFFSET.sub(r"\1+\2", raw.strip())
    try:
        moment = parse_datetime(value)
        if moment is None:
            day = parse_date(value)
            if day is not None:
                moment = datetime.combine(day, time.min)
        if moment is not None:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            # In UTC: PostgreSQL refuses offsets beyond 15:59 that ISO 8601 allows.
            moment = moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        moment = None
    if moment is None:
        raise ValidationFailed({field: ["Must be an ISO 8601 date or datetime, e.g. 2026-11-29T06:00:00Z"]})
    return moment


def filter_created_between(queryset, params, errors: dict):
    """Applies the list endpoints' ``created_after`` (inclusive) and
    ``created_before`` (exclusive) query parameters to ``queryset``: a day's
    rows are created_after=2026-11-01&created_before=2026-11-02. A malformed
    one adds its 400 message to ``errors`` (the caller raises them all)."""
    for field, lookup in (("created_after", "created_at__gte"), ("created_before", "created_at__lt")):
        raw = params.get(field)
        if raw:
            try:
                queryset = queryset.filter(**{lookup: parse_instant(field, raw)})
            except ValidationFailed as exc:
                errors.update(exc.details)
    return queryset
