"""The "Support" group (docs/operations.md): exactly the admin permissions support staff
need, and nothing on users, groups or secrets.

Permissions are named by model label and resolved when the group is set up:
by the data migration aiprod 0002, after every `migrate` from a post_migrate
handler, and by `manage.py setup_support_group`. A model that does not exist
yet is skipped and picked up by the next migrate after it lands.
"""

from __future__ import annotations

from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType

GROUP_NAME = "Support"

# (app label, model name, permission actions). Models are named one by one,
# never a whole app: a new model (say, one holding secrets) is invisible to
# Support until someone adds it here.
GRANTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("accounts", "account", ("view", "change")),  # tier, enterprise limits, suspend/unsuspend
    ("accounts", "ipallowlistentry", ("view", "add", "change", "delete")),  # the inline on the account
    ("accounts", "apikey", ("view", "change")),  # change = "Revoke selected keys"; fields read-only for staff
    ("accounts", "requestlog", ("view",)),
    ("jobs", "job", ("view", "change")),  # "Force timeout", "Retry"
    ("jobs", "jobtransition", ("view",)),
    ("jobs", "workerheartbeat", ("view",)),  # worker clusters and queue progress
    ("jobs", "upload", ("view",)),  # direct uploads (POST /uploads)
    ("webhooks", "webhookendpoint", ("view",)),
    ("webhooks", "event", ("view",)),
    ("webhooks", "delivery", ("view",)),
    ("webhooks", "deliveryattempt", ("view",)),
    ("quotas", "monthlyusage", ("view",)),
    ("quotas", "quotawarning", ("view",)),
    ("aiprod", "incident", ("view", "add", "change")),
    ("aiprod", "incidentupdate", ("view", "add", "change")),
    ("aiprod", "maintenancewindow", ("view", "add", "change")),
    ("aiprod", "maintenancemode", ("view", "change")),
    ("aiprod", "backuprecord", ("view",)),
    ("admin", "logentry", ("view",)),  # the audit trail
)
# Admin actions on these models (e.g. webhooks' "Redeliver") also get the
# permissions they declare with @admin.action(permissions=[...]); never add
# or delete.
NEVER_FROM_ACTIONS = {"add", "delete"}


def _model(app_label: str, model_name: str):
    """The model, or None while its app has not written it yet."""
    try:
        return apps.get_model(app_label, model_name)
    except LookupError:
        return None


def _action_permissions(model) -> set[str]:
    """Permission actions the model's admin actions require."""
    model_admin = admin.site._registry.get(model)
    if model_admin is None:
        return set()
    needed = set()
    for action in model_admin.actions or ():
        func = getattr(model_admin, action, None) if isinstance(action, str) else action
        needed.update(getattr(func, "allowed_permissions", ()))
    return needed - NEVER_FROM_ACTIONS


def support_permissions() -> list[Permission]:
    wanted: dict[type, set[str]] = {}
    for app_label, model_name, actions in GRANTS:
        model = _model(app_label, model_name)
        if model is not None:
            wanted.setdefault(model, set()).update(actions, _action_permissions(model))
    permissions = []
    for model, actions in wanted.items():
        content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
        codenames = [f"{action}_{model._meta.model_name}" for action in actions]
        permissions += Permission.objects.filter(content_type=content_type, codename__in=codenames)
    return permissions


def ensure_support_group() -> Group:
    """Creates or updates the Support group; its permissions become exactly
    `support_permissions()` (anything granted by hand is removed)."""
    group, _ = Group.objects.get_or_create(name=GROUP_NAME)
    group.permissions.set(support_permissions())
    return group


def setup_after_migrate(sender, using="default", verbosity=1, **kwargs):
    """post_migrate handler. Permissions of apps listed after `aiprod` in
    INSTALLED_APPS are created by their own post_migrate calls, which run
    after this one, so they are created here first (an idempotent step)."""
    from django.contrib.auth.management import create_permissions
    from django.contrib.contenttypes.management import create_contenttypes

    configs = list(apps.get_app_configs())
    for app_config in configs[configs.index(sender) + 1 :]:
        create_contenttypes(app_config, verbosity=0, using=using)
        create_permissions(app_config, verbosity=0, using=using)
    ensure_support_group()


def create_support_user(username: str, *, email: str = "", password: str):
    """A staff user (admin login, not a superuser) in the Support group, which
    is (re)created first. Raises ValueError if the username is taken.

    Side effects: one User row, the group's permissions refreshed."""
    from django.contrib.auth import get_user_model

    users = get_user_model()
    if users.objects.filter(username=username).exists():
        raise ValueError(f"A user named {username} already exists")
    group = ensure_support_group()
    user = users.objects.create_user(username, email, password, is_staff=True)
    user.groups.add(group)
    return user
