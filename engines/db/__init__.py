"""Hand-written SQL: the one package that knows which database it talks to.

The ORM serves everything else. What it makes slow (COPY, one UPDATE with a
row of values per lead, an INSERT that may find its row already there,
reading raw columns without per-value converters) lives here, each function
with a PostgreSQL path and a portable one, tested on both databases. No other
product module branches on the database vendor.

May import: Django's database layer and the models. Never a service.
"""
