"""/api/v1/users: identities and their project roles (global admins only)."""

from __future__ import annotations

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict

from llmloop.security import users as service
from llmloop.security.schemas import NAME_PATTERN, PROJECT_PATTERN, Role, User, UserCreate
from llmloop.server.auth import permission
from llmloop.server.deps import CtxDep

router = APIRouter(prefix="/users", tags=["users"])
UserName = Path(pattern=NAME_PATTERN)
ProjectName = Path(pattern=PROJECT_PATTERN)


class RoleGrant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


@router.get("", response_model=list[User], openapi_extra=permission("users:read"))
def list_users(ctx: CtxDep) -> list[User]:
    return service.list_users(ctx)


@router.post("", response_model=User, status_code=201, openapi_extra=permission("users:write"))
def create_user(ctx: CtxDep, spec: UserCreate) -> User:
    return service.create_user(ctx, spec=spec)


@router.get("/{name}", response_model=User, openapi_extra=permission("users:read"))
def get_user(ctx: CtxDep, name: str = UserName) -> User:
    return service.get_user(ctx, name=name)


@router.post("/{name}/disable", response_model=User, openapi_extra=permission("users:write"))
def disable_user(ctx: CtxDep, name: str = UserName) -> User:
    return service.disable_user(ctx, user=name)


@router.put("/{name}/roles/{project}", response_model=User, openapi_extra=permission("users:write"))
def grant_role(ctx: CtxDep, grant: RoleGrant, name: str = UserName, project: str = ProjectName) -> User:
    return service.grant_role(ctx, user=name, project=project, role=grant.role)


@router.delete("/{name}/roles/{project}", response_model=User, openapi_extra=permission("users:write"))
def revoke_role(ctx: CtxDep, name: str = UserName, project: str = ProjectName) -> User:
    return service.revoke_role(ctx, user=name, project=project)
