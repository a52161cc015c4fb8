"""The project's exceptions: one base, one subclass per kind of failure a caller can act on.

Library errors (pymongo, OpenCV, Tesseract) are wrapped at the boundary where they occur,
with ``raise ... from err``, so callers only ever catch these.
"""


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


class LocalWorkersStoppedError(OcrTuneError):
    """Raised when every worker of a local run stopped before the search finished; says why."""


class StoreError(OcrTuneError):
    """Raised when the trial store cannot be read or written."""


class StoreUnavailableError(StoreError):
    """Raised when the store cannot be reached at all; callers retry with backoff."""


class UnknownExperimentError(StoreError):
    """Raised when an experiment key names no experiment in the store."""


class ExperimentMismatchError(StoreError):
    """Raised when an existing experiment was created with another objective or dataset."""


class IllegalTransitionError(StoreError):
    """Raised when a trial would move between states the state machine does not allow."""


class LeaseLostError(StoreError):
    """Raised when a worker writes to a trial it no longer owns.

    This is an expected outcome, not a crash: the lease expired and the trial was requeued,
    or another worker already recorded it.
    """
