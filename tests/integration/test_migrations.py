"""The migrations build exactly the schema the models describe, on both databases."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from connector.store.db import make_engine, upgrade
from connector.store.models import Base


def test_migrations_match_the_models(store_url):
    upgrade(store_url)
    upgrade(store_url)  # running it again is harmless
    engine = make_engine(store_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []
