"""One APIRouter per noun under /api/v1."""
