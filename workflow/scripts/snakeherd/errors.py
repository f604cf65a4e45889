"""Errors that reach users.

Every failure a user can cause (a bad config, a missing or corrupt file, a runtime the node cannot
run) is raised as a :class:`SnakeherdError` whose text names the offending key or file and the fix.
Rule scripts turn these into one readable message instead of a traceback.
"""


class SnakeherdError(Exception):
    """A problem the user can fix; ``str(error)`` is the complete message."""

    def __init__(self, problem: str, fix: str | None = None):
        self.problem = problem
        self.fix = fix
        super().__init__(problem if fix is None else f"{problem}\nFix: {fix}")


class ConfigError(SnakeherdError):
    """The configuration is invalid; raised while Snakemake parses the workflow."""


class RuntimeUnavailableError(SnakeherdError):
    """The runtime asked for cannot run on this node (missing device, provider or package)."""


class VideoError(SnakeherdError):
    """A video cannot be opened or decoded."""


class InputFileError(SnakeherdError):
    """A non-video input (model, ground truth, predictions) is missing or unreadable."""
