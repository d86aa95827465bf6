# syntax=docker/dockerfile:1
# The Causality image for KubeRay (ray-cluster.yaml, helm/causality): head, CPU and GPU workers.
#
#   docker build -t causality:0.1.0 .                          # CPU: gateway, pipeline, jobs
#   docker build --build-arg LLM=true -t causality:0.1.0-llm . # + Ray Serve LLM / vLLM (GPU)
#
# Base: python:3.11-slim rather than rayproject/ray:2.60.0-py311. The project pins ray[serve]
# itself (pyproject.toml), so the image runs exactly the versions the tests ran, with one
# Python and no second package manager (the Ray image ships conda and a preinstalled Ray that
# pip would have to reconcile). vLLM's CUDA runtime comes as pip wheels (nvidia-*), so the GPU
# image needs only the node's driver, which the NVIDIA device plugin mounts.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:22-bookworm-slim

# -- the browser bundles the gateway serves: /app (webui/dist) and /sdk (sdk/web/dist)
FROM ${NODE_IMAGE} AS web
WORKDIR /src
COPY sdk/web/package.json sdk/web/package-lock.json sdk/web/
RUN cd sdk/web && npm ci --no-audit --no-fund
COPY webui/package.json webui/package-lock.json webui/
RUN cd webui && npm ci --no-audit --no-fund
COPY sdk/web/ sdk/web/
COPY webui/ webui/
RUN cd sdk/web && npm run --silent build && cd ../../webui && npm run --silent build

# -- the runtime: the project installed in place under /app
FROM ${PYTHON_IMAGE} AS runtime
ARG LLM=false
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# wget: KubeRay's default probes (for groups that set none) exec `wget`
RUN apt-get update \
    && apt-get install -y --no-install-recommends wget ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 --shell /bin/bash ray
WORKDIR /app
COPY pyproject.toml README.md ./
COPY causality/ causality/
COPY actors/ actors/
COPY jobs/ jobs/
COPY serve_app.py ./
# editable: the gateway finds webui/dist and sdk/web/dist beside the package (/app), and
# `ray job submit -- python -m jobs.compact` runs from this directory as-is; no dev extras
RUN if [ "$LLM" = "true" ]; then extras="[llm]"; else extras=""; fi \
    && pip install -e ".${extras}" \
    && python -c "import serve_app, jobs.compact"
COPY --from=web /src/webui/dist/ webui/dist/
COPY --from=web /src/sdk/web/dist/ sdk/web/dist/
USER 1000
ENV HOME=/home/ray
# KubeRay replaces the command with its own `ray start`; alone, the image is a one-node head
CMD ["ray", "start", "--head", "--block", "--dashboard-host=0.0.0.0"]
