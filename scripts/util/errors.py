"""User errors of the command line: reported as one line with the fix, never a traceback."""

from trifactor.golden.errors import TrifactorError


class UsageError(TrifactorError):
    """A bad option or missing tool: ``problem`` and ``fix`` are shown to the user."""

    def __init__(self, problem: str, fix: str):
        self.problem, self.fix = problem, fix
        super().__init__(f"{problem}; fix: {fix}")


#: what one measurement of a comparison may fail with and still leave the others to run (a rule the core has no
#: hardware for, a network without hidden layers for a feedback rule; ConfigError is a ValueError)
FAILURES = (ValueError, NotImplementedError, UsageError)


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message (its class name if it has none): a failed measurement's record."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__
