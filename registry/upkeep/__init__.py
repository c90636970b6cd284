"""Upkeep that spans the recordings and the rights' packages, so it sits above both domains:
the sweep and its dry run (expired recordings, identifiers and packages), rotating the key
ring (the data keys of recordings and packages) and the subject index (subjects and rights
requests)."""
