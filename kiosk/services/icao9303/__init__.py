"""Reading the ICAO 9303 chip of a Vietnamese CCCD / Căn cước card (no Qt here).

- `tlv`: BER-TLV as the LDS uses it.
- `sm`: BAC key derivation, 3DES, retail MAC and secure messaging (ICAO 9303 part 11).
- `lds`: EF.COM, DG1 (TD1 MRZ), DG2 (portrait), DG13 (Vietnamese fields), DG14/DG15.
- `pa`: passive authentication (SOD signature, chain to a CSCA, data-group hashes).
- `expiry`: the card's expiry from the date of birth and the issue date (Law 26/2023).
- `reader`: the whole read over a `kiosk.hardware.cardreader` connection.
"""
