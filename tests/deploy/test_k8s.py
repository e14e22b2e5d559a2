"""deploy/k8s/, checked offline: every manifest the kustomization lists validates against the
Kubernetes schemas (kubernetes-validate, strict: unknown fields are errors), every variable
the pods get is a real setting, the probes are real paths of the app, the commands are real
`herald` commands, and the pieces refer to each other (selectors, services, scale targets)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import kubernetes_validate
import pytest
import yaml

from herald.app import AppState, create_app
from herald.cli import build_parser
from herald.settings import Settings
from tests.support.settings_vars import ROOT, setting_names

BASE = ROOT / "deploy" / "k8s"
K8S_VERSION = "1.37.0"


def kustomization() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    return data


def documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for name in kustomization()["resources"]:
        docs.extend(d for d in yaml.safe_load_all((BASE / name).read_text()) if d)
    return docs


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in documents() if d["kind"] == kind]


def pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in documents():
        if doc["kind"] in ("Deployment", "Job"):
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]


def containers() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, spec in pod_specs():
        for container in spec.get("initContainers", []) + spec["containers"]:
            yield f"{name}/{container['name']}", container


def test_the_kustomization_lists_every_manifest() -> None:
    listed = set(kustomization()["resources"])
    present = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


@pytest.mark.parametrize("doc", documents(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_each_manifest_validates(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_validation_can_fail() -> None:
    [deployment] = [d for d in of_kind("Deployment") if d["metadata"]["name"] == "herald-api"]
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pat"] = "/"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_every_variable_is_a_real_setting() -> None:
    known = setting_names()
    names: set[str] = set()
    for doc in of_kind("ConfigMap"):
        names |= set(doc["data"])
    for doc in of_kind("Secret"):
        names |= set(doc["stringData"])
    for _, container in containers():
        names |= {e["name"] for e in container.get("env", [])}
    assert names and names <= known, names - known
    # secrets are in the Secret, never in the ConfigMap
    [config] = of_kind("ConfigMap")
    assert not {
        "DATABASE_URL",
        "REDIS_URL",
        "API_ADMIN_TOKEN",
        "PROBE_TOKEN",
        "SMTP_PASSWORD",
    } & set(config["data"])
    for _, container in containers():
        sources = {next(iter(s.values()))["name"] for s in container["envFrom"]}
        assert sources == {"herald-config", "herald-secrets"}


def app_paths() -> set[str]:
    app = create_app(AppState(settings=Settings.from_env({}), manage_db=False))
    return {getattr(r, "path", "") for r in app.app.routes}  # type: ignore[attr-defined]


def test_probes_are_real_paths() -> None:
    paths = app_paths()
    [api] = [c for n, c in containers() if n == "herald-api/api"]
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    port = {p["name"]: p["containerPort"] for p in api["ports"]}
    env = {e["name"]: e["value"] for e in api["env"]}
    assert port["http"] == int(env["PORT"]) and env["HOST"] == "0.0.0.0"
    for _, container in containers():
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            if probe in container:
                assert container[probe]["httpGet"]["path"] in paths
                assert container[probe]["httpGet"]["port"] == "http"


def test_commands_are_real_herald_commands() -> None:
    parser = build_parser()
    seen = set()
    for name, container in containers():
        command = container["command"]
        assert command[0] == "herald", name
        args = parser.parse_args(command[1:])
        seen.add(args.command)
        if args.command in ("serve", "worker"):
            assert args.no_migrate, f"{name}: migrations are the Job's"
    assert seen == {"serve", "worker", "migrate"}


def test_pods_run_unprivileged_with_resources() -> None:
    for name, spec in pod_specs():
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0, name
        assert spec["automountServiceAccountToken"] is False
    for name, container in containers():
        assert container["resources"]["requests"]["cpu"], name
        assert container["resources"]["requests"]["memory"], name
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]


def labels_of(name: str) -> dict[str, str]:
    [doc] = [d for d in of_kind("Deployment") if d["metadata"]["name"] == name]
    labels: dict[str, str] = doc["spec"]["template"]["metadata"]["labels"]
    assert doc["spec"]["selector"]["matchLabels"].items() <= labels.items()
    return labels


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def test_the_pieces_refer_to_each_other() -> None:
    api, worker = labels_of("herald-api"), labels_of("herald-worker")
    assert not matches(api, worker) and not matches(worker, api)
    [service] = of_kind("Service")
    assert matches(service["spec"]["selector"], api) and not matches(
        service["spec"]["selector"], worker
    )
    [ingress] = of_kind("Ingress")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"]
    assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
    assert (
        int(ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-read-timeout"])
        > 20
    )
    budgets = {
        d["metadata"]["name"]: d["spec"]["selector"]["matchLabels"]
        for d in of_kind("PodDisruptionBudget")
    }
    assert matches(budgets["herald-api"], api) and matches(budgets["herald-worker"], worker)
    deployments = {d["metadata"]["name"] for d in of_kind("Deployment")}
    targets = {d["spec"]["scaleTargetRef"]["name"]: d for d in of_kind("HorizontalPodAutoscaler")}
    assert set(targets) <= deployments and "herald-worker" in targets
    [metric] = targets["herald-worker"]["spec"]["metrics"]
    assert metric["external"]["metric"]["name"] == "herald_due_backlog_messages"
    assert "herald_due_backlog_messages" in (ROOT / "metrics" / "__init__.py").read_text()
    for _, container in containers():
        assert container["image"] == "herald"  # the kustomization's images: entry names it
    assert kustomization()["images"][0]["name"] == "herald"
