from app.models.status import StatusUpdate
from app.models.user import User

__all__ = ["User", "StatusUpdate"]
