"""Where crmpay keeps its files.

`CRMPAY_HOME=DIR` (or `--home DIR`) puts everything under DIR: the config at
`DIR/config.toml`, data under `DIR/`. Otherwise the platform's user config and data
directories are used.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from crmpay.core.errors import UsageError

_PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_profile_name(name: str) -> str:
    if not _PROFILE_NAME.match(name):
        raise UsageError(
            f"invalid profile name {name!r}",
            hint="use letters, digits, '.', '_' or '-' (at most 64 characters)",
        )
    return name


@dataclass(frozen=True)
class Home:
    config_file: Path
    data_dir: Path
    explicit: bool  # chosen by CRMPAY_HOME / --home rather than the platform default

    @classmethod
    def resolve(cls, flag: str | os.PathLike[str] | None = None) -> Home:
        chosen = flag or os.environ.get("CRMPAY_HOME")
        if chosen:
            root = Path(chosen).expanduser()
            if root.exists() and not root.is_dir():
                raise UsageError(f"CRMPAY_HOME {root} is not a directory")
            if root.exists() and not os.access(root, os.R_OK | os.X_OK):
                raise UsageError(f"CRMPAY_HOME {root} is not readable")
            return cls(root / "config.toml", root, explicit=True)
        import platformdirs

        return cls(
            Path(platformdirs.user_config_dir("crmpay")) / "config.toml",
            Path(platformdirs.user_data_dir("crmpay")),
            explicit=False,
        )

    def profile_dir(self, profile: str) -> Path:
        return self.data_dir / "profiles" / check_profile_name(profile)

    def database(self, profile: str) -> Path:
        return self.profile_dir(profile) / "crmpay.sqlite3"

    def ensure_profile_dir(self, profile: str) -> Path:
        path = self.profile_dir(profile)
        try:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise UsageError(f"cannot create {path}: {exc.strerror}") from None
        return path
