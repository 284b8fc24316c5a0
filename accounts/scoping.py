"""Every object lookup is scoped to an account and environment (SPEC §6):
another account's id, or the other environment's, is a 404.

API views scope by the request's key; the dashboard by the logged-in user's
account and the mode switch. Both go through `scoped`.
"""

from aiprod.errors import not_found


def scoped(queryset, account_id: str, livemode: bool):
    return queryset.filter(account_id=account_id, livemode=livemode)


def owned_by(queryset, request):
    key = request.auth
    return scoped(queryset, key.account_id, key.livemode)


def get_owned_or_404(queryset, request, pk: str, what: str):
    # No ORDER BY: a primary-key lookup needs none, and compiling the
    # models' default ordering is measurable on the hot path.
    obj = next(iter(owned_by(queryset, request).filter(pk=pk).order_by()[:1]), None)
    if obj is None:
        raise not_found(what)
    return obj
