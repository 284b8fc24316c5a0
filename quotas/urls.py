from django.urls import path

from quotas import api

urlpatterns = [
    path("account/usage", api.UsageView.as_view()),
    path("account/metrics", api.MetricsView.as_view()),
]
