"""deploy/k8s/: every manifest is valid against Kubernetes' own schemas, checked offline by
kubernetes-validate (as `make k8s` does), which rejects a broken one; and the manifests say
what the other deployments say (the same nginx config, probes, settings, uvicorn's flags)."""

import re
import socket
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from app.settings import PROJECT_ROOT

K8S = PROJECT_ROOT / "deploy" / "k8s"
TEMPLATE = PROJECT_ROOT / "deploy" / "nginx" / "attention.conf.template"


def _versions() -> list[str]:
    """The Kubernetes versions `make k8s` validates against (the Makefile's K8S_VERSIONS)."""
    found = re.search(r"^K8S_VERSIONS \?= (.+)$", (PROJECT_ROOT / "Makefile").read_text(), re.M)
    assert found, "the Makefile names no K8S_VERSIONS"
    return found.group(1).split()


def _resources() -> list[tuple[Path, dict[str, Any]]]:
    return [
        (path, document)
        for path in sorted(K8S.glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document
    ]


def _find(kind: str, name: str) -> dict[str, Any]:
    return next(r for _, r in _resources() if r["kind"] == kind and r["metadata"]["name"] == name)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection or name lookup fails the test: the schemas must come from the package."""

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("kubernetes-validate tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.mark.usefixtures("no_network")
def test_every_manifest_is_valid_offline() -> None:
    resources = _resources()
    kinds = {resource["kind"] for _, resource in resources}
    assert {"Deployment", "Service", "ConfigMap", "NetworkPolicy"} <= kinds
    for version in _versions():
        for path, resource in resources:
            try:
                kubernetes_validate.validate(resource, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                what = f"{resource['kind']} {resource['metadata']['name']}"
                pytest.fail(f"{path.name}, {what}, Kubernetes {version}: {error.message}")
    # Every object in the project's namespace, which the first file creates.
    namespaced = [r for _, r in resources if r["kind"] != "Namespace"]
    assert {r["metadata"]["namespace"] for r in namespaced} == {"attention-visualizer"}
    assert _resources()[0][1]["kind"] == "Namespace"


# What is broken: (path to it, what is put there, what the refusal says).
BROKEN: dict[str, tuple[list[str | int], object, str]] = {
    "a number that is a word": (["spec", "replicas"], "two", "'two' is not of type 'integer'"),
    "a misspelt field": (
        ["spec", "template", "spec", "containers", 0, "readinesProbe"],
        {},
        "'readinesProbe' was unexpected",
    ),
    "a container without a name": (
        ["spec", "template", "spec", "containers", 0],
        {"image": "attention-visualizer:latest"},
        "'name' is a required property",
    ),
}


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("breakage", BROKEN, ids=list(BROKEN))
def test_a_broken_manifest_is_refused(breakage: str) -> None:
    deployment = yaml.safe_load(yaml.safe_dump(_find("Deployment", "attention-app")))
    (*path, last), value, refusal = BROKEN[breakage]
    target = deployment
    for step in path:
        target = target[step]
    target[last] = value
    with pytest.raises(kubernetes_validate.ValidationError, match=re.escape(refusal)):
        kubernetes_validate.validate(deployment, _versions()[-1], strict=True)


def test_nginx_gets_the_proxy_config_of_the_other_deployments() -> None:
    config_map = _find("ConfigMap", "attention-nginx")
    assert config_map["data"]["default.conf.template"] == TEMPLATE.read_text(), (
        "deploy/k8s/nginx.yaml's copy of deploy/nginx/attention.conf.template differs: copy it"
    )
    container = _find("Deployment", "attention-nginx")["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item["value"] for item in container["env"]}
    # Every name the template leaves to its environment is given, the fixed Host among them.
    assert set(re.findall(r"\$\{(ATTN_[A-Z_]+)\}", TEMPLATE.read_text())) <= set(env)
    assert env["ATTN_PROXY_HOST"] and "$" not in env["ATTN_PROXY_HOST"]
    # Every ready replica, followed as replicas move: the headless Service, resolved again.
    service = _find("Service", "attention-replicas")
    assert service["spec"]["clusterIP"] == "None"
    assert f"{service['metadata']['name']}.attention-visualizer.svc" in env["ATTN_UPSTREAM_SERVERS"]
    assert " resolve " in env["ATTN_UPSTREAM_SERVERS"] and "zone " in env["ATTN_UPSTREAM_SERVERS"]


def test_the_replicas_are_probed_limited_and_configured() -> None:
    pod = _find("Deployment", "attention-app")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz", probe
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]
    assert "--no-proxy-headers" in container["command"]
    settings = _find("ConfigMap", "attention-settings")["data"]
    assert container["envFrom"] == [{"configMapRef": {"name": "attention-settings"}}]
    redis = _find("Service", "attention-redis")["metadata"]["name"]
    assert settings["ATTN_REDIS_URL"].startswith(f"redis://{redis}:")
    assert settings["ATTN_RATE_LIMIT_STORAGE"] == settings["ATTN_REDIS_URL"]
    assert settings["ATTN_TRUSTED_PROXIES"].startswith("[")
    # Only nginx's pods may reach the replicas, so only they can send a trusted header.
    policy = _find("NetworkPolicy", "attention-app")["spec"]
    (source,) = policy["ingress"][0]["from"]
    assert source["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "nginx"
