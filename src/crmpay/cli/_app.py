"""The application object every command asks for its workspace and output.

Commands stay thin: they parse arguments, call one use case through `app.ws` (a
`crmpay.Workspace`, the same object the Python API gives) and render the result
through `app.out`.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from crmpay.cli._output import Output

if TYPE_CHECKING:
    from crmpay.config import Config
    from crmpay.paths import Home
    from crmpay.store import Store
    from crmpay.workspace import Workspace


class Application:
    def __init__(self, *, profile: str | None, home: str | None, verbose: bool) -> None:
        self.profile_flag = profile
        self.home_flag = home
        self.verbose = verbose
        self.out = Output()

    @classmethod
    def start(cls, **options: Any) -> Application:
        """Called by the root command once per invocation."""
        global _current
        _current = cls(**options)
        return _current

    @classmethod
    def current(cls) -> Application:
        return _current if _current is not None else cls.start(profile=None, home=None, verbose=False)

    @cached_property
    def ws(self) -> Workspace:
        from crmpay.workspace import Workspace

        return Workspace(profile=self.profile_flag, home=self.home_flag)

    def close(self) -> None:
        global _current
        if "ws" in self.__dict__:
            self.ws.close()
        if _current is self:
            _current = None

    # shorthands for the commands that only read
    @property
    def home(self) -> Home:
        return self.ws.home

    @property
    def config(self) -> Config:
        return self.ws.config

    def config_with(self, **flags: Any) -> Config:
        return self.ws.config_with(**flags)

    @property
    def profile(self) -> str:
        return self.ws.profile

    def store(self) -> Store:
        return self.ws.store()


_current: Application | None = None
