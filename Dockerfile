# The Babel Shelf image: `shelf worker` (default) or `shelf bot`.
#   docker build -t babel-shelf:cpu .
#   docker build -t babel-shelf:cuda --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu126 .
# Settings come from the environment (babel_core/settings.py; docker-compose.yml sets them).
FROM python:3.11-slim

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BABEL_DATA_DIR=/data

WORKDIR /app
# torch first, from the index that matches the device (CPU or CUDA wheels)
RUN pip install "torch>=2.13,<2.15" --index-url "${TORCH_INDEX}"
COPY pyproject.toml README.md ./
COPY babel_core ./babel_core
COPY bot ./bot
RUN pip install . \
    && useradd --create-home --uid 1000 babel \
    && mkdir -p /data && chown babel /data
USER babel
VOLUME ["/data"]

ENTRYPOINT ["shelf"]
CMD ["worker"]
