"""Exports of the record for people outside the registry: privacy teams, authorities."""
