"""Service settings, read from the environment (names as the platform spells them)."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from scheduler.executions import RetrySettings


class DispatchMode(StrEnum):
    """Where a fired trigger's execution request goes."""

    ENGINE = "engine"
    LOG = "log"


class Settings(BaseSettings):
    """All configuration of the scheduler; one instance per process."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    PORT: int = 8003
    HOST: str = "0.0.0.0"
    DEBUG: bool = False
    DEV_MODE: bool = False

    WORKFLOW_ENGINE_URL: str | None = None
    API_GATEWAY_URL: str | None = None
    DATABASE_URL: str | None = None
    SCHEDULER_TIMEZONE: str = "UTC"
    SCHEDULER_MAX_WORKERS: int = 10

    TEMPORAL_ADDRESS: str = "127.0.0.1:7233"
    TEMPORAL_NAMESPACE: str = "default"
    TEMPORAL_TASK_QUEUE: str = "workflow-scheduler"

    JWT_SECRET: str | None = None
    JWT_ALGORITHM: str = "HS256"
    JWT_AUDIENCE: str | None = None
    JWT_ADMIN_ROLE: str = "admin"

    DISPATCH_MODE: DispatchMode | None = Field(
        default=None,
        description="engine or log; default engine when WORKFLOW_ENGINE_URL is set",
    )
    DISPATCH_TIMEOUT_SECONDS: float = 30.0
    DISPATCH_RETRY_INITIAL_SECONDS: float = 1.0
    DISPATCH_RETRY_MAX_INTERVAL_SECONDS: float = 300.0
    DISPATCH_RETRY_HORIZON_SECONDS: float = 24 * 3600.0

    WEBHOOK_MAX_BODY_BYTES: int = 1024 * 1024
    # An event once encoded (body, headers, query): Temporal's payload limit
    # is 2 MiB, and escaping can make an event several times its body.
    EVENT_MAX_BYTES: int = 1536 * 1024
    WORKFLOW_MAX_DEFINITION_BYTES: int = 1024 * 1024

    RELAY_ENABLED: bool = True
    RELAY_BATCH_SIZE: int = 100
    RELAY_POLL_SECONDS: float = 1.0

    STATE_DIR: Path = Path(".state")

    @model_validator(mode="after")
    def _require_secret_outside_dev(self) -> Settings:
        if not self.DEV_MODE and not self.JWT_SECRET:
            raise ValueError(
                "JWT_SECRET is required outside dev mode: set it to a long random "
                "string (for example `openssl rand -hex 32`)"
            )
        if self.JWT_SECRET is not None and len(self.JWT_SECRET) < 32:
            raise ValueError("JWT_SECRET must be at least 32 characters long")
        return self

    @property
    def dispatch_mode(self) -> DispatchMode:
        """The effective dispatch mode."""
        if self.DISPATCH_MODE is not None:
            return self.DISPATCH_MODE
        return DispatchMode.ENGINE if self.WORKFLOW_ENGINE_URL else DispatchMode.LOG

    def dispatch_retry(self) -> RetrySettings:
        """The retry settings every new firing is started with."""
        return RetrySettings(
            initial_interval_seconds=self.DISPATCH_RETRY_INITIAL_SECONDS,
            maximum_interval_seconds=self.DISPATCH_RETRY_MAX_INTERVAL_SECONDS,
            horizon_seconds=self.DISPATCH_RETRY_HORIZON_SECONDS,
        )

    def require_database_url(self) -> str:
        """The database URL, or a clear error when none is configured."""
        if not self.DATABASE_URL:
            raise ValueError("DATABASE_URL is not set")
        return self.DATABASE_URL


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
