"""Where the API key may go, and which Secrets may serve as one: the cluster admin decides."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from atlassian_operator.core.authority import (
    API_KEY_LABEL,
    SECRET_NAMESPACES_FILE,
    SECRET_NAMESPACES_VALUE,
    SECRET_ROLE,
    allowed_base_urls,
    base_url_problem,
    normalise_base_url,
    secret_access_problem,
    secret_problem,
)

ROOT = Path(__file__).resolve().parents[2]

DEFAULT_ONLY = allowed_base_urls([])
WITH_SIMULATOR = allowed_base_urls(["http://simulator.it.svc:8080/"])

# ----- base URLs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://api.atlassian.com", id="as-is"),
        pytest.param("https://api.atlassian.com/", id="trailing-slash"),
        pytest.param("https://API.Atlassian.COM", id="upper-case-host"),
        pytest.param("HTTPS://api.atlassian.com", id="upper-case-scheme"),
        pytest.param("https://api.atlassian.com:443", id="default-port"),
        pytest.param("https://api.atlassian.com:443/", id="default-port-and-slash"),
        pytest.param(" https://api.atlassian.com ", id="surrounding-spaces"),
    ],
)
def test_atlassians_own_api_is_always_allowed(url: str) -> None:
    assert base_url_problem(url, DEFAULT_ONLY) is None
    assert base_url_problem(url, WITH_SIMULATOR) is None


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://evil.example", id="another-host"),
        pytest.param("https://api.atlassian.com.evil.example", id="suffixed-host"),
        pytest.param("https://api.atlassian.com@evil.example", id="userinfo-trick"),
        pytest.param("https://api.atlassian.com:8443", id="another-port"),
        pytest.param("https://api.atlassian.com/proxy", id="another-path"),
        pytest.param("https://simulator.it.svc:8080", id="listed-host-other-scheme"),
    ],
)
def test_any_other_base_url_is_refused_naming_the_flag(url: str) -> None:
    problem = base_url_problem(url, WITH_SIMULATOR)

    assert problem is not None
    assert url in problem
    assert "--allow-api-base-url" in problem
    assert "https://api.atlassian.com" in problem  # says what is allowed


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://api.atlassian.com", id="atlassian-over-plain-http"),
        pytest.param("http://simulator.it.svc:8080", id="unlisted-plain-http"),
    ],
)
def test_plain_http_is_refused_unless_listed(url: str) -> None:
    problem = base_url_problem(url, DEFAULT_ONLY)

    assert problem is not None
    assert "plain http is refused" in problem
    assert "--allow-api-base-url" in problem


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://simulator.it.svc:8080", id="as-listed"),
        pytest.param("http://simulator.it.svc:8080/", id="trailing-slash"),
        pytest.param("http://Simulator.IT.svc:8080", id="upper-case-host"),
    ],
)
def test_a_listed_base_url_is_allowed_however_spelled(url: str) -> None:
    assert base_url_problem(url, WITH_SIMULATOR) is None


def test_a_listed_plain_http_url_on_its_default_port_is_one_spelling() -> None:
    allowed = allowed_base_urls(["http://simulator"])

    assert base_url_problem("http://simulator:80/", allowed) is None


def test_the_allow_list_always_holds_atlassians_api() -> None:
    assert allowed_base_urls([]) == frozenset({"https://api.atlassian.com"})
    assert allowed_base_urls(["https://proxy.example/"]) == frozenset(
        {"https://api.atlassian.com", "https://proxy.example"}
    )


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        pytest.param("HTTPS://API.atlassian.com:443/", "https://api.atlassian.com", id="all"),
        pytest.param("http://h:80", "http://h", id="http-default-port"),
        pytest.param("http://h:443", "http://h:443", id="https-port-over-http-kept"),
        pytest.param("https://h/a/b/", "https://h/a/b", id="path-kept-slash-dropped"),
    ],
)
def test_normalise_base_url(url: str, normal: str) -> None:
    assert normalise_base_url(url) == normal


# ----- Secrets ---------------------------------------------------------------------------------


def test_a_secret_labelled_as_an_api_key_may_be_used() -> None:
    labels = {API_KEY_LABEL: "true", "app": "atlassian"}

    assert secret_problem("it", "atlassian-key", labels) is None


def test_the_label_is_the_documented_one() -> None:
    assert API_KEY_LABEL == "atlassian.operators.dev/api-key"


@pytest.mark.parametrize(
    "labels",
    [
        pytest.param(None, id="no-labels"),
        pytest.param({}, id="empty-labels"),
        pytest.param({API_KEY_LABEL: "false"}, id="label-false"),
        pytest.param({API_KEY_LABEL: "True"}, id="label-capitalised"),
        pytest.param({API_KEY_LABEL: ""}, id="label-empty"),
        pytest.param({"api-key": "true"}, id="unprefixed-label"),
    ],
)
def test_a_secret_without_the_opt_in_label_is_refused_saying_how_to_label_it(
    labels: dict[str, str] | None,
) -> None:
    problem = secret_problem("it", "atlassian-key", labels)

    assert problem is not None
    assert "it/atlassian-key" in problem
    assert f"{API_KEY_LABEL}=true" in problem
    assert f"kubectl -n it label secret atlassian-key {API_KEY_LABEL}=true" in problem


def test_a_secret_the_operator_may_not_read_says_which_grant_is_missing_and_where() -> None:
    problem = secret_access_problem("team-a", "atlassian-api-key")

    assert problem.startswith("the operator may not read Secret team-a/atlassian-api-key (403)")
    assert "no get on Secrets in namespace team-a" in problem
    # The exact fix, in both installs, naming the namespace to add.
    assert "add team-a to the Helm value secretAccess.namespaces" in problem
    assert "manifests/base/secret-namespaces.yaml" in problem
    assert "RoleBinding of ClusterRole atlassian-operator-secrets in namespace team-a" in problem


def test_the_fix_names_what_the_install_really_has() -> None:
    """The value, the file and the ClusterRole the message names exist, as named."""
    values = yaml.safe_load((ROOT / "charts/atlassian-operator/values.yaml").read_text())
    group, key = SECRET_NAMESPACES_VALUE.split(".")
    assert values[group][key] == []  # the release namespace, by default
    listed = [d for d in yaml.safe_load_all((ROOT / SECRET_NAMESPACES_FILE).read_text()) if d]
    assert listed and {(d["kind"], d["roleRef"]["name"]) for d in listed} == {
        ("RoleBinding", SECRET_ROLE)
    }
    [role] = yaml.safe_load_all((ROOT / "manifests/base/secret-access.yaml").read_text())
    assert (role["kind"], role["metadata"]["name"]) == ("ClusterRole", SECRET_ROLE)


# A CR author can write these (the CRD's pattern '^https?://[^\s/]+(/[^\s]*)?$' admits them);
# urllib cannot read them, and they are refused with a problem, not an internal error.
@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://api.atlassian.com:abc", id="port-not-a-number"),
        pytest.param("https://api.atlassian.com:99999", id="port-out-of-range"),
        pytest.param("https://[::1", id="unclosed-ipv6-bracket"),
    ],
)
def test_an_unreadable_base_url_is_refused_with_a_problem(url: str) -> None:
    problem = base_url_problem(url, DEFAULT_ONLY)

    assert problem is not None
    assert "--allow-api-base-url" in problem
