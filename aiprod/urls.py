import os

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from aiprod.health import health

urlpatterns = [
    path("health", health, name="health"),
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    path("docs", SpectacularSwaggerView.as_view(url_name="openapi"), name="docs"),
    path("admin/", admin.site.urls),
    path("dashboard/", include("dashboard.urls")),
    path("", include("aiprod.ops.urls")),
    path("", include("accounts.urls")),
    path("", include("jobs.urls")),
    path("", include("quotas.urls")),
    path("", include("webhooks.urls")),
]

if os.environ.get("AIPROD_BENCH_BASELINES") == "1":  # benchmark baselines only
    urlpatterns += [path("", include("bench.baseline_views"))]

handler400 = "aiprod.errors.handler400"
handler403 = "aiprod.errors.handler403"
handler404 = "aiprod.errors.handler404"
handler500 = "aiprod.errors.handler500"
