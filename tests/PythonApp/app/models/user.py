import uuid
from datetime import datetime, timezone

from sqlalchemy import Column, Date, DateTime, Integer, String
from sqlalchemy.orm import relationship

from app.database import Base
from app.models.types import Uuid


class User(Base):
    __tablename__ = "users"

    id = Column(Uuid(), primary_key=True, default=uuid.uuid4)
    username = Column(String(50), unique=True, nullable=False)
    display_name = Column(String(100), nullable=False)
    email = Column(String(255), unique=True, nullable=False)
    password_hash = Column(String(255), nullable=False)
    avatar_url = Column(String(500), nullable=True, default=None)
    xp = Column(Integer, nullable=False, default=0)
    current_streak = Column(Integer, nullable=False, default=0)
    longest_streak = Column(Integer, nullable=False, default=0)
    last_post_date = Column(Date, nullable=True, default=None)
    created_at = Column(DateTime(timezone=True), nullable=False, default=lambda: datetime.now(timezone.utc))

    status_updates = relationship(
        "StatusUpdate", back_populates="user", lazy="selectin", cascade="all, delete-orphan"
    )
