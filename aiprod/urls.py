from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from accounts.login_limit import limit_failed_logins
from ops.health import health
from ops.views import staff_diagnostics

urlpatterns = [
    path("health", health, name="health"),
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    path("docs", SpectacularSwaggerView.as_view(url_name="openapi"), name="docs"),
    # The admin login behind the dashboard's failed-login limiter (before admin.site.urls, which it shadows).
    path("admin/login/", limit_failed_logins(admin.site.login, template="admin/too_many_logins.html")),
    path("admin/diagnostics/", admin.site.admin_view(staff_diagnostics), name="staff-diagnostics"),
    path("admin/", admin.site.urls),
    path("dashboard/", include("dashboard.urls")),
    path("", include("ops.urls")),
    path("", include("accounts.urls")),
    path("", include("jobs.urls")),
    path("", include("webhooks.urls")),
]

if settings.AIPROD_BENCH_BASELINES:  # benchmark baselines only
    urlpatterns += [path("", include("bench.baseline_views"))]

handler400 = "core.errors.handler400"
handler403 = "core.errors.handler403"
handler404 = "core.errors.handler404"
handler500 = "core.errors.handler500"
