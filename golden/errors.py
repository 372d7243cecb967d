"""The one base of every error a user can fix: a configuration, a data set, an option. Each says the problem and
the fix; the command line prints it as one line (exit code 2), and a Python caller catches it by its type."""

__all__ = ["TrifactorError", "ConfigError", "DataError"]


class TrifactorError(Exception):
    """A user's error, with ``problem`` and ``fix``: :class:`ConfigError` (in
    :mod:`trifactor.golden.config`), :class:`DataError`, :class:`~trifactor.scripts.util.errors.UsageError`."""


class ConfigError(TrifactorError, ValueError):
    """A configuration value that cannot be used, with the key it came from and the fix."""

    def __init__(self, key: str, problem: str, fix: str, source: str = "<config>"):
        self.key, self.problem, self.fix, self.source = key, problem, fix, source
        super().__init__(f"{source}: {key} {problem}; fix: {fix}")


class DataError(TrifactorError, ValueError):
    """A data set that cannot be loaded, with the fix."""

    def __init__(self, problem: str, fix: str):
        self.problem, self.fix = problem, fix
        super().__init__(f"{problem}; fix: {fix}")
