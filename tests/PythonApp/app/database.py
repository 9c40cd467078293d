"""The declarative base every model inherits from (app.database in the backend)."""
from sqlalchemy.orm import declarative_base

Base = declarative_base()
