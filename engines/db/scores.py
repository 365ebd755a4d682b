"""Writing a batch of lead scores back: one UPDATE for the whole batch.

The scorer computes a batch of leads with numpy; bulk_update's CASE per row
would compile far slower than it scores. PostgreSQL takes the batch as arrays
and builds the components' JSON itself; elsewhere each row's values go in an
UPDATE ... FROM (VALUES ...).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from django.db import DEFAULT_DB_ALIAS, connections

from engines.db.bulk import update_from_values
from engines.db.features import is_postgresql
from outreach.models import Lead

# The lead columns a score write sets.
_SCORE_FIELDS = ("als_score", "als_components", "als_weights_used", "als_weights_source", "scored_at")

IntArray = np.ndarray[Any, np.dtype[np.integer[Any]]]


@dataclass(frozen=True)
class ScoreBatch:
    """The scores of a batch of leads, scored at `now`.

    Per row: the lead's id, its score, its components (`components`: name ->
    one value per row, in the order they are stored) and its client, as an
    index into the per-client `weights` and `sources` (the weights used and
    where they came from).
    """

    pks: Sequence[int]
    scores: IntArray
    components: Mapping[str, IntArray]
    client_of_row: IntArray
    weights: Sequence[Mapping[str, float]]
    sources: Sequence[str]
    now: datetime


def write_scores(batch: ScoreBatch, *, using: str = DEFAULT_DB_ALIAS) -> int:
    """Store the batch's scores, components (with scored_at), weights used, their source and scored_at on the
    leads; how many leads were updated."""
    return (_write_unnest if is_postgresql(using) else _write_values)(batch, using)


def _write_unnest(batch: ScoreBatch, using: str) -> int:
    """One UPDATE ... FROM unnest(...) for the batch; the JSON is built by PostgreSQL from the arrays."""
    connection = connections[using]
    qn = connection.ops.quote_name
    meta = Lead._meta
    column = {field.name: qn(field.column) for field in meta.concrete_fields if field.name in (*_SCORE_FIELDS, "id")}
    keys = list(batch.components)
    components_sql = ", ".join(f"'{key}', v.{key}" for key in keys)
    sql = f"""
        UPDATE {qn(meta.db_table)} AS lead SET
            {column["als_score"]} = v.score,
            {column["als_components"]} = jsonb_build_object({components_sql}, 'scored_at', %s::text),
            {column["als_weights_used"]} = w.weights,
            {column["als_weights_source"]} = w.source,
            {column["scored_at"]} = %s
        FROM unnest(%s::bigint[], %s::smallint[], {"%s::smallint[], " * len(keys)}%s::int[])
                AS v(id, score, {", ".join(keys)}, client)
            JOIN unnest(%s::jsonb[], %s::text[]) WITH ORDINALITY AS w(weights, source, client) ON w.client = v.client
        WHERE lead.{column["id"]} = v.id
    """
    params: list[str | datetime | list[str]] = [
        batch.now.isoformat(),
        batch.now,
        _int_array(batch.pks),
        _int_array(batch.scores.tolist()),
        *(_int_array(batch.components[key].tolist()) for key in keys),
        _int_array((batch.client_of_row + 1).tolist()),  # WITH ORDINALITY counts from 1
        [json.dumps(weights) for weights in batch.weights],
        list(batch.sources),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        changed: int = cursor.rowcount
    return changed


def _int_array(values: Iterable[int]) -> str:
    """A PostgreSQL array literal: far cheaper for the driver to send than a list it quotes item by item."""
    return "{" + ",".join(map(str, values)) + "}"


def _write_values(batch: ScoreBatch, using: str) -> int:
    """The batch in UPDATE ... FROM (VALUES ...) statements (bulk_update's CASE per row compiles far slower)."""
    scored_at = batch.now.isoformat()
    values = {key: column.tolist() for key, column in batch.components.items()}
    weights = [json.dumps(weights) for weights in batch.weights]
    rows = [
        (
            pk,
            score,
            json.dumps({**{key: column[i] for key, column in values.items()}, "scored_at": scored_at}),
            weights[client],
            batch.sources[client],
        )
        for i, (pk, client, score) in enumerate(
            zip(batch.pks, batch.client_of_row.tolist(), batch.scores.tolist(), strict=True)
        )
    ]
    scored_at_column = Lead._meta.get_field("scored_at").get_db_prep_value(batch.now, connections[using])
    return update_from_values(
        Lead,
        "als_score = v.column2, als_components = v.column3, als_weights_used = v.column4, "
        "als_weights_source = v.column5, scored_at = %s",
        rows,
        params=[scored_at_column],
        using=using,
    )
