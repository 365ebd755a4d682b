"""Who sees what: staff see only the rows of the clients they are members of; superusers see all."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest

from outreach.models import Client, Lead

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise as StrOrPromise


def visible_clients(request: HttpRequest) -> QuerySet[Client]:
    """The clients the request's user may see."""
    clients = Client.objects.all()
    user = request.user
    if user.is_superuser:
        return clients
    if user.pk is None:
        return clients.none()
    return clients.filter(memberships__user_id=user.pk)


def scope_to_clients(queryset: QuerySet[Any], request: HttpRequest, client_field: str = "client") -> QuerySet[Any]:
    """`queryset` cut down to the rows whose `client_field` is one of the user's clients."""
    if request.user.is_superuser:
        return queryset
    if client_field == "pk":
        return queryset.filter(pk__in=visible_clients(request).values("pk"))
    return queryset.filter(**{f"{client_field}__in": visible_clients(request).values("pk")})


class VisibleClientFilter(admin.RelatedFieldListFilter):
    """The client filter of a changelist, offering only the clients the user may see."""

    def field_choices(
        self, field: Any, request: HttpRequest, model_admin: admin.ModelAdmin
    ) -> list[tuple[str, StrOrPromise]]:
        return [(str(pk), name) for pk, name in visible_clients(request).values_list("pk", "name")]


class ClientScopedAdmin(admin.ModelAdmin):
    """A ModelAdmin whose every queryset, foreign-key choice and lookup is cut to the user's clients.

    `client_field` names the path from the model to its Client ("client",
    "lead__client"; "pk" for Client itself). A row of another client is not in
    the queryset, so its change, delete and history pages answer 404 like a missing row.
    """

    client_field = "client"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scope_to_clients(super().get_queryset(request), request, self.client_field)

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        # The stock admin redirects a missing row to the index with "does not exist": answer 404 instead, so a
        # row of another client is indistinguishable from one that was never there.
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(f"No {self.opts.verbose_name} with id {object_id!r}")
        return obj

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        related: type[Model] = db_field.remote_field.model
        if related is Client:
            kwargs["queryset"] = visible_clients(request)
        elif related is Lead:
            kwargs["queryset"] = scope_to_clients(Lead.objects.all(), request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or (
            request.user.is_staff and visible_clients(request).exists() and super().has_module_permission(request)
        )


class ServiceWrittenAdmin(ClientScopedAdmin):
    """Rows only the services write: shown (to the user's clients), never added, changed or deleted by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
