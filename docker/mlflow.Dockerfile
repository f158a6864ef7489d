# The team tracking server: MLflow 3.17.2 (the pipeline's version) with the PostgreSQL driver
# and boto3 for an S3-compatible artifact store. docker/compose.yaml and k8s/mlflow.yaml run it.
#
#   docker build -f docker/mlflow.Dockerfile -t audioreason-mlflow:3.17.2 .
FROM python:3.11.14-slim-bookworm

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1

COPY requirements/mlflow-server.txt /tmp/mlflow-server.txt
RUN pip install --no-cache-dir -r /tmp/mlflow-server.txt \
 && rm /tmp/mlflow-server.txt \
 && groupadd --gid 1000 mlflow \
 && useradd --uid 1000 --gid mlflow --no-create-home --shell /usr/sbin/nologin mlflow

USER 1000:1000
EXPOSE 5000
ENTRYPOINT ["mlflow", "server"]
CMD ["--host", "0.0.0.0", "--port", "5000"]
