"""The sealer the settings describe: the firm's PKCS#12, else (development and test only) the
generated development certificate; a timestamp authority when one is configured."""
from __future__ import annotations

from infrastructure.settings import InsecureSettingsError, Mode, Settings
from infrastructure.signatures.certificates import configured, development
from infrastructure.signatures.pades import PyHankoSealer, http_timestamper


def sealer_from_settings(settings: Settings) -> PyHankoSealer:
    if settings.signatures_pkcs12_path is not None:
        passphrase = settings.signatures_pkcs12_passphrase
        material = configured(settings.signatures_pkcs12_path,
                              passphrase.get_secret_value() if passphrase else None, settings.signatures_trust_roots)
    elif settings.mode is Mode.production:
        # Fail closed: production never seals with a certificate nobody outside can trust.
        raise InsecureSettingsError("refusing to start in production without the firm's seal certificate: set "
                                    "LEDGERFLOW_SIGNATURES_PKCS12_PATH (and LEDGERFLOW_SIGNATURES_PKCS12_PASSPHRASE)")
    else:
        material = development(settings.data_dir)
    return PyHankoSealer(material, http_timestamper(settings.signatures_tsa_url))
