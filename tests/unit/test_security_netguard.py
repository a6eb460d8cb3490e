"""The address guard of direct mode, and git run with a scrubbed env and no hooks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gomodproxy.sources.direct.git import Git, scrub_env
from gomodproxy.sources.netguard import AddressRefused, NetGuard, forbidden_reason, split_remote


@pytest.mark.parametrize(
    ("ip", "reason"),
    [
        ("169.254.169.254", "link-local"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("172.16.5.4", "private"),
        ("fd00::1", "private"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "special-purpose"),
        ("224.0.0.1", "multicast"),
        ("8.8.8.8", ""),
        ("2001:4860:4860::8888", ""),
    ],
)
def test_forbidden_ranges(ip: str, reason: str) -> None:
    """Metadata, loopback, private, link-local, CGNAT and mapped forms are refused."""
    import ipaddress

    assert forbidden_reason(ipaddress.ip_address(ip)) == reason


def test_allow_list() -> None:
    """An allow-listed network passes; the rest of the private space does not."""
    guard = NetGuard("127.0.0.0/8, 10.20.0.0/16")
    guard.check_ip("127.0.0.1", "t")
    guard.check_ip("::ffff:10.20.1.1", "t")
    with pytest.raises(AddressRefused, match=r"refusing to contact 10\.21\.0\.1 \(private"):
        guard.check_ip("10.21.0.1", "t")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://git.example.com/x.git", ("https", "git.example.com", 443)),
        ("http://[::1]:8080/x", ("http", "::1", 8080)),
        ("git@169.254.169.254:x/y.git", ("ssh", "169.254.169.254", 22)),
        ("ssh://git@10.0.0.1/x", ("ssh", "10.0.0.1", 22)),
        ("git://h/x", ("git", "h", 9418)),
        ("file:///srv/git/x.git", ("file", "", 0)),
        ("/srv/git/x.git", ("file", "", 0)),
    ],
)
def test_split_remote(url: str, expected: tuple[str, str, int]) -> None:
    """Hosts are found in URLs and scp-like remotes; local paths have none."""
    assert split_remote(url) == expected


async def test_check_url_and_git_options() -> None:
    """Literal forbidden hosts are refused; names resolving to loopback too ("localhost")."""
    guard = NetGuard()
    with pytest.raises(AddressRefused):
        await guard.check_url("http://169.254.169.254/latest/meta-data/", "go-get")
    with pytest.raises(AddressRefused):
        await guard.check_url("https://localhost/x.git", "git")
    with pytest.raises(AddressRefused):
        await guard.git_options("git@[::1]:x.git")
    assert await guard.check_url("file:///srv/x.git", "git") == ""
    allowed = NetGuard("127.0.0.0/8")
    options = await allowed.git_options("https://127.0.0.1:8443/x.git")
    assert options == ["-c", "http.followRedirects=false"]
    options = await allowed.git_options("https://localhost:8443/x.git")
    assert "http.curloptResolve=localhost:8443:127.0.0.1" in options


def test_scrub_env() -> None:
    """Cloud keys, tokens and git config injection variables never reach git."""
    env = scrub_env(
        {
            "PATH": "/bin",
            "HOME": "/h",
            "LC_ALL": "C",
            "AWS_SECRET_ACCESS_KEY": "x",
            "GITHUB_TOKEN": "x",
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "core.sshCommand",
            "GIT_ASKPASS": "/evil",
            "LD_PRELOAD": "/evil.so",
            "GIT_CONFIG_GLOBAL": "/h/.gitconfig",
        }
    )
    assert env == {
        "PATH": "/bin",
        "HOME": "/h",
        "LC_ALL": "C",
        "GIT_CONFIG_GLOBAL": "/h/.gitconfig",
    }


async def test_git_runs_no_hooks_and_no_ext(tmp_path: Path) -> None:
    """A hook planted in a repository does not run (it does for plain git); ext:: is refused."""
    repo = tmp_path / "r.git"
    ident = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
    }
    subprocess.run(["git", "init", "--bare", "-q", str(repo)], check=True)
    tree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
    subprocess.run(
        ["git", "--git-dir", str(repo), "hash-object", "-w", "-t", "tree", "/dev/null"],
        check=True,
        capture_output=True,
    )
    commit = subprocess.run(
        ["git", "--git-dir", str(repo), "commit-tree", tree, "-m", "x"],
        check=True,
        capture_output=True,
        env=ident,
        text=True,
    ).stdout.strip()
    marker = tmp_path / "hook-ran"
    hook = repo / "hooks" / "reference-transaction"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    git = Git(env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    await git.run(["update-ref", "refs/heads/x", commit], git_dir=repo)
    assert not marker.exists()
    subprocess.run(
        ["git", "--git-dir", str(repo), "update-ref", "refs/heads/y", commit], check=True
    )
    assert marker.exists()  # the control: plain git runs the hook
    marker.unlink()
    r = await git.run(["ls-remote", f"ext::sh -c touch% {marker}"], check=False)
    assert r.returncode != 0
    assert not marker.exists()


#: 169.254.169.254 (cloud metadata) as every IPv6 form that embeds an IPv4 address.
METADATA_AS_IPV6 = {
    "mapped": "::ffff:169.254.169.254",
    "compatible": "::169.254.169.254",
    "nat64": "64:ff9b::a9fe:a9fe",
    "nat64-local-96": "64:ff9b:1::a9fe:a9fe",
    "nat64-local-48": "64:ff9b:1:a9fe:a9:fe00::",
    "6to4": "2002:a9fe:a9fe::1",
    "teredo": "2001:0:4136:e378:8000:63bf:5601:5601",
    "isatap": "2600::5efe:a9fe:a9fe",
}


@pytest.mark.parametrize("ip", METADATA_AS_IPV6.values(), ids=METADATA_AS_IPV6.keys())
def test_embedded_ipv4_metadata_refused_by_the_redirect_guard(ip: str) -> None:
    """The guard of upstream redirects (link-local only) sees through every embedding."""
    guard = NetGuard(only=frozenset({"link-local"}))
    with pytest.raises(AddressRefused, match=r"link-local address"):
        guard.check_ip(ip, "redirect to")


def test_embedded_public_ipv4_is_judged_as_the_ipv6_address() -> None:
    """A public IPv4 inside 6to4 stays allowed for the redirect guard; an allow-listed
    embedded network passes the full guard."""
    NetGuard(only=frozenset({"link-local"})).check_ip("2002:808:808::1", "t")
    NetGuard("10.20.0.0/16").check_ip("64:ff9b::10.20.1.1", "t")
    with pytest.raises(AddressRefused):
        NetGuard().check_ip("64:ff9b::10.21.1.1", "t")
