"""Deploy checks (`manage.py check --deploy`): the settings production needs."""

from django.core import checks


def check_insecure_urls_in_production(app_configs, **kwargs):
    from django.conf import settings

    if settings.AIPROD_ALLOW_INSECURE_URLS and not settings.DEBUG:
        return [
            checks.Warning(
                "AIPROD_ALLOW_INSECURE_URLS is on with DEBUG off.",
                hint="Insecure URLs let customers reach private addresses; use it only locally.",
                id="aiprod.W001",
            )
        ]
    return []


def check_secret_key_is_set(app_configs, **kwargs):
    """The development key (a debug run without DJANGO_SECRET_KEY) is in the
    repository: anyone could sign download links and queue payloads with it.
    A short or low-entropy key is Django's own security.W009."""
    from django.conf import settings

    if settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY:
        return [
            checks.Error(
                "DJANGO_SECRET_KEY is not set: the development key from the repository signs sessions, "
                "download links and task payloads.",
                hint="Set DJANGO_SECRET_KEY to a long random value, the same for every process.",
                id="aiprod.E001",
            )
        ]
    return []


def check_production_services(app_configs, **kwargs):
    """What the README's configuration table marks as needed in production:
    PostgreSQL and Redis."""
    from django.conf import settings

    if settings.DEBUG:
        return []
    issues = []
    if not settings.REDIS_URL:
        issues.append(
            checks.Warning(
                "REDIS_URL is not set: rate limits and the failed-login limiter are counted per process.",
                hint="Set REDIS_URL in production; without it serve with one gunicorn process (as `make run` does).",
                id="aiprod.W003",
            )
        )
    if not settings.IS_POSTGRES:
        issues.append(
            checks.Warning(
                "DATABASE_URL is not PostgreSQL.",
                hint="Production runs on PostgreSQL (job claiming, quotas and backups rely on it).",
                id="aiprod.W004",
            )
        )
    return issues
