"""OPC UA connection settings of the plant connector (and the simulator's endpoint).

Built at the edge (CLI flags, or ``INDAGENT_OPCUA_*`` environment variables through
:func:`opcua_settings`) and passed down; nothing below reads the environment.

Security: the simulator serves ``None`` security on 127.0.0.1 only. A real endpoint normally
needs ``security_policy="Basic256Sha256"``, ``security_mode="SignAndEncrypt"``, a client
certificate and private key trusted by the server, and often a user name and password.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tools.errors import ConfigError

__all__ = ["DEFAULT_NAMESPACE", "OpcUaConfig", "OpcUaSettings", "opcua_settings"]

#: Namespace URI of the simulator's tags (a real server's namespace is given in the config).
DEFAULT_NAMESPACE = "urn:indagent:plant"

SecurityPolicy = Literal["None", "Basic256Sha256", "Aes128Sha256RsaOaep", "Aes256Sha256RsaPss"]
SecurityMode = Literal["None", "Sign", "SignAndEncrypt"]


class OpcUaConfig(BaseModel):
    """How the connector reaches an OPC UA server and maps its tags to KG sensors.

    Attributes:
        endpoint: Server URL, e.g. ``opc.tcp://127.0.0.1:4840/indagent/``.
        namespace: Namespace URI of the tag node ids (string ids ``<ASSET>.<type>`` in it).
        security_policy: ``None`` or a policy name of the server's endpoint.
        security_mode: ``None``, ``Sign`` or ``SignAndEncrypt`` (must be ``None`` iff the policy is).
        certificate: Client certificate (PEM/DER) for a secure channel.
        private_key: Client private key (PEM/DER) for a secure channel.
        username: User name (omit for anonymous).
        password: Password of ``username``.
        tag_map: Explicit ``{node id string: sensor id}``; empty = every KG sensor id found in ``namespace``.
        publishing_ms: Subscription publishing interval.
        queue_size: Monitored-item queue size on the server (samples kept between publishes).
        batch_size: Readings per KG insert.
        flush_s: Longest time a reading waits in the buffer.
        buffer_max: Bounded buffer: beyond it samples are dropped and re-read from the server's history.
        backoff_initial_s: First reconnect delay; doubles up to ``backoff_max_s``.
        backoff_max_s: Longest reconnect delay.
        timeout_s: Request timeout.
        watchdog_s: How often the client probes the server (a lost connection is noticed within it).
    """

    endpoint: str = "opc.tcp://127.0.0.1:4840/indagent/"
    namespace: str = DEFAULT_NAMESPACE
    security_policy: SecurityPolicy = "None"
    security_mode: SecurityMode = "None"
    certificate: Path | None = None
    private_key: Path | None = None
    username: str | None = None
    password: SecretStr | None = None
    tag_map: dict[str, str] = Field(default_factory=dict)
    publishing_ms: int = Field(50, ge=10)
    queue_size: int = Field(1000, ge=1)
    batch_size: int = Field(5000, ge=1)
    flush_s: float = Field(0.25, gt=0)
    buffer_max: int = Field(200_000, ge=100)
    backoff_initial_s: float = Field(0.2, gt=0)
    backoff_max_s: float = Field(10.0, gt=0)
    timeout_s: float = Field(4.0, gt=0)
    watchdog_s: float = Field(5.0, gt=0)

    @model_validator(mode="after")
    def _check_security(self) -> OpcUaConfig:
        if not self.endpoint.startswith("opc.tcp://"):
            raise ConfigError(f"OPC UA endpoint {self.endpoint!r} must start with 'opc.tcp://'.")
        if (self.security_policy == "None") != (self.security_mode == "None"):
            raise ConfigError("Set both security_policy and security_mode, or neither (e.g. Basic256Sha256 + SignAndEncrypt).")
        if self.security_policy != "None" and (self.certificate is None or self.private_key is None):
            raise ConfigError("A secure OPC UA channel needs a client certificate and private key "
                              "(INDAGENT_OPCUA_CERTIFICATE, INDAGENT_OPCUA_PRIVATE_KEY).")
        if self.password is not None and self.username is None:
            raise ConfigError("An OPC UA password needs a user name (INDAGENT_OPCUA_USERNAME).")
        return self

    def security_string(self) -> str | None:
        """The ``Policy,Mode,cert,key`` string asyncua expects, or None for no security."""
        if self.security_policy == "None":
            return None
        return f"{self.security_policy},{self.security_mode},{self.certificate},{self.private_key}"


class OpcUaSettings(OpcUaConfig, BaseSettings):
    """:class:`OpcUaConfig` read from ``INDAGENT_OPCUA_*`` environment variables (or ``.env``)."""

    model_config = SettingsConfigDict(env_prefix="INDAGENT_OPCUA_", env_file=".env", extra="ignore")


def opcua_settings(**overrides: object) -> OpcUaConfig:
    """The connector's config from the environment, with CLI ``overrides`` (None values ignored).

    Args:
        overrides: Fields of :class:`OpcUaConfig` given on the command line.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    return OpcUaConfig.model_validate(OpcUaSettings(**given).model_dump())  # type: ignore[arg-type]
