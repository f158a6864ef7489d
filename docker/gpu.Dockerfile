# The paper-scale training image: CUDA torch 2.13.0 (the version vLLM 0.30.0 pins), vLLM, DeepSpeed,
# the package; what every Job in k8s/ runs on an 8-GPU node.
#
#   docker build -f docker/gpu.Dockerfile -t audioreason:gpu .
#   docker run --rm --gpus all --shm-size 64g --ipc host \
#     -v hf-cache:/cache/huggingface -v dvc-cache:/cache/dvc -v "$PWD/data:/app/data" audioreason:gpu \
#     bash -c 'audioreason params --from params.paper.yaml && dvc repro distill'
#
# CUDA comes with the wheels (torch's cu13 runtime, cuDNN, NCCL, nvcc for vLLM's and FlashInfer's
# kernels); the host gives only the driver, through the NVIDIA container toolkit / GPU operator.
# DeepSpeed is installed without pre-built ops (DS_BUILD_OPS=0): the configs in docker/deepspeed/
# use the trainer's torch AdamW and ZeRO without offload, which need no compiled op.
#
# Volumes: /cache/huggingface (HF_HOME: checkpoints, tens of GB), /cache/dvc (the DVC cache), /app/data.
#
# NCCL / OpenMP (override per cluster with -e / the Job's env):
#   OMP_NUM_THREADS=8            CPU threads per rank: node cores / 8 ranks (torchrun otherwise sets 1)
#   NCCL_DEBUG=WARN              INFO when a collective hangs (prints the transport each rank chose)
#   TORCH_NCCL_ASYNC_ERROR_HANDLING=1   a failed or timed-out collective aborts the job instead of hanging
#   NCCL_SOCKET_IFNAME           the inter-node interface (e.g. eth0; unset: NCCL picks)
#   NCCL_IB_DISABLE=1            only on clusters without InfiniBand / RoCE between nodes
#   /dev/shm                     NCCL's intra-node buffers: --shm-size 64g or --ipc host (k8s: a memory emptyDir)
FROM python:3.11.14-slim-bookworm

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1

# make and git as in the CPU image; g++ for Triton's launchers and DeepSpeed's JIT ops.
RUN apt-get update \
 && apt-get install -y --no-install-recommends make=4.3-4.1 git=1:2.39.5-0+deb12u3 g++=4:12.2.0-3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 1000 audioreason \
 && useradd --uid 1000 --gid audioreason --create-home --shell /bin/bash audioreason \
 && mkdir -p /app /cache/huggingface /cache/dvc \
 && chown -R audioreason:audioreason /app /cache

WORKDIR /app
USER 1000:1000

COPY --chown=audioreason:audioreason requirements/ requirements/
RUN python3.11 -m venv /app/.venv \
 && /app/.venv/bin/pip install --no-cache-dir -r requirements/build.txt \
 && /app/.venv/bin/pip install --no-cache-dir -r requirements/gpu.txt \
 && DS_BUILD_OPS=0 /app/.venv/bin/pip install --no-cache-dir --no-build-isolation deepspeed==0.19.8 \
 && /app/.venv/bin/pip check
COPY --chown=audioreason:audioreason . .
RUN /app/.venv/bin/pip install --no-cache-dir --no-deps --no-build-isolation -e . \
 && touch /app/.venv/.deps /app/.venv/.installed \
 && mkdir -p outputs data

ENV PATH=/app/.venv/bin:$PATH \
    HF_HOME=/cache/huggingface \
    DVC_NO_ANALYTICS=1 \
    GX_ANALYTICS_ENABLED=false \
    OMP_NUM_THREADS=8 \
    NCCL_DEBUG=WARN \
    TORCH_NCCL_ASYNC_ERROR_HANDLING=1 \
    VLLM_WORKER_MULTIPROC_METHOD=spawn \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
VOLUME ["/cache/huggingface", "/cache/dvc", "/app/data"]
CMD ["bash", "-c", "audioreason params --from params.paper.yaml && dvc repro"]
