"""Shared admin building blocks.

Every admin of the site filters its change list only by what it declares
(``SafeLookupsAdmin``). Django's own ``ModelAdmin.lookup_allowed`` admits any
lookup on a model's local fields, so ``?secret__regex=^whsec_X`` or
``?key_hash__startswith=ab`` turned the change list into an oracle that
recovers a hidden secret one character at a time. ``harden_admin_site``
gives the admins of other apps (Django's users and groups, django-q2) the
same rule.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin import widgets
from django.contrib.admin.filters import SimpleListFilter
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models.constants import LOOKUP_SEP

# The query-string parameters Django's own field list filters and date
# hierarchy produce for a declared field path (admin/filters.py); ranges only
# on dates, so a declared filter cannot be walked character by character.
_FILTER_SUFFIXES = ("", "__exact", "__isnull", "__isempty")
_DATE_FILTER_SUFFIXES = ("__gte", "__lt")
_DATE_HIERARCHY_SUFFIXES = ("__year", "__month", "__day")


def _field_at(model, path: str):
    field = None
    for part in path.split(LOOKUP_SEP):
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return None
        if not getattr(field, "path_infos", None):
            break
        model = field.path_infos[-1].to_opts.model
    return field


class SafeLookupsMixin:
    """A change list accepts only the lookups of the declared ``list_filter``
    and ``date_hierarchy`` (search goes through ``?q=`` and only the declared
    ``search_fields``); any other field lookup in the query string is refused
    with 400, for superusers too."""

    def declared_lookups(self, request=None) -> set[str]:
        allowed: set[str] = set()
        list_filter = self.get_list_filter(request) if request is not None else self.list_filter
        for item in list_filter:
            if isinstance(item, type) and issubclass(item, SimpleListFilter):
                allowed.add(item.parameter_name)
                continue
            path = item[0] if isinstance(item, (list, tuple)) else item
            if not isinstance(path, str):  # a Field instance
                path = path.name
            allowed.update(path + suffix for suffix in _FILTER_SUFFIXES)
            field = _field_at(self.model, path)
            if isinstance(field, models.DateField):  # DateTimeField too
                allowed.update(path + suffix for suffix in _DATE_FILTER_SUFFIXES)
            target = getattr(field, "target_field", None) if field is not None and field.is_relation else None
            if target is not None:
                allowed.add(f"{path}__{target.name}__exact")
        if self.date_hierarchy:
            allowed.update(self.date_hierarchy + suffix for suffix in _DATE_HIERARCHY_SUFFIXES)
        return allowed

    def lookup_allowed(self, lookup, value, request=None):
        if lookup in self.declared_lookups(request):
            return True
        # Raw-id and autocomplete popups filter by a foreign key's
        # limit_choices_to; those lookups are declared in the model.
        for fk_lookup in self.model._meta.related_fkey_lookups:
            if callable(fk_lookup):
                fk_lookup = fk_lookup()
            if (lookup, value) in widgets.url_params_from_lookup_dict(fk_lookup).items():
                return True
        return False


class SafeLookupsAdmin(SafeLookupsMixin, admin.ModelAdmin):
    """The base of every AIPROD admin."""


class ReadOnlyAdmin(SafeLookupsAdmin):
    """Records support staff may look at but never add, edit or delete."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def harden_admin_site(site: admin.AdminSite = admin.site) -> None:
    """Re-register every admin that does not use ``SafeLookupsMixin`` yet
    (those of Django's auth and of django-q2) as a subclass that does.
    Called from CoreConfig.ready(), after the admin modules of all apps
    were imported."""
    for model, model_admin in list(site._registry.items()):
        if isinstance(model_admin, SafeLookupsMixin):
            continue
        cls = type(model_admin)
        hardened = type(cls.__name__, (SafeLookupsMixin, cls), {"__module__": cls.__module__})
        site.unregister(model)
        site.register(model, hardened)
