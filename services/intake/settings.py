"""The intake service's settings: everything of `ServiceSettings`, read under `INTAKE_`."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    """`INTAKE_HTTP_PORT` (8001 under `make run`), `INTAKE_MONGODB_DATABASE` (`carepath_intake`), ...

    Free text is encrypted with `FIELD_ENCRYPTION_KEYS` / `FIELD_ENCRYPTION_ACTIVE_KEY`
    (read without prefix, like every infrastructure setting).
    """

    service_name: ClassVar[str] = "intake"
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")
