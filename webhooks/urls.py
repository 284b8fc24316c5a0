from django.urls import path

from webhooks import api, events_api

urlpatterns = [
    path("account/webhooks", api.WebhookListView.as_view()),
    path("account/webhooks/default/secret", api.DefaultSecretView.as_view()),
    path("account/webhooks/default/rotate-secret", api.DefaultSecretRotateView.as_view()),
    path("account/webhooks/deliveries/<str:delivery_id>", api.DeliveryDetailView.as_view()),
    path("account/webhooks/deliveries/<str:delivery_id>/redeliver", api.RedeliverView.as_view()),
    path("account/webhooks/<str:webhook_id>", api.WebhookDetailView.as_view()),
    path("account/webhooks/<str:webhook_id>/verify", api.VerifyView.as_view()),
    path("account/webhooks/<str:webhook_id>/rotate-secret", api.RotateSecretView.as_view()),
    path("account/webhooks/<str:webhook_id>/test", api.TestEventView.as_view()),
    path("account/webhooks/<str:webhook_id>/recover", api.RecoverView.as_view()),
    path("events", events_api.EventListView.as_view()),
    path("events/<str:event_id>", events_api.EventDetailView.as_view()),
]
