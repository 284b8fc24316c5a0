"""Every object lookup is scoped to an account and environment (docs/authentication.md):
another account's id, or the other environment's, is a 404.

API views scope by the request's key; the dashboard by the logged-in user's
account and the mode switch. Both go through `scoped`.
"""

from core import rows
from core.errors import not_found


def scoped(queryset, account_id: str, livemode: bool):
    return queryset.filter(account_id=account_id, livemode=livemode)


def owned_by(queryset, request):
    key = request.auth
    return scoped(queryset, key.account_id, key.livemode)


def get_owned_or_404(source, request, pk: str, what: str):
    """The object with this id in the request key's account and environment,
    else 404. `source` is a model (one plain-SQL read: this is the hot path
    of every GET /…/{id}) or a queryset (for select_related and the like)."""
    key = request.auth
    if isinstance(source, type):
        obj = rows.owned_instance(source, pk, key.account_id, key.livemode)
    else:
        # No ORDER BY: a primary-key lookup needs none.
        obj = next(iter(scoped(source, key.account_id, key.livemode).filter(pk=pk).order_by()[:1]), None)
    if obj is None:
        raise not_found(what)
    return obj
