from django.urls import path

from accounts import api

urlpatterns = [
    path("account/api-keys/current", api.CurrentApiKeyView.as_view()),
    path("account/api-keys", api.ApiKeyListView.as_view()),
    path("account/api-keys/<str:key_id>", api.ApiKeyDetailView.as_view()),
    path("account/security", api.SecurityView.as_view()),
    path("account/security/whitelist", api.WhitelistView.as_view()),
    path("account/logs", api.RequestLogView.as_view()),
]
