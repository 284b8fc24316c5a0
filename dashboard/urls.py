from django.urls import path

from dashboard.views import auth, jobs, keys, logs, mode, overview, security, usage, webhooks

app_name = "dashboard"

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("login", auth.LoginView.as_view(), name="login"),
    path("logout", auth.LogoutView.as_view(), name="logout"),
    path("mode", mode.switch_mode, name="mode"),
    path("keys", keys.key_list, name="keys"),
    path("keys/new", keys.key_new, name="key_new"),
    path("keys/<str:key_id>/revoke", keys.key_revoke, name="key_revoke"),
    path("jobs", jobs.job_list, name="jobs"),
    path("jobs/<str:job_id>", jobs.job_detail, name="job_detail"),
    path("jobs/<str:job_id>/retry", jobs.job_retry, name="job_retry"),
    path("jobs/<str:job_id>/cancel", jobs.job_cancel, name="job_cancel"),
    path("webhooks", webhooks.webhook_list, name="webhooks"),
    path("webhooks/new", webhooks.webhook_create, name="webhook_create"),
    path("webhooks/deliveries/<str:delivery_id>", webhooks.delivery_detail, name="delivery_detail"),
    path("webhooks/deliveries/<str:delivery_id>/redeliver", webhooks.delivery_redeliver, name="delivery_redeliver"),
    path("webhooks/<str:webhook_id>", webhooks.webhook_detail, name="webhook_detail"),
    path("webhooks/<str:webhook_id>/verify", webhooks.webhook_verify, name="webhook_verify"),
    path("webhooks/<str:webhook_id>/test", webhooks.webhook_test, name="webhook_test"),
    path("webhooks/<str:webhook_id>/rotate-secret", webhooks.webhook_rotate, name="webhook_rotate"),
    path("webhooks/<str:webhook_id>/active", webhooks.webhook_toggle, name="webhook_toggle"),
    path("webhooks/<str:webhook_id>/delete", webhooks.webhook_delete, name="webhook_delete"),
    path("logs", logs.log_list, name="logs"),
    path("logs.csv", logs.log_csv, name="logs_csv"),
    path("security", security.security_page, name="security"),
    path("security/allowlist/add", security.allowlist_add, name="allowlist_add"),
    path("security/allowlist/remove", security.allowlist_remove, name="allowlist_remove"),
    path("security/allowlist/toggle", security.allowlist_toggle, name="allowlist_toggle"),
    path("usage", usage.usage, name="usage"),
]
