"""The privacy team's console: server-rendered pages over the same services as GraphQL."""
