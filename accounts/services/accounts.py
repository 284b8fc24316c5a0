"""Creating and suspending accounts."""

from django.db import transaction

from accounts import key_cache
from accounts.models import Account


@transaction.atomic
def create_account(*, email: str, name: str = "", tier: str = "free", user=None) -> Account:
    return Account.objects.create(email=email.strip().lower(), name=name, tier=tier, user=user)


def suspend_account(account: Account, reason: str = "") -> None:
    Account.objects.filter(pk=account.pk).update(suspended=True, suspended_reason=reason[:500])
    key_cache.forget_all()
    account.suspended, account.suspended_reason = True, reason[:500]


def unsuspend_account(account: Account) -> None:
    Account.objects.filter(pk=account.pk).update(suspended=False, suspended_reason="")
    key_cache.forget_all()
    account.suspended, account.suspended_reason = False, ""


def find_account(email_or_id: str) -> Account | None:
    value = email_or_id.strip()
    if value.startswith("acct_"):
        return Account.objects.filter(pk=value).first()
    return Account.objects.filter(email=value.lower()).first()
