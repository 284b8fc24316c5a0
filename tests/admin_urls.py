"""Admin URLs for objects, built the way the admin builds its own links.

Our primary keys are prefixed strings (``acct_…``, ``dlv_…``); the admin
unquotes ``_XX`` in a URL as an escaped character, so a raw id whose
underscore happens to precede two upper-case hex digits names another
object. Always go through ``quote``.
"""

from django.contrib.admin.utils import quote
from django.urls import reverse


def admin_url(obj, action: str = "change") -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{action}", args=[quote(obj.pk)])
