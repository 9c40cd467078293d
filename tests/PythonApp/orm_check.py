"""What the interop tests ask the Python side's ORM to do, one command per call, answers as JSON.

    python3 orm_check.py read-user <uuid>        the user with status_updates (selectin) and each update's user (joined)
    python3 orm_check.py create-user <username> <last_post_date> <current_streak>
                                                 a user with uuid4 ids and one status update, as the backend writes them
    python3 orm_check.py delete-user <uuid>      session.delete(user): the ORM's cascade="all, delete-orphan"
    python3 orm_check.py dump-models             {table: [columns]} the models map (Base.metadata), no database

The database URL comes from DATABASE_URL, as in alembic/env.py.
"""
import json
import os
import sys
import uuid
from datetime import date, datetime, timezone

from sqlalchemy import create_engine, inspect, pool
from sqlalchemy.orm import Session

from app.database import Base
from app.models import StatusUpdate, User


def engine():
    return create_engine(os.environ["DATABASE_URL"], poolclass=pool.NullPool)


def when(value):
    # Timezone-aware datetimes only: a naive one would mean the column lost its time zone.
    if isinstance(value, datetime) and value.tzinfo is None:
        raise SystemExit(f"naive datetime read from the database: {value!r}")
    return value.isoformat() if value is not None else None


def read_user(user_id):
    with Session(engine()) as session:
        user = session.get(User, uuid.UUID(user_id))
        if user is None:
            return {"found": False}
        return {
            "found": True,
            "username": user.username,
            "display_name": user.display_name,
            "xp": user.xp,
            "current_streak": user.current_streak,
            "last_post_date": user.last_post_date.isoformat() if user.last_post_date else None,
            "created_at": when(user.created_at),
            "utc_offset_seconds": user.created_at.utcoffset().total_seconds(),
            "loading": {
                "User.status_updates": inspect(User).relationships["status_updates"].lazy,
                "StatusUpdate.user": inspect(StatusUpdate).relationships["user"].lazy,
            },
            "status_updates": [
                {
                    "id": str(update.id),
                    "message": update.message,
                    "category": update.category,
                    "created_at": when(update.created_at),
                    "user": update.user.username,
                }
                for update in sorted(user.status_updates, key=lambda u: (u.created_at, str(u.id)))
            ],
        }


def create_user(username, last_post_date, current_streak):
    with Session(engine()) as session:
        user = User(
            username=username,
            display_name="Written by Python",
            email=f"{username}@example.com",
            password_hash="hash",
            xp=5,
            current_streak=int(current_streak),
            longest_streak=int(current_streak),
            last_post_date=date.fromisoformat(last_post_date),
        )
        user.status_updates.append(StatusUpdate(message="from SQLAlchemy", category="python"))
        session.add(user)
        session.commit()
        return {"id": str(user.id), "status_update_id": str(user.status_updates[0].id), "id_version": user.id.version}


def delete_user(user_id):
    with Session(engine()) as session:
        user = session.get(User, uuid.UUID(user_id))
        session.delete(user)
        session.commit()
        return {"deleted": True}


def dump_models():
    # What StatusData's PythonModels.cs must list: a table keyed by schema.name when a model names a schema.
    return {table.fullname: [column.name for column in table.columns] for table in Base.metadata.sorted_tables}


COMMANDS = {"read-user": read_user, "create-user": create_user, "delete-user": delete_user, "dump-models": dump_models}

if __name__ == "__main__":
    print(json.dumps(COMMANDS[sys.argv[1]](*sys.argv[2:]), ensure_ascii=False))
