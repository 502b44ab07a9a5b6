"""The shipped Amazon RDS CA bundle: parseable, roots only, unexpired, and the default root file."""

from datetime import UTC, datetime

from cryptography import x509

from pipelines.incidents.config import BUNDLED_RDS_CA


def certificates() -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(BUNDLED_RDS_CA.read_bytes())


def test_the_bundle_holds_only_self_signed_amazon_rds_root_cas():
    certs = certificates()
    assert len(certs) > 50
    for cert in certs:
        assert cert.issuer == cert.subject
        assert cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "Amazon RDS"
        assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_no_certificate_in_the_bundle_has_expired():
    now = datetime.now(UTC)
    assert all(cert.not_valid_after_utc > now for cert in certificates())


def test_each_key_type_is_there_for_the_regions_we_deploy_to():
    names = {cert.subject.rfc4514_string() for cert in certificates()}
    for region in ("eu-west-2", "us-east-1", "us-west-2"):
        for kind in ("RSA2048 G1", "RSA4096 G1", "ECC384 G1"):
            assert any(f"Amazon RDS {region} Root CA {kind}" in name for name in names), (region, kind)


def test_it_is_the_default_root_file_for_verify_full(monkeypatch):
    from pipelines.incidents.config import _sslrootcert

    monkeypatch.delenv("DB_SSLROOTCERT", raising=False)
    assert _sslrootcert("verify-full") == str(BUNDLED_RDS_CA)
    assert _sslrootcert("require") is None  # libpq would otherwise verify the CA under "require"
