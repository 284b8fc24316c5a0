"""A URLconf for error-contract tests: views that fail the ways real code can."""

from django.db import OperationalError
from django.urls import include, path


def explode(request):
    raise RuntimeError("a bug")


def database_gone(request):
    raise OperationalError("connection refused")


urlpatterns = [
    path("boom", explode),
    path("db-down", database_gone),
    path("", include("aiprod.urls")),
]
