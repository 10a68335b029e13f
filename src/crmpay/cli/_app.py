"""The application object every command asks for its config, store and output.

Commands stay thin: they parse arguments, call one service with what this object
gives them, and render the result through `app.out`.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from crmpay.cli._output import Output

if TYPE_CHECKING:
    from crmpay.config import Config
    from crmpay.paths import Home
    from crmpay.store import Store


class Application:
    def __init__(self, *, profile: str | None, home: str | None, verbose: bool) -> None:
        self.profile_flag = profile
        self.home_flag = home
        self.verbose = verbose
        self.out = Output()
        self._store: Store | None = None

    @classmethod
    def start(cls, **options: Any) -> Application:
        """Called by the root command once per invocation."""
        global _current
        _current = cls(**options)
        return _current

    @classmethod
    def current(cls) -> Application:
        return _current if _current is not None else cls.start(profile=None, home=None, verbose=False)

    def close(self) -> None:
        global _current
        if self._store is not None:
            self._store.close()
            self._store = None
        if _current is self:
            _current = None

    @cached_property
    def home(self) -> Home:
        from crmpay.paths import Home

        return Home.resolve(self.home_flag)

    @cached_property
    def config(self) -> Config:
        from crmpay.config import Config

        return Config.load(self.home, self.profile_flag)

    def config_with(self, **flags: Any) -> Config:
        """The profile's config with command-line flags applied on top (flag > env > file)."""
        from crmpay.config import Config

        return Config.load(self.home, self.profile_flag, flags=flags)

    @property
    def profile(self) -> str:
        return self.config.profile

    def store(self) -> Store:
        """The profile's store, opened (and migrated) on first use."""
        if self._store is None:
            from crmpay.store import Store

            self.home.ensure_profile_dir(self.profile)
            self._store = Store.open(self.home.database(self.profile))
        return self._store


_current: Application | None = None
