"""The embedded platform's HTTP routes: one :class:`fastapi.APIRouter` per resource."""
