"""The indexes StatusData's migration 202611220900 adds, declared on the models.

Importing this module (after app.models) attaches them to the tables, so that
`alembic revision --autogenerate` against a database StatusData migrated proposes nothing.
The four lines below are the snippet docs/migrations.md gives the Python team.
"""
from sqlalchemy import Index

from app.models import StatusUpdate, User

Index("ix_status_updates_created_at_id", StatusUpdate.created_at, StatusUpdate.id)
Index("ix_status_updates_user_id_created_at_id", StatusUpdate.user_id, StatusUpdate.created_at, StatusUpdate.id)
Index("ix_status_updates_category_created_at_id", StatusUpdate.category, StatusUpdate.created_at, StatusUpdate.id)
Index("ix_users_created_at_id", User.created_at, User.id)
