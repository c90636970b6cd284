"""The record's past: as it stood at the end of a day, and what changed between two days."""
