"""Alembic environment: the URL comes from the config (set by service.db.migrate) or settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from service.models import Base

config = context.config
if not config.get_main_option("sqlalchemy.url"):
    from service.config import get_settings
    from service.db.engine import normalise_url

    config.set_main_option("sqlalchemy.url", normalise_url(get_settings().effective_database_url()))

target_metadata = Base.metadata


def run_migrations_offline() -> None:
    """Emit SQL without a connection."""
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate over a live connection."""
    connectable = engine_from_config(config.get_section(config.config_ini_section, {}),
                                     prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
