"""The public status page (docs/operations.md) in the Atlassian Statuspage shape.

Component statuses come from live checks (cached for a few seconds per
process: the page is public and must stay cheap under load), then incidents
and maintenance posted by staff raise or override them. It still answers when
the database is down — that is when customers read it.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.apps import apps
from django.db import DatabaseError, transaction
from django.utils import timezone

from ops.models import COMPONENT_NAMES, COMPONENTS, Incident, MaintenanceWindow
from ops import diagnostics
from ops.maintenance import current_state
from core.timefmt import iso

logger = logging.getLogger(__name__)

OPERATIONAL = "operational"
DEGRADED = "degraded_performance"
PARTIAL_OUTAGE = "partial_outage"
MAJOR_OUTAGE = "major_outage"
UNDER_MAINTENANCE = "under_maintenance"
_SEVERITY = {OPERATIONAL: 0, UNDER_MAINTENANCE: 0, DEGRADED: 1, PARTIAL_OUTAGE: 2, MAJOR_OUTAGE: 3}

INDICATORS = ("none", "minor", "major", "critical")
DESCRIPTIONS = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major Service Outage",
    "maintenance": "Service Under Maintenance",
}
LABELS = {
    OPERATIONAL: "Operational",
    DEGRADED: "Degraded performance",
    PARTIAL_OUTAGE: "Partial outage",
    MAJOR_OUTAGE: "Major outage",
    UNDER_MAINTENANCE: "Under maintenance",
    "scheduled": "Scheduled",
    "in_progress": "In progress",
    "completed": "Completed",
}
# What an unresolved incident does to the components it names.
IMPACT_TO_COMPONENT = {"none": OPERATIONAL, "minor": DEGRADED, "major": PARTIAL_OUTAGE, "critical": MAJOR_OUTAGE}
COMPONENT_TO_INDICATOR = {OPERATIONAL: "none", UNDER_MAINTENANCE: "none", DEGRADED: "minor",
                          PARTIAL_OUTAGE: "major", MAJOR_OUTAGE: "critical"}

CHECK_TTL_SECONDS = 5.0
API_WINDOW = timedelta(minutes=5)
WEBHOOK_WINDOW = timedelta(minutes=15)
MIN_SAMPLE = 20  # ratios over fewer requests or deliveries say nothing
RECENT_ATTEMPTS = 200
RECENT_REQUESTS = 500

_checks_memo: tuple[dict, float] | None = None


def _ratio_status(bad: int, total: int, *, degraded: float, partial: float) -> str:
    if total < MIN_SAMPLE:
        return OPERATIONAL
    ratio = bad / total
    if ratio >= partial:
        return PARTIAL_OUTAGE
    if ratio >= degraded:
        return DEGRADED
    return OPERATIONAL


def _api_status(since) -> str:
    """From the server-error share of the latest logged API requests (the
    newest rows by primary key, which is indexed, within the window)."""
    from accounts.models import RequestLog

    recent = RequestLog.objects.order_by("-pk").values_list("status", "created_at")[:RECENT_REQUESTS]
    statuses = [status for status, created_at in recent if created_at >= since]
    return _ratio_status(sum(1 for status in statuses if status >= 500), len(statuses), degraded=0.05, partial=0.5)


def delivery_attempt_model():
    """The webhooks app's per-attempt log model, when that app has one."""
    for name in ("DeliveryAttempt", "Delivery"):
        try:
            return apps.get_model("webhooks", name)
        except LookupError:
            continue
    return None


def _webhooks_status(since) -> str:
    """From the failed share of the latest delivery attempts. Receivers fail
    on their own, so only a large share says something about us."""
    model = delivery_attempt_model()
    if model is None:
        return OPERATIONAL
    fields = {field.name for field in model._meta.get_fields()}
    if not {"status", "created_at"} <= fields:
        return OPERATIONAL
    # The newest rows by primary key (indexed), then the time window.
    newest = model._meta.pk.get_internal_type() in ("AutoField", "BigAutoField")
    recent = model.objects.order_by("-pk" if newest else "-created_at").values_list("status", "created_at")[:RECENT_ATTEMPTS]
    statuses = [status for status, created_at in recent if created_at >= since and status in ("delivered", "failed")]
    return _ratio_status(statuses.count("failed"), len(statuses), degraded=0.5, partial=0.9)


def _jobs_status(queue: dict) -> str:
    return {"healthy": OPERATIONAL, "degraded": DEGRADED}.get(queue["status"], MAJOR_OUTAGE)


def _checked(check, *args) -> str:
    """One component's check; a query that fails makes only it degraded."""
    try:
        with transaction.atomic():  # a savepoint inside a caller's transaction
            return check(*args)
    except DatabaseError:
        logger.warning("status check %s failed", check.__name__, exc_info=True)
        return DEGRADED


def live_checks() -> dict[str, str]:
    """Component id -> status from live readings (memoised CHECK_TTL_SECONDS)."""
    global _checks_memo
    if _checks_memo is not None and time.monotonic() - _checks_memo[1] < CHECK_TTL_SECONDS:
        return _checks_memo[0]
    latency = diagnostics.ping_database()
    if latency is None:
        checks = {component: MAJOR_OUTAGE for component, _ in COMPONENTS}
    else:
        now = timezone.now()
        checks = {
            "database": DEGRADED if latency > diagnostics.SLOW_DATABASE_MS else OPERATIONAL,
            "api": _checked(_api_status, now - API_WINDOW),
            "jobs": _jobs_status(diagnostics.queue_reading()),
        }
        # Deliveries run on the same workers as jobs.
        checks["webhooks"] = (
            MAJOR_OUTAGE if checks["jobs"] == MAJOR_OUTAGE else _checked(_webhooks_status, now - WEBHOOK_WINDOW)
        )
    _checks_memo = (checks, time.monotonic())
    return checks


def forget_checks() -> None:
    global _checks_memo
    _checks_memo = None


# --- serialising -----------------------------------------------------------------------


def _component_refs(ids: list[str], statuses: dict[str, str]) -> list[dict]:
    return [{"id": cid, "name": COMPONENT_NAMES[cid], "status": statuses[cid]} for cid in ids if cid in COMPONENT_NAMES]


def _incident_json(incident: Incident, statuses: dict, page_url: str) -> dict:
    return {
        "id": incident.id,
        "name": incident.name,
        "status": incident.status,
        "impact": incident.impact,
        "created_at": iso(incident.created_at),
        "updated_at": iso(incident.updated_at),
        "resolved_at": iso(incident.resolved_at),
        "shortlink": f"{page_url}#{incident.id}",
        "incident_updates": [
            {
                "id": update.id,
                "incident_id": incident.id,
                "status": update.status,
                "body": update.body,
                "created_at": iso(update.created_at),
                "updated_at": iso(update.created_at),
                "display_at": iso(update.created_at),
            }
            for update in incident.updates.all()
        ],
        "components": _component_refs(incident.components, statuses),
    }


def _window_json(window: MaintenanceWindow, statuses: dict, now) -> dict:
    return {
        "id": window.id,
        "name": window.name,
        "status": window.status(now),
        "impact": "maintenance",
        "scheduled_for": iso(window.scheduled_for),
        "scheduled_until": iso(window.scheduled_until),
        "created_at": iso(window.created_at),
        "updated_at": iso(window.updated_at),
        "incident_updates": (
            [{"id": f"{window.id}_1", "status": window.status(now), "body": window.description,
              "created_at": iso(window.created_at), "display_at": iso(window.created_at)}]
            if window.description
            else []
        ),
        "components": _component_refs(window.components, statuses),
    }


def _switch_json(state, statuses: dict) -> dict:
    """The maintenance switch, shown as the maintenance in progress."""
    return {
        "id": "mnt_switch",
        "name": state.message or "Scheduled maintenance",
        "status": "in_progress",
        "impact": "maintenance",
        "scheduled_for": iso(state.updated_at),
        "scheduled_until": iso(state.until),
        "created_at": iso(state.updated_at),
        "updated_at": iso(state.updated_at),
        "incident_updates": [],
        "components": _component_refs(["api"], statuses),
    }


# --- the summary -----------------------------------------------------------------------


def summary(page_url: str = "/status") -> dict:
    """The /api/status.json body."""
    now = timezone.now()
    checks = live_checks()
    state = current_state()
    try:
        incidents = list(Incident.objects.exclude(status=Incident.Status.RESOLVED).prefetch_related("updates"))
        windows = list(MaintenanceWindow.objects.filter(cancelled=False, scheduled_until__gt=now))
    except DatabaseError:
        incidents, windows = [], []

    statuses = dict(checks)
    for incident in incidents:
        implied = IMPACT_TO_COMPONENT[incident.impact]
        for cid in incident.components:
            if cid in statuses and _SEVERITY[implied] > _SEVERITY[statuses[cid]]:
                statuses[cid] = implied
    in_maintenance = {cid for w in windows if w.status(now) == "in_progress" for cid in w.components}
    if state.enabled:
        # The switch takes the API down on purpose; whatever else fails while
        # it is on is taken to be the maintenance's doing.
        in_maintenance |= {"api"} | {cid for cid, status in checks.items() if status != OPERATIONAL}
    for cid in in_maintenance & statuses.keys():
        if not any(cid in incident.components and incident.impact == "critical" for incident in incidents):
            statuses[cid] = UNDER_MAINTENANCE

    worst = max(
        [COMPONENT_TO_INDICATOR[s] for s in statuses.values()] + [i.impact for i in incidents],
        key=INDICATORS.index,
    )
    indicator = "maintenance" if in_maintenance and worst in ("none", "minor") else worst

    maintenances = [_window_json(w, statuses, now) for w in windows]
    if state.enabled:
        maintenances.insert(0, _switch_json(state, statuses))
    return {
        "page": {"id": "aiprod", "name": "AIPROD", "url": page_url, "time_zone": "Etc/UTC", "updated_at": iso(now)},
        "status": {"indicator": indicator, "description": DESCRIPTIONS[indicator]},
        "components": [
            {"id": cid, "name": name, "status": statuses[cid], "position": position, "updated_at": iso(now)}
            for position, (cid, name) in enumerate(COMPONENTS, start=1)
        ],
        "incidents": [_incident_json(incident, statuses, page_url) for incident in incidents],
        "scheduled_maintenances": maintenances,
    }
