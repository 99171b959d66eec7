"""Shared base for the params models: unknown fields are an error, named in the message."""

from pydantic import BaseModel, ConfigDict


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
