from django.urls import path

from ops import metrics, views

urlpatterns = [
    path("diagnostics", views.DiagnosticsView.as_view(), name="diagnostics"),
    path("status", views.status_page, name="status"),
    path("api/status.json", views.StatusSummaryView.as_view(), name="status-json"),
    path("metrics", metrics.MetricsView.as_view(), name="metrics"),
]
