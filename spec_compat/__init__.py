"""spec_compat: does a change of openapi.yaml break existing clients? (`make check-compat`, issue #12)

The diff itself is api-smart-diff's (npm, installed on first use into a cache folder); this package
normalises its verdicts into breaking / non-breaking / annotation-only, fills the gaps it was measured to
miss with a few small rules (`rules.py`), and lets a breaking change through only when it is acknowledged
(`acknowledge.py`).
"""
