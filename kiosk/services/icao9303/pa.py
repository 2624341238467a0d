"""Passive authentication (ICAO 9303 part 11 §5.1 and part 12).

1. Every data group read is hashed and compared with its value in EF.SOD.
2. The SOD's CMS signature is checked with the Document Signer certificate it carries
   (messageDigest over the LDSSecurityObject, then the signature over the signed attributes).
3. The Document Signer is checked against a CSCA of the trust store IT configures
   (`chip_csca`: a folder of certificates, one certificate file, or an ICAO master list).

Result levels: `chip_verified`; `chip_unverified` when there is no trust anchor or a
certificate is outside its validity (`unverified_reason` says which); `chip_invalid`
when a hash or a signature does not match.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from asn1crypto import algos, cms, core
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from kiosk.services.icao9303 import tlv

log = logging.getLogger(__name__)

VERIFIED, UNVERIFIED, INVALID = "chip_verified", "chip_unverified", "chip_invalid"
LDS_SECURITY_OBJECT = "2.23.136.1.1.1"
CSCA_MASTER_LIST = "2.23.136.1.1.2"
_HASHES = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class SodError(ValueError):
    pass


class DataGroupHash(core.Sequence):
    _fields: ClassVar[list] = [
        ("data_group_number", core.Integer),
        ("data_group_hash_value", core.OctetString),
    ]


class DataGroupHashes(core.SequenceOf):
    _child_spec = DataGroupHash


class LdsVersionInfo(core.Sequence):
    _fields: ClassVar[list] = [
        ("lds_version", core.PrintableString),
        ("unicode_version", core.PrintableString),
    ]


class LdsSecurityObject(core.Sequence):
    _fields: ClassVar[list] = [
        ("version", core.Integer),
        ("hash_algorithm", algos.DigestAlgorithm),
        ("data_group_hash_values", DataGroupHashes),
        ("lds_version_info", LdsVersionInfo, {"optional": True}),
    ]


class CertificateSet(core.SetOf):
    _child_spec = ax509.Certificate


class CscaMasterList(core.Sequence):
    _fields: ClassVar[list] = [("version", core.Integer), ("cert_list", CertificateSet)]


@dataclass
class Sod:
    hash_algorithm: str
    hashes: dict[int, bytes]
    signed_data: cms.SignedData
    econtent: bytes


def parse_sod(data: bytes) -> Sod:
    try:
        outer, _ = tlv.parse_one(data)
        if outer.tag != 0x77:
            raise SodError("EF.SOD does not start with tag 77")
        info = cms.ContentInfo.load(outer.value)
        if info["content_type"].native != "signed_data":
            raise SodError("EF.SOD is not CMS SignedData")
        signed = info["content"]
        encap = signed["encap_content_info"]
        if encap["content_type"].dotted != LDS_SECURITY_OBJECT:
            raise SodError("EF.SOD does not hold an LDSSecurityObject")
        econtent = encap["content"].contents
        if econtent is None:
            raise SodError("EF.SOD has no content")
        lso = LdsSecurityObject.load(bytes(econtent))
        algorithm = lso["hash_algorithm"]["algorithm"].native
        values = {
            int(item["data_group_number"].native): bytes(item["data_group_hash_value"].native)
            for item in lso["data_group_hash_values"]
        }
    except (ValueError, TypeError, KeyError) as exc:
        if isinstance(exc, SodError):
            raise
        raise SodError(f"EF.SOD cannot be parsed: {exc}") from exc
    if algorithm not in _HASHES:
        raise SodError(f"unsupported hash algorithm {algorithm}")
    return Sod(algorithm, values, signed, bytes(econtent))


def digest(algorithm: str, data: bytes) -> bytes:
    return hashlib.new(algorithm, data).digest()


# --------------------------------------------------------------------------- trust store
def load_trust_store(path: str | Path | None) -> list[x509.Certificate]:
    """CSCA certificates from a folder, a certificate file (PEM or DER) or a master list."""
    if not path:
        return []
    root = Path(path)
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
    certs: list[x509.Certificate] = []
    for f in files:
        try:
            certs.extend(_certificates_in(f.read_bytes()))
        except (OSError, ValueError) as exc:
            log.warning("trust store: %s skipped: %s", f.name, exc)
    return certs


def _certificates_in(raw: bytes) -> list[x509.Certificate]:
    if b"-----BEGIN CERTIFICATE-----" in raw:
        return x509.load_pem_x509_certificates(raw)
    try:
        return [x509.load_der_x509_certificate(raw)]
    except ValueError:
        pass
    info = cms.ContentInfo.load(raw)
    signed = info["content"]
    encap = signed["encap_content_info"]
    if encap["content_type"].dotted != CSCA_MASTER_LIST:
        raise ValueError("neither a certificate nor an ICAO master list")
    master = CscaMasterList.load(bytes(encap["content"].contents))
    out = []
    for cert in master["cert_list"]:
        try:
            out.append(x509.load_der_x509_certificate(cert.dump()))
        except ValueError:
            continue  # e.g. explicit EC parameters this build cannot read
    return out


# --------------------------------------------------------------------------- verification
@dataclass
class HashCheck:
    data_group: int
    algorithm: str
    computed: str
    expected: str | None
    matched: bool


@dataclass
class PaResult:
    level: str
    reason: str = ""  # unverified_reason or what made the chip invalid
    hashes: list[HashCheck] = field(default_factory=list)
    signer_subject: str = ""
    csca_subject: str = ""


def _signer_cert(signed: cms.SignedData, signer: cms.SignerInfo) -> x509.Certificate | None:
    sid = signer["sid"]
    for choice in signed["certificates"] or []:
        if choice.name != "certificate":
            continue
        cert = choice.chosen
        if sid.name == "issuer_and_serial_number":
            ias = sid.chosen
            if cert.issuer == ias["issuer"] and cert.serial_number == ias["serial_number"].native:
                return x509.load_der_x509_certificate(cert.dump())
        elif cert.key_identifier == sid.chosen.native:
            return x509.load_der_x509_certificate(cert.dump())
    return None


def _verify_signature(cert: x509.Certificate, signer: cms.SignerInfo, message: bytes) -> bool:
    sig_algo = signer["signature_algorithm"]
    signature = bytes(signer["signature"].native)
    kind = sig_algo.signature_algo
    try:
        hash_name = sig_algo.hash_algo
    except ValueError:
        hash_name = signer["digest_algorithm"]["algorithm"].native
    key = cert.public_key()
    try:
        if kind == "rsassa_pss":
            params = sig_algo["parameters"]
            h = _HASHES[params["hash_algorithm"]["algorithm"].native]()
            pss = padding.PSS(padding.MGF1(h), params["salt_length"].native)
            assert isinstance(key, rsa.RSAPublicKey)
            key.verify(signature, message, pss, h)
        elif kind == "rsassa_pkcs1v15":
            assert isinstance(key, rsa.RSAPublicKey)
            key.verify(signature, message, padding.PKCS1v15(), _HASHES[hash_name]())
        elif kind == "ecdsa":
            assert isinstance(key, ec.EllipticCurvePublicKey)
            try:
                key.verify(signature, message, ec.ECDSA(_HASHES[hash_name]()))
            except (InvalidSignature, ValueError):
                # Plain (r||s) signatures, as BSI TR-03111 allows, instead of DER.
                half = len(signature) // 2
                der = encode_dss_signature(
                    int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
                )
                key.verify(der, message, ec.ECDSA(_HASHES[hash_name]()))
        else:
            return False
    except (InvalidSignature, AssertionError, KeyError, ValueError):
        return False
    return True


def _valid_now(cert: x509.Certificate, now: datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def verify(
    sod: Sod,
    data_groups: dict[int, bytes],
    trust: list[x509.Certificate],
    now: datetime | None = None,
) -> PaResult:
    now = now or datetime.now(UTC)
    checks = []
    for number in sorted(data_groups):
        computed = digest(sod.hash_algorithm, data_groups[number])
        expected = sod.hashes.get(number)
        ok = expected is not None and hmac.compare_digest(computed, expected)
        checks.append(
            HashCheck(
                number, sod.hash_algorithm, computed.hex(), expected.hex() if expected else None, ok
            )
        )
    bad = [c.data_group for c in checks if not c.matched]
    if bad:
        return PaResult(INVALID, f"hash of DG{bad[0]} does not match the SOD", checks)

    signers = sod.signed_data["signer_infos"]
    if len(signers) != 1:
        return PaResult(INVALID, "the SOD does not have exactly one signer", checks)
    signer = signers[0]
    attrs = signer["signed_attrs"]
    if not attrs:
        return PaResult(INVALID, "the SOD's signature has no signed attributes", checks)
    message_digest = None
    for attr in attrs:
        if attr["type"].native == "message_digest":
            message_digest = bytes(attr["values"][0].native)
    digest_name = signer["digest_algorithm"]["algorithm"].native
    if digest_name not in _HASHES or message_digest is None:
        return PaResult(INVALID, "the SOD's signed attributes lack a usable digest", checks)
    if not hmac.compare_digest(digest(digest_name, sod.econtent), message_digest):
        return PaResult(INVALID, "the SOD's content does not match its signed digest", checks)
    signed_bytes = b"\x31" + attrs.dump()[1:]
    ds = _signer_cert(sod.signed_data, signer)
    if ds is None:
        return PaResult(UNVERIFIED, "no_document_signer", checks)
    if not _verify_signature(ds, signer, signed_bytes):
        return PaResult(INVALID, "the SOD's signature does not match", checks)
    result = PaResult(UNVERIFIED, "", checks, signer_subject=ds.subject.rfc4514_string())
    if not trust:
        result.reason = "no_trust_anchor"
        return result
    anchor = None
    for csca in trust:
        if csca.subject != ds.issuer:
            continue
        try:
            ds.verify_directly_issued_by(csca)
        except (InvalidSignature, ValueError, TypeError):
            continue
        anchor = csca
        break
    if anchor is None:
        result.reason = "unknown_csca"
        return result
    result.csca_subject = anchor.subject.rfc4514_string()
    if not _valid_now(ds, now):
        result.reason = "expired_signer"
        return result
    if not _valid_now(anchor, now):
        result.reason = "expired_csca"
        return result
    result.level = VERIFIED
    return result


# --------------------------------------------------------------------------- building (tests)
def build_sod(
    data_groups: dict[int, bytes],
    ds_cert: x509.Certificate,
    ds_key,
    hash_algorithm: str = "sha256",
) -> bytes:
    """An EF.SOD over `data_groups`, signed by `ds_key` (EC or RSA), carrying `ds_cert`."""
    from cryptography.hazmat.primitives.serialization import Encoding

    lso = LdsSecurityObject(
        {
            "version": 0,
            "hash_algorithm": {"algorithm": hash_algorithm},
            "data_group_hash_values": [
                {"data_group_number": n, "data_group_hash_value": digest(hash_algorithm, d)}
                for n, d in sorted(data_groups.items())
            ],
        }
    )
    econtent = lso.dump()
    signed_attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": [LDS_SECURITY_OBJECT]},
            {"type": "message_digest", "values": [digest(hash_algorithm, econtent)]},
        ]
    )
    to_sign = signed_attrs.dump()
    h = _HASHES[hash_algorithm]()
    if isinstance(ds_key, ec.EllipticCurvePrivateKey):
        signature = ds_key.sign(to_sign, ec.ECDSA(h))
        sig_algo = f"{hash_algorithm}_ecdsa"
    else:
        signature = ds_key.sign(to_sign, padding.PKCS1v15(), h)
        sig_algo = f"{hash_algorithm}_rsa"
    cert = ax509.Certificate.load(ds_cert.public_bytes(Encoding.DER))
    signer = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": {
                        "issuer": cert.issuer,
                        "serial_number": cert.serial_number,
                    }
                }
            ),
            "digest_algorithm": {"algorithm": hash_algorithm},
            "signed_attrs": signed_attrs,
            "signature_algorithm": {"algorithm": sig_algo},
            "signature": signature,
        }
    )
    signed = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [{"algorithm": hash_algorithm}],
            "encap_content_info": {
                "content_type": LDS_SECURITY_OBJECT,
                "content": core.ParsableOctetString(econtent),
            },
            "certificates": [cert],
            "signer_infos": [signer],
        }
    )
    info = cms.ContentInfo({"content_type": "signed_data", "content": signed})
    return tlv.encode(0x77, info.dump())


def build_master_list(cscas: list[x509.Certificate], signer_cert, signer_key) -> bytes:
    """An ICAO CSCA master list (CMS SignedData over CscaMasterList), for tests."""
    from cryptography.hazmat.primitives.serialization import Encoding

    content = CscaMasterList(
        {
            "version": 0,
            "cert_list": [ax509.Certificate.load(c.public_bytes(Encoding.DER)) for c in cscas],
        }
    ).dump()
    signed_attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": [CSCA_MASTER_LIST]},
            {"type": "message_digest", "values": [digest("sha256", content)]},
        ]
    )
    signature = signer_key.sign(signed_attrs.dump(), ec.ECDSA(hashes.SHA256()))
    cert = ax509.Certificate.load(signer_cert.public_bytes(Encoding.DER))
    signed = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {
                "content_type": CSCA_MASTER_LIST,
                "content": core.ParsableOctetString(content),
            },
            "certificates": [cert],
            "signer_infos": [
                {
                    "version": "v1",
                    "sid": {
                        "issuer_and_serial_number": {
                            "issuer": cert.issuer,
                            "serial_number": cert.serial_number,
                        }
                    },
                    "digest_algorithm": {"algorithm": "sha256"},
                    "signed_attrs": signed_attrs,
                    "signature_algorithm": {"algorithm": "sha256_ecdsa"},
                    "signature": signature,
                }
            ],
        }
    )
    return cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()
