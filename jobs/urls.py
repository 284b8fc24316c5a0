from django.urls import path

from jobs import api, reports_api

urlpatterns = [
    path("jobs", api.JobListView.as_view()),
    # Before jobs/<id>: these are not ids.
    path("jobs/batch", api.JobBatchView.as_view()),
    path("jobs/stream", api.JobStreamView.as_view()),
    path("jobs/<str:job_id>", api.JobDetailView.as_view()),
    path("jobs/<str:job_id>/cancel", api.JobCancelView.as_view()),
    path("jobs/<str:job_id>/timeout", api.JobTimeoutView.as_view()),
    path("jobs/<str:job_id>/retry", api.JobRetryView.as_view()),
    path("jobs/<str:job_id>/output", api.JobOutputView.as_view()),
    path("jobs/<str:job_id>/timeline", api.JobTimelineView.as_view()),
    path("uploads", api.UploadListView.as_view()),
    path("uploads/<str:upload_id>/content", api.UploadContentView.as_view()),
    path("account/usage", reports_api.UsageView.as_view()),
    path("account/metrics", reports_api.MetricsView.as_view()),
]
