"""Model instances built from the rows of one values query, with forward relations attached.

`select_related` builds each row's objects through Model.__init__, which
sets every field one by one with its checks: for the dispatcher's claim (a
touch, its lead and its enrollment, two hundred rows a batch) that cost
more than running the query. Here the values the database gave, converted
as the ORM converts them, become each instance's attributes at once. The
objects are ordinary saved instances: a field left unread loads on first
use, as with `defer`, and saving writes what changed.

Only for models with no pre_init or post_init receivers (their signals are
not sent); `instances` refuses any other.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TypeVar, cast

from django.db.models import Model, QuerySet, signals
from django.db.models.base import ModelState

M = TypeVar("M", bound=Model)


def _attnames(model: type[Model], unread: Collection[str]) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields if field.name not in unread]


def _unread_of(prefix: str, unread: Collection[str]) -> set[str]:
    if not prefix:
        return {name for name in unread if "__" not in name}
    return {name.removeprefix(f"{prefix}__") for name in unread if name.startswith(f"{prefix}__")}


def _instance(model: type[M], names: Sequence[str], values: Sequence[object], db: str) -> M:
    instance = model.__new__(model)
    instance.__dict__.update(zip(names, values, strict=True))
    state = instance._state = ModelState()
    state.adding, state.db = False, db
    return instance


def instances(queryset: QuerySet[M], related: Sequence[str] = (), unread: Collection[str] = ()) -> list[M]:
    """The queryset's objects, each with the objects of its `related` forward relations (names of foreign keys
    of the queryset's model) attached as select_related would, from one query. `unread`: fields
    (`name` of the model, `relation__name` of a related one) left out, loaded on first use."""
    model = queryset.model
    models: dict[str, type[Model]] = {"": model}
    models.update((name, cast(type[Model], model._meta.get_field(name).related_model)) for name in related)
    for each in models.values():
        if signals.pre_init.has_listeners(each) or signals.post_init.has_listeners(each):
            raise ValueError(f"{each.__name__} has init signal receivers: load it with select_related")
    layout = [(prefix, each, _attnames(each, _unread_of(prefix, unread))) for prefix, each in models.items()]
    columns = [f"{prefix}__{name}" if prefix else name for prefix, _, names in layout for name in names]
    db = queryset.db
    root_width, related_layout = len(layout[0][2]), layout[1:]
    built: list[M] = []
    for row in queryset.values_list(*columns):
        root = _instance(model, layout[0][2], row[:root_width], db)
        start, cache = root_width, {}
        for prefix, each, names in related_layout:
            values = row[start : start + len(names)]
            start += len(names)
            # A null foreign key reads as a row of nulls; select_related gives None for it.
            cache[prefix] = None if all(value is None for value in values) else _instance(each, names, values, db)
        root._state.fields_cache = cache
        built.append(root)
    return built
