# The tiny pipeline, CPU only: `make repro` inside (laptops, CI-like use).
#
#   docker build -f docker/cpu.Dockerfile -t audioreason:cpu .
#   docker run --rm -v audioreason-outputs:/app/outputs audioreason:cpu            # make repro
#   docker run --rm audioreason:cpu make test                                     # the test suite
#   docker run --rm --network audioreason_default -e MLFLOW_TRACKING_URI=http://mlflow:5000 audioreason:cpu
#
# MLFLOW_TRACKING_URI sends the runs to a tracking server (docker/compose.yaml) instead of
# /app/mlflow.db. The apt pins are Debian bookworm's current versions; when bookworm ships
# a security update the old version leaves the archive: bump the pin (apt-cache policy PKG).
FROM python:3.11.14-slim-bookworm

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1

# make runs the two commands, git gives every run its commit, g++ serves torch's CPU compiler.
RUN apt-get update \
 && apt-get install -y --no-install-recommends make=4.3-4.1 git=1:2.39.5-0+deb12u3 g++=4:12.2.0-3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 1000 audioreason \
 && useradd --uid 1000 --gid audioreason --create-home --shell /bin/bash audioreason \
 && mkdir /app && chown audioreason:audioreason /app

WORKDIR /app
USER 1000:1000

# Dependencies first (a layer that changes only with the pins), then the package.
COPY --chown=audioreason:audioreason Makefile pyproject.toml ./
COPY --chown=audioreason:audioreason requirements/ requirements/
RUN make deps PYTHON=python3.11 TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
COPY --chown=audioreason:audioreason . .
RUN make env PYTHON=python3.11 \
 && mkdir -p outputs

ENV PATH=/app/.venv/bin:$PATH \
    OMP_NUM_THREADS=2 \
    HF_HOME=/home/audioreason/.cache/huggingface
VOLUME ["/app/outputs"]
CMD ["make", "repro"]
