"""The body of every error response."""

from pydantic import BaseModel, Field


class ErrorOut(BaseModel):
    detail: str = Field(description="What went wrong and what to change.")
    errors: list[dict[str, object]] | None = Field(
        None, description="For 422: each invalid field, its location and the rule it broke."
    )
