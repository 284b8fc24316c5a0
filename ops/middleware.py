"""Maintenance mode on every request, before authentication touches the
database (runs right after RequestContextMiddleware, so the 503 still carries
X-Request-ID)."""

from ops.maintenance import current_state, describe, maintenance_response

# What keeps working in maintenance: health for load balancers, the status
# page for customers, the admin to switch it off, the dashboard, static files.
EXEMPT_PREFIXES = (
    "/health",
    "/status",
    "/api/status.json",
    "/admin/",
    "/dashboard/",
    "/static/",
    "/docs",
    "/openapi.json",
    "/metrics",  # operators watch the service through maintenance too
)


class MaintenanceMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(EXEMPT_PREFIXES):
            state = current_state()
            if state.enabled:
                return maintenance_response(request, state)
        elif request.method == "POST" and request.path.startswith("/dashboard/"):
            # The dashboard stays readable in maintenance but refuses changes with
            # this notice; it learns it here, without importing ops.
            state = current_state()
            request.maintenance_notice = describe(state) if state.enabled else ""
        return self.get_response(request)
