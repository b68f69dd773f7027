"""A private CA and a server certificate for 127.0.0.1, made with openssl, for TLS tests."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from louyu.local_services import Mosquitto


@dataclass(frozen=True)
class Certificates:
    ca: Path
    cert: Path
    key: Path


def openssl_available() -> bool:
    return shutil.which("openssl") is not None


def make_certificates(directory: Path) -> Certificates:
    """As an operator would install them: the broker presents `cert`, clients trust `ca`."""
    directory.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True, timeout=60)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=louyu test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (directory / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf")  # fmt: skip
    # mosquitto may drop privileges before reading the key
    (directory / "server.key").chmod(0o644)
    return Certificates(directory / "ca.crt", directory / "server.crt", directory / "server.key")


def make_client_certificate(certs: Certificates, name: str) -> tuple[Path, Path]:
    """A client certificate signed by `certs`' CA (in the same directory): (cert, key)."""
    directory = certs.ca.parent

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True, timeout=60)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
    (directory / f"{name}.cnf").write_text("extendedKeyUsage=clientAuth\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.cnf")  # fmt: skip
    return directory / f"{name}.crt", directory / f"{name}.key"


def tls_broker(
    root: Path, certs: Certificates, accounts: dict[str, str], *, require_certificate: bool = False
) -> Mosquitto:
    """A mosquitto whose one listener speaks TLS only (the server certificate of `certs`), with
    these accounts and no anonymous access; `require_certificate`: clients must also present a
    certificate of the CA. It logs each connection (protocol, keep-alive, account) to
    `connections.log` in its directory (written line by line, unlike its buffered stdout)."""
    root.mkdir(parents=True, exist_ok=True)
    passwd = root / "passwd"
    passwd.touch()
    for user, password in accounts.items():
        subprocess.run(
            ["mosquitto_passwd", "-b", str(passwd), user, password],
            check=True,
            capture_output=True,
            timeout=30,
        )
    # mosquitto may drop privileges before reading it
    passwd.chmod(0o644)
    settings = {
        "password_file": str(passwd),
        "cafile": str(certs.ca),
        "certfile": str(certs.cert),
        "keyfile": str(certs.key),
    }
    if require_certificate:
        settings["require_certificate"] = "true"
    # Listener settings follow the one listener line, so this listener speaks TLS only.
    return Mosquitto(
        root / "broker",
        anonymous=False,
        extra=settings,
        extra_lines=[
            "log_type notice",
            "connection_messages true",
            f"log_dest file {(root / 'broker' / 'connections.log').resolve()}",
        ],
    )
