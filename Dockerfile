# The operator image: `docker build -t ghcr.io/atlassian-operator/atlassian-operator:0.1.0 .`
# (make image). The same package as `pip install .`; runs as a non-root user with a read-only
# root filesystem (see manifests/base/deployment.yaml) and needs no shell.
# Without Docker or a registry, hack/image/build.sh builds this same file with podman on a
# Debian base it makes with debootstrap (BASE_IMAGE), installing the dependencies from wheels
# built on the host (PIP_INSTALL_OPTIONS="--no-index --find-links=/wheels", mounted there).
# Pinned by digest: the tag python:3.12-slim moves with every Debian and Python patch release, the
# digest names one image (the multi-platform index, so amd64 and arm64 each get theirs). This one is
# Python 3.12.13 on Debian trixie, as recorded by docker-library/repo-info
# (repos/python/remote/3.12-slim.md at commit 2986dca3a80cb11b70fc4599941096374ea9e509). To move
# it, take the new index digest from that file and change both tag and digest here.
ARG BASE_IMAGE=docker.io/library/python:3.12-slim@sha256:229a2c5bfa27522db7815ea81f9bed70af17ccb9de9fc7ad142b1877b5830d36

FROM ${BASE_IMAGE} AS build
ARG PIP_INSTALL_OPTIONS=""
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
# A virtual environment at /opt/venv: the same path whatever the base's Python prefix. pip and
# setuptools, and any bytecode, stay out of it.
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/python -m pip install --no-compile ${PIP_INSTALL_OPTIONS} . \
 && /opt/venv/bin/python -m pip uninstall --yes --quiet pip setuptools \
 && find /opt/venv -depth -name __pycache__ -type d -exec rm -rf {} +

FROM ${BASE_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# Not "operator": Debian already has that group (gid 37).
RUN groupadd --system --gid 10001 atlassian-operator \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin atlassian-operator
COPY --from=build /opt/venv /opt/venv
# Numeric, so that the kubelet can verify runAsNonRoot.
USER 10001:10001
# 8080: Prometheus metrics; 8081: liveness (/healthz).
EXPOSE 8080 8081
# Exec form, by absolute path: no shell runs, and the operator gets SIGTERM itself.
ENTRYPOINT ["/opt/venv/bin/atlassian-operator"]
CMD ["run", "--all-namespaces"]
