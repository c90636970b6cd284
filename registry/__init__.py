"""The registry of processing: who processes what, and the recordings themselves."""
