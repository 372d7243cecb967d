"""User errors of the command line: reported as one line with the fix, never a traceback."""

from trifactor.golden.errors import TrifactorError


class UsageError(TrifactorError):
    """A bad option or missing tool: ``problem`` and ``fix`` are shown to the user."""

    def __init__(self, problem: str, fix: str):
        self.problem, self.fix = problem, fix
        super().__init__(f"{problem}; fix: {fix}")
