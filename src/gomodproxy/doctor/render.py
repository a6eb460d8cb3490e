"""``config render``: correct configuration snippets for each place Go runs. Pure.

Every target is a list of files (a suggested path and its text). Before rendering, the
settings themselves go through the doctor's rules: a snippet is never written around a value
the go command would reject or that leaks private module paths. A test runs the doctor over
everything rendered here and expects no error or warning (the round trip).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gomodproxy.doctor import rules
from gomodproxy.doctor.model import Context, Setting, Severity
from gomodproxy.errors import InvalidInput

TARGETS = ("dockerfile", "github", "gitlab", "profile", "systemd", "kubernetes", "go-env")


@dataclass(frozen=True)
class Settings:
    """What to render."""

    proxy: str
    private: str = ""
    sumdb: str = ""
    go_version: str = "1.26"
    #: the systemd unit that runs go (a CI runner) for the drop-in.
    unit: str = "gitlab-runner.service"
    #: the secret holding a token that can read the private modules.
    token_secret: str = "GO_MODULES_TOKEN"

    def env(self) -> list[tuple[str, str]]:
        """The Go variables to set, in a stable order."""
        out = [("GOPROXY", self.proxy)]
        if self.private:
            out.append(("GOPRIVATE", self.private))
        if self.sumdb:
            out.append(("GOSUMDB", self.sumdb))
        out.append(("GOFLAGS", "-mod=readonly"))
        return out

    def netrc_host(self) -> str:
        """The host to write a .netrc line for: the first literal GOPRIVATE pattern's host."""
        for p in self.private.split(","):
            host = p.split("/", 1)[0]
            if host and not re.search(r"[*?\[\\]", host):
                return host
        return ""


def check(s: Settings) -> None:
    """Refuse settings the doctor would flag as an error or a warning.

    Raises:
        InvalidInput: the findings, one per line.
    """
    ctx = Context("render", "shell")
    ctx.env = {k: Setting(k, v, "--" + k.lower(), "command line", 0) for k, v in s.env()}
    bad = [f for f in rules.check([ctx]) if f.severity >= Severity.WARN]
    if bad:
        raise InvalidInput("; ".join(f"{f.code}: {f.message}" for f in bad))


def _sh_quote(v: str) -> str:
    return "'" + v.replace("'", "'\\''") + "'"


def _yaml_quote(v: str) -> str:
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(target: str, s: Settings) -> list[tuple[str, str]]:
    """Files of ``target`` for settings ``s``.

    Raises:
        InvalidInput: an unknown target, or settings the doctor rejects.
    """
    if target not in TARGETS:
        raise InvalidInput(f"unknown target {target!r} (want one of {', '.join(TARGETS)})")
    check(s)
    return {
        "dockerfile": _dockerfile,
        "github": _github,
        "gitlab": _gitlab,
        "profile": _profile,
        "systemd": _systemd,
        "kubernetes": _kubernetes,
        "go-env": _go_env,
    }[target](s)


def _dockerfile(s: Settings) -> list[tuple[str, str]]:
    env = s.env()
    global_args = "\n".join(f"ARG {k}={_sh_quote(v)}" for k, v in env if k != "GOFLAGS")
    redeclare = "\n".join(f"ARG {k}" for k, _ in env if k != "GOFLAGS")
    env_line = " \\\n    ".join(f"{k}=${{{k}}}" if k != "GOFLAGS" else f"{k}={v}" for k, v in env)
    secret = (
        "    --mount=type=secret,id=netrc,target=/root/.netrc,required=false \\\n"
        if s.private
        else ""
    )
    text = f"""# syntax=docker/dockerfile:1
# Build with: docker build --secret id=netrc,src=$HOME/.netrc .
# Global ARGs are visible only in FROM lines until a stage redeclares them.
ARG GO_VERSION={s.go_version}
{global_args}

FROM golang:${{GO_VERSION}} AS build
{redeclare}
ENV {env_line}
WORKDIR /src
# go.mod and go.sum first, so the download layer is cached until they change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \\
{secret}    go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \\
    --mount=type=cache,target=/root/.cache/go-build \\
    CGO_ENABLED=0 go build -trimpath -o /out/app .

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
COPY --from=build /out/app /app
ENTRYPOINT ["/app"]
"""
    return [("Dockerfile", text)]


def _github(s: Settings) -> list[tuple[str, str]]:
    env = "\n".join(f"  {k}: {_yaml_quote(v)}" for k, v in s.env())
    host = s.netrc_host()
    creds = (
        f"""      - name: Credentials for private modules
        run: printf 'machine {host} login x-access-token password %s\\n' "$TOKEN" > ~/.netrc
        env:
          TOKEN: ${{{{ secrets.{s.token_secret} }}}}
"""
        if host
        else ""
    )
    text = f"""name: build
on: [push, pull_request]
env:
{env}
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-go@v5
        with:
          go-version-file: go.mod
{creds}      - run: go mod download
      - run: go build ./...
      - run: go test ./...
"""
    return [(".github/workflows/build.yml", text)]


def _gitlab(s: Settings) -> list[tuple[str, str]]:
    env = "\n".join(f"  {k}: {_yaml_quote(v)}" for k, v in s.env())
    host = s.netrc_host()
    creds = (
        f"""  before_script:
    - printf 'machine {host} login gitlab-ci-token password %s\\n' "${s.token_secret}" > ~/.netrc
"""
        if host
        else ""
    )
    text = f"""# Project or group CI/CD variables with the same names override these.
variables:
{env}

build:
  image: golang:{s.go_version}
{creds}  script:
    - go mod download
    - go build ./...
    - go test ./...
"""
    return [(".gitlab-ci.yml", text)]


def _profile(s: Settings) -> list[tuple[str, str]]:
    exports = "\n".join(f"export {k}={_sh_quote(v)}" for k, v in s.env())
    script = f"""# Go module settings for login shells. Services do not read this file:
# the systemd drop-in below gives the same values to {s.unit}.
{exports}
"""
    return [("/etc/profile.d/go-modules.sh", script), *_dropin(s)]


def _dropin(s: Settings) -> list[tuple[str, str]]:
    assigns = " ".join(f'"{k}={v}"' for k, v in s.env())
    text = f"""[Service]
Environment={assigns}
"""
    return [(f"/etc/systemd/system/{s.unit}.d/go-modules.conf", text)]


def _systemd(s: Settings) -> list[tuple[str, str]]:
    envfile = "\n".join(f"{k}={v}" for k, v in s.env())
    dropin = """[Service]
EnvironmentFile=/etc/go-modules.env
"""
    return [
        ("/etc/go-modules.env", envfile + "\n"),
        (f"/etc/systemd/system/{s.unit}.d/go-modules.conf", dropin),
    ]


def _kubernetes(s: Settings) -> list[tuple[str, str]]:
    data = "\n".join(f"  {k}: {_yaml_quote(v)}" for k, v in s.env())
    text = f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: go-modules
data:
{data}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: go-build
spec:
  replicas: 1
  selector:
    matchLabels:
      app: go-build
  template:
    metadata:
      labels:
        app: go-build
    spec:
      containers:
        - name: build
          image: golang:{s.go_version}
          envFrom:
            - configMapRef:
                name: go-modules
"""
    return [("go-modules.yaml", text)]


def _go_env(s: Settings) -> list[tuple[str, str]]:
    lines = "\n".join(f"{k}={v}" for k, v in s.env())
    words = " ".join(f"{k}={_sh_quote(v)}" for k, v in s.env())
    text = f"""# The user go env file ($GOENV, or ~/.config/go/env). The same, with the go command:
#   go env -w {words}
# The environment overrides this file: check that GOPROXY etc. are not exported too.
{lines}
"""
    return [("go/env", text)]
