"""One settings object for the whole platform (prefix ``GONGZHI_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_DEV_SECRET = "dev-insecure-secret-change-me"  # noqa: S105 - the known-bad value we refuse outside development


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GONGZHI_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str = ""  # empty: SQLite in data_dir (gongzhi.db)
    data_dir: Path = Path("var")
    secret_key: str = _DEV_SECRET
    host: str = "127.0.0.1"
    port: int = 8000
    session_max_age_s: int = 12 * 3600
    login_max_failures: int = 5
    login_lockout_s: int = 15 * 60
    login_ip_per_minute: int = 30
    max_upload_bytes: int = 20 * 1024 * 1024
    embedded_worker: bool = True
    worker_interval_s: float = 2.0
    webhook_timeout_s: float = 5.0
    pv_workers: int = 1  # processes analysing one uploaded PV flight (frames are split between them)
    map_tile_url: str = ""  # e.g. an intranet https://tiles.example/{z}/{x}/{y}.png; empty: no basemap
    map_tile_attribution: str = ""
    # Rate limits on public writes, counted in the database so every server process shares them (see
    # gongzhi.core.ratelimit); "N/unit" items (second, minute, hour, day; "100/10minutes"), "off" for none.
    rate_citizen_ip: str = "5/minute,30/hour"  # per address: the intake form, its JSON twin, opinion pages
    rate_open311_ip: str = "30/minute,300/hour"  # per address: Open311 POST requests
    rate_open311_key: str = "120/minute,3000/hour"  # per api_key: Open311 POST requests

    @model_validator(mode="after")
    def _database_in_data_dir(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'gongzhi.db'}"
        return self

    @model_validator(mode="after")
    def _refuse_insecure_secret(self) -> Settings:
        if self.env == "production" and (self.secret_key == _DEV_SECRET or len(self.secret_key) < 32):
            raise ValueError("GONGZHI_SECRET_KEY must be set to 32+ random characters in production")
        return self

    @field_validator("rate_citizen_ip", "rate_open311_ip", "rate_open311_key")
    @classmethod
    def _rate_spec(cls, value: str) -> str:
        from gongzhi.core.ratelimit import parse

        parse(value)
        return value

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
