"""A URLconf for error-contract tests: views that fail the ways real code can."""

from django.db import OperationalError
from django.http import JsonResponse
from django.urls import include, path
from django_ratelimit.decorators import ratelimit


def explode(request):
    raise RuntimeError("a bug")


def database_gone(request):
    raise OperationalError("connection refused")


@ratelimit(key="ip", rate="1/h", block=True)
def once_an_hour(request):
    return JsonResponse({"ok": True})


urlpatterns = [
    path("once-an-hour", once_an_hour),
    path("boom", explode),
    path("db-down", database_gone),
    path("", include("aiprod.urls")),
]
