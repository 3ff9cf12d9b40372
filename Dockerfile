# QuantFlow: one image for every service; `docker run IMAGE <service>` runs
# `quantflow serve <service>` (ingest, storage, backtest, alerts or graph).
#
# Two stages: the first installs QuantFlow (with the generated gRPC code in gen/python) into a
# virtual environment; the second is a clean slim Python with only that environment copied
# in, run as an unprivileged user. Every dependency installs from a wheel, so no stage needs
# a compiler.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/quantflow
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gen ./gen
COPY services ./services
COPY graph ./graph
# --only-binary: a dependency without a wheel for this platform fails the build here rather
# than pulling a compiler in; `ta` (pure Python) is published as source only. Compiled to
# bytecode at install: the root filesystem is read-only at run time.
RUN /opt/quantflow/bin/pip install --no-cache-dir --only-binary=:all: --no-binary=ta . \
    && /opt/quantflow/bin/python -m compileall -q /opt/quantflow/lib

FROM python:3.11-slim AS runtime
LABEL org.opencontainers.image.title="quantflow" \
      org.opencontainers.image.description="QuantFlow services: ingest, storage, backtest, alerts, graph" \
      org.opencontainers.image.licenses="MIT"
RUN groupadd --system --gid 10001 quantflow \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin quantflow
COPY --from=build /opt/quantflow /opt/quantflow
# Listen on every interface inside the container (the code's defaults are loopback only);
# the data directory is unused by `serve` (servers come from the URLs) but kept writable.
ENV PATH=/opt/quantflow/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    QUANTFLOW_GRPC_HOST=0.0.0.0 \
    QUANTFLOW_GRAPH_HOST=0.0.0.0 \
    QUANTFLOW_DATA_DIR=/tmp/quantflow
WORKDIR /tmp
USER 10001:10001
# gRPC: storage 7101, ingest 7102, graph 7103, backtest 7104, alerts 7105;
# GraphQL (and graph's /metrics) 8000; Prometheus: storage 9101, ingest 9102, backtest 9104,
# alerts 9105.
EXPOSE 7101 7102 7103 7104 7105 8000 9101 9102 9104 9105
ENTRYPOINT ["quantflow", "serve"]
CMD ["--help"]
