"""Column types that read the same on SQLAlchemy 1.4 and 2.x."""
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# sqlalchemy.Uuid is 2.0+; on 1.4 the PostgreSQL UUID type with as_uuid=True maps to uuid.UUID the same way.
Uuid = sa.Uuid if hasattr(sa, "Uuid") else (lambda: postgresql.UUID(as_uuid=True))
