# One image for the coordinator and the workers. Build: docker build -t ocr-tune:local .
# Layers run from least to most often changed, so editing the code rebuilds only the last
# few; see docs/deploy.md for how to refresh requirements.lock.

# Debian bookworm, like the machines the tests run on: its Tesseract is the one we test
# against. The patch version is pinned; add @sha256:<digest> when you publish images.
FROM python:3.11.14-slim-bookworm

# Unbuffered output: log lines reach `docker compose logs` as they are written.
# OMP_THREAD_LIMIT=1: one OCR thread per worker, so 8 workers on 8 cores do not oversubscribe
# them (Tesseract's OpenMP threads made each trial slower when workers run side by side).
# No pip cache, and no .pyc written at run time: pip compiles the installed packages once,
# at build time, and the non-root user could not write next to them anyway.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OMP_THREAD_LIMIT=1

# Tesseract and its English data from Debian: the pytesseract engine runs this binary and
# both engines read this tessdata. No recommended extras, and no apt lists left behind.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng \
    && rm -rf /var/lib/apt/lists/*

# Nothing runs as root: a fixed numeric uid lets Kubernetes check runAsNonRoot.
RUN useradd --system --uid 10001 --user-group --create-home ocrtune

# The pinned dependencies in a layer of their own: it is rebuilt only when the lock changes.
COPY requirements.lock /tmp/requirements.lock
RUN pip install -r /tmp/requirements.lock && rm /tmp/requirements.lock

# The project itself. --no-deps: everything it needs came from the lock above, pinned.
# --no-build-isolation: build with the locked setuptools instead of fetching the newest.
COPY pyproject.toml README.md /src/
COPY coordinator /src/coordinator
COPY worker /src/worker
COPY shared /src/shared
RUN pip install --no-deps --no-build-isolation /src && rm -rf /src

# From here on, and when the container runs, the unprivileged user; its home is writable
# for matplotlib's cache, while the data comes in through a read-only mount.
USER 10001:10001
WORKDIR /home/ocrtune

# The default is a worker; compose and the Kubernetes Job give the coordinator its command.
# Exec form, so that SIGTERM reaches Python and the worker can finish or hand back its trial.
CMD ["python", "-m", "worker"]
