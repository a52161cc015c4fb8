"""The worker: reserves queued trials, evaluates them and records their results."""

from worker.loop import ExitReason, Worker, default_worker_id
from worker.settings import WorkerSettings

__all__ = ["ExitReason", "Worker", "WorkerSettings", "default_worker_id"]
