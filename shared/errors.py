"""The project's exceptions: one base, one subclass per kind of failure a caller can act on.

Library errors (pymongo, OpenCV, Tesseract) are wrapped at the boundary where they occur,
with ``raise ... from err``, so callers only ever catch these.
"""

import shlex
from collections.abc import Sequence


class OcrTuneError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(OcrTuneError):
    """Raised when a setting, option or URI is malformed or out of range."""


class DatasetError(OcrTuneError):
    """Raised when a dataset folder, image or text cannot be used; names the file."""


class ParamsError(OcrTuneError):
    """Raised when trial parameters are missing, of the wrong type or out of range."""


class OcrEngineError(OcrTuneError):
    """Raised when Tesseract or its language data is missing, or a recognition fails."""


class ObjectiveError(OcrTuneError):
    """Raised when an objective is unknown, or cannot evaluate a trial."""


class ObjectiveUnavailableError(ObjectiveError):
    """Raised when an objective cannot be loaded here for now (its evaluation process did
    not start, its dataset could not be read, its engine did not start); a later try may
    succeed, unlike another objective, version, dataset or settings."""


class SuggestingError(OcrTuneError):
    """Raised with a message that suggests a coordinator command to run next.

    ``command`` holds the command's words after ``python -m coordinator``, without the
    options that name the store (``--history``, ``--mongo``): where those are known, the
    message is rendered with them (``coordinator.hints``), so that the suggestion reads the
    store the user named. ``str()`` gives it without them; an empty ``command`` suggests
    nothing.
    """

    def __init__(self, before: str, command: Sequence[str] = (), after: str = "") -> None:
        self.before = before
        self.command = tuple(command)
        self.after = after
        super().__init__(self.render(""))

    def render(self, store_options: str) -> str:
        """The message, its suggested command followed by ``store_options``, as typed
        (" --history runs/a.sqlite")."""
        if not self.command:
            return self.before + self.after
        words = shlex.join(["python", "-m", "coordinator", *self.command])
        return f"{self.before}`{words}{store_options}`{self.after}"


class LocalWorkersStoppedError(SuggestingError):
    """Raised when every worker of a local run stopped before the search finished; says why."""


class StoreError(OcrTuneError):
    """Raised when the trial store cannot be read or written."""


class StoreUnavailableError(StoreError):
    """Raised when the store cannot be reached at all; callers retry with backoff."""


class UnknownExperimentError(StoreError):
    """Raised when an experiment key names no experiment in the store."""


class ExperimentMismatchError(StoreError):
    """Raised when an existing experiment was created with another objective or dataset."""


class VanishedTrialsError(StoreError):
    """Raised when queued or running trials are no longer in the store (deleted by hand, or
    the database restored from an older copy or restarted without its data)."""


class IllegalTransitionError(StoreError):
    """Raised when a trial would move between states the state machine does not allow."""


class LeaseLostError(StoreError):
    """Raised when a worker writes to a trial it no longer owns.

    This is an expected outcome, not a crash: the lease expired and the trial was requeued,
    or another worker already recorded it.
    """
