"""Errors a user can cause. Each is caught once, in ``__main__``, and printed as one line.

Every user-facing error class lives here (one hierarchy, each with its exit code). Exceptions
that never reach the user (``builder.index.http``'s ``Transient``/``Final``, which sort a failed
request into "retry" or "give up") stay with the code that raises and handles them.
"""

from __future__ import annotations


class BuilderError(Exception):
    """Base class for errors a user can cause; printed as one line."""

    exit_code = 2


class ArgumentError(BuilderError):
    """A command-line argument is malformed, or two arguments contradict each other; the same
    exit code as argparse's own usage errors."""

    exit_code = 2


class WheelError(BuilderError):
    """A wheel is malformed, unsafe, or cannot be changed as asked."""


class RecipeError(BuilderError):
    """A recipe or manifest file is missing or invalid."""


class InstallationError(BuilderError):
    """The builder's own files (recipes, patches, smoke models) cannot be found where it runs."""


class ModelFormatError(BuilderError):
    """A file is not a TensorFlow Lite model this reader can understand."""


class CommandError(BuilderError):
    """An external command failed or could not be started."""

    def __init__(self, message: str, returncode: int | None = None, output: str = "") -> None:
        super().__init__(message)
        self.returncode = returncode
        self.output = output


class DownloadError(BuilderError):
    """A request or download failed, a file did not match its expected hash, or an archive is
    unreadable or unsafe. ``status`` is the HTTP status where the server gave one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class EnvironmentSetupError(BuilderError):
    """An isolated environment could not be created or populated."""


class VerificationError(BuilderError):
    """Models could not be verified (as opposed to verified and failing)."""


class UnsupportedPlatformError(BuilderError):
    """The requested platform, interpreter or runtime is not supported here."""


class BuildError(BuilderError):
    """A source build failed."""


class PatchError(BuildError):
    """A patch file is malformed or does not apply exactly."""


class PublishError(BuilderError):
    """Publishing to a package index failed."""
