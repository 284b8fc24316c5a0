"""Every object lookup is scoped to the key's account and environment
(SPEC §6): another account's id, or the other environment's, is a 404."""

from aiprod.errors import not_found


def owned_by(queryset, request):
    key = request.auth
    return queryset.filter(account_id=key.account_id, livemode=key.livemode)


def get_owned_or_404(queryset, request, pk: str, what: str):
    obj = owned_by(queryset, request).filter(pk=pk).first()
    if obj is None:
        raise not_found(what)
    return obj
