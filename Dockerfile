# The operator image: `docker build -t ghcr.io/atlassian-operator/atlassian-operator:0.1.0 .`
# (make image). The same package as `pip install .`; runs as a non-root user with a read-only
# root filesystem (see manifests/base/deployment.yaml).
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=build /install /usr/local
RUN groupadd --system --gid 10001 operator \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin operator
# Numeric, so that the kubelet can verify runAsNonRoot.
USER 10001:10001
# 8080: Prometheus metrics; 8081: liveness (/healthz).
EXPOSE 8080 8081
ENTRYPOINT ["atlassian-operator"]
CMD ["run", "--all-namespaces"]
