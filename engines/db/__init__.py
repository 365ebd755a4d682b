"""Hand-written SQL: the one package that knows which database it talks to.

The ORM serves everything else. What it makes slow, or what only one
database can do, lives here, each function with a PostgreSQL path and a
portable one, tested on both databases (tests/engines/db). No other product
module branches on the database vendor.

- `copy`: inserting many rows (one COPY on PostgreSQL, bulk_create elsewhere):
  model instances, rows whose new ids come back, rows given as COPY text.
- `bulk`: one UPDATE that gives each row its own values; one UPDATE per row
  through executemany.
- `scores`: a batch of lead scores written back in one UPDATE.
- `once`: an INSERT that may find its row already there, and the tracking
  webhooks' one-statement path built on it.
- `statements`: a cursor whose statements PostgreSQL may prepare (the webhooks'
  insert, the dispatcher's last look).
- `contact`: the dispatcher's last look before a send.
- `rows`: model instances with their forward relations built from one values
  query, without Model.__init__ (the dispatcher's claim).
- `columns`: reading raw columns without per-value converters (`Epoch`,
  `fetch_columns`, `uuid_bytes`).
- `search`: the admin's searches, as the PostgreSQL indexes serve them.
- `features`: what the database can do (`skips_locked_rows`,
  `has_concurrent_writers`), for callers that must choose.

May import: Django's database layer and the models. Never a service.
"""
