"""Small presentation helpers for the dashboard templates."""

from __future__ import annotations

from django import template
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html

from core.timefmt import iso

register = template.Library()

STATUS_TONES = {
    "active": "ok", "completed": "ok", "delivered": "ok", "verified": "ok", "live": "ok",
    "pending": "info", "processing": "info", "sending": "info", "unverified": "warn", "test": "warn",
    "skipped": "muted", "cancelled": "muted", "expired": "muted", "inactive": "muted",
    "revoked": "danger", "failed": "danger", "disabled": "danger",
}


@register.simple_tag
def when(value, empty="—"):
    """A <time> in UTC, machine-readable in its datetime attribute."""
    if value in (None, ""):
        return empty
    if isinstance(value, str):  # an iso() string from an API-shaped dict
        value = parse_datetime(value.replace("Z", "+00:00"))
        if value is None:
            return empty
    return format_html('<time datetime="{}">{}</time>', iso(value), value.strftime("%Y-%m-%d %H:%M UTC"))


@register.simple_tag
def badge(status, label=None):
    tone = STATUS_TONES.get(str(status), "muted")
    return format_html('<span class="badge badge-{}">{}</span>', tone, label or status)


@register.simple_tag
def http_badge(code):
    """An HTTP status as a badge: 2xx green, 3xx grey, 4xx amber, 5xx red."""
    if code in (None, ""):
        return format_html('<span class="badge badge-muted">{}</span>', "no response")
    code = int(code)
    tone = "ok" if code < 300 else "muted" if code < 400 else "warn" if code < 500 else "danger"
    return format_html('<span class="badge badge-{}">{}</span>', tone, code)


@register.simple_tag
def duration(ms, empty="—"):
    """Milliseconds for people: 840 ms, 38.2 s, 12 min 5 s."""
    if ms is None:
        return empty
    if ms < 1000:
        return f"{ms} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"
