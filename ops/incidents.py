"""Incidents posted by staff for the status page."""

from django.db import transaction
from django.utils import timezone

from ops.models import Incident, IncidentUpdate

RESOLVED_MESSAGE = "This incident has been resolved."


def stamp_resolution(incident: Incident) -> None:
    """Keeps `resolved_at` in step with `status` before a save."""
    if incident.status == Incident.Status.RESOLVED:
        incident.resolved_at = incident.resolved_at or timezone.now()
    else:
        incident.resolved_at = None


@transaction.atomic
def resolve_incident(incident: Incident, message: str = RESOLVED_MESSAGE) -> bool:
    """Resolves an open incident and posts a final update. Returns False when
    it was already resolved (nothing written)."""
    now = timezone.now()
    won = (
        Incident.objects.filter(pk=incident.pk)
        .exclude(status=Incident.Status.RESOLVED)
        .update(status=Incident.Status.RESOLVED, resolved_at=now, updated_at=now)
    )
    if won:
        IncidentUpdate.objects.create(incident_id=incident.pk, status=Incident.Status.RESOLVED, body=message, created_at=now)
        incident.status, incident.resolved_at = Incident.Status.RESOLVED, now
    return bool(won)
