"""Self-signed certificates for the local TLS test servers (tests/httpservers.py)."""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import subprocess

TLS_UNAVAILABLE_REASON = "neither the 'cryptography' package nor the 'openssl' CLI is available to make a test certificate"


def self_signed_cert(directory, hostnames=("localhost",), ips=("127.0.0.1",)) -> tuple[str, str] | None:
    """Write a self-signed certificate and key for ``hostnames``/``ips`` into ``directory``.

    Returns (certfile, keyfile), or None when no tool can make one. The
    certificate is its own CA: pass certfile as the trusted CA bundle to make a
    client accept it.
    """
    directory = os.fspath(directory)
    certfile = os.path.join(directory, "cert.pem")
    keyfile = os.path.join(directory, "key.pem")
    try:
        _cert_with_cryptography(certfile, keyfile, hostnames, ips)
        return certfile, keyfile
    except ImportError:
        pass
    if shutil.which("openssl"):
        _cert_with_openssl(certfile, keyfile, hostnames, ips)
        return certfile, keyfile
    return None


def _cert_with_cryptography(certfile, keyfile, hostnames, ips):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (list(hostnames) or ["test"])[0])])
    now = datetime.datetime.now(datetime.timezone.utc)
    sans = [x509.DNSName(h) for h in hostnames] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    with open(keyfile, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    with open(certfile, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def _cert_with_openssl(certfile, keyfile, hostnames, ips):
    sans = ",".join([f"DNS:{h}" for h in hostnames] + [f"IP:{i}" for i in ips])
    cn = (list(hostnames) or ["test"])[0]
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", keyfile, "-out", certfile, "-days", "1", "-subj", f"/CN={cn}",
            "-addext", f"subjectAltName={sans}", "-addext", "basicConstraints=critical,CA:TRUE",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
