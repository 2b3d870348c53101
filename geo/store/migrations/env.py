"""Alembic environment: always run with a connection given by :func:`geo.store.db.upgrade`."""
from alembic import context

from geo.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
context.run_migrations()
