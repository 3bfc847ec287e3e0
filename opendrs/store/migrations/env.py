"""Alembic environment: always run with a connection handed over by opendrs.store.database.migrate."""

from __future__ import annotations

from alembic import context

from opendrs.store import schema

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=schema.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
