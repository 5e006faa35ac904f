"""A community on disk: `shelf init` writes a sample one; `open_store` opens its database."""

from __future__ import annotations

import secrets
import shutil
from importlib import resources
from pathlib import Path
from string import Template

from kiosk.config import Config, load_config
from kiosk.passwords import hash_password
from kiosk.store import SqliteUnitOfWork, connect

SAMPLE = resources.files("kiosk") / "sample"


def write_sample(directory: Path, admin_password: str | None = None,
                 smtp_port: int = 8025) -> tuple[Path, str]:
    """Write config.toml and households.csv into ``directory``; return (config, password)."""
    directory.mkdir(parents=True, exist_ok=True)
    config_file = directory / "config.toml"
    if config_file.exists():
        raise FileExistsError(f"{config_file} exists already; not overwriting it")
    password = admin_password or secrets.token_urlsafe(9)
    text = Template((SAMPLE / "config.toml.in").read_text(encoding="utf-8")).substitute(
        label_secret=secrets.token_urlsafe(24),
        web_secret=secrets.token_urlsafe(24),
        api_token=secrets.token_urlsafe(24),
        admin_hash=hash_password(password),
    )
    text = text.replace("port = 8025", f"port = {smtp_port}")
    config_file.write_text(text, encoding="utf-8")
    with resources.as_file(SAMPLE / "households.csv") as src:
        shutil.copyfile(src, directory / "households.csv")
    return config_file, password


def open_store(config: Config):
    """Connect to the configured database and mirror the configured slots into it."""
    config.database.parent.mkdir(parents=True, exist_ok=True)
    conn = connect(config.database)
    with SqliteUnitOfWork(conn) as uow:
        uow.slots.sync([*config.layout.slots, config.layout.overflow])
    return conn


def init_community(directory: Path, admin_password: str | None = None,
                   smtp_port: int = 8025) -> tuple[Config, str]:
    config_file, password = write_sample(directory, admin_password, smtp_port)
    config = load_config(config_file)
    open_store(config).close()
    return config, password
