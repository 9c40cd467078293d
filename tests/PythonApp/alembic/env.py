import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool

from app.database import Base
from app.models import StatusUpdate, User  # noqa: F401  (registers the models with Base.metadata)

if os.environ.get("STATUSDATA_MODEL_INDEXES") == "1":
    import app.statusdata_indexes  # noqa: F401

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

url = os.environ["DATABASE_URL"]
target_metadata = Base.metadata


def include_object(obj, name, type_, reflected, compare_to):
    # StatusData's own version table is not the Python side's to manage (nor is alembic_version).
    return not (type_ == "table" and name == "version_info")


def run_migrations_offline():
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True, include_object=include_object)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, include_object=include_object)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
