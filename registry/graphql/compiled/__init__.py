"""Compiled plans: covered read queries answered without field-by-field execution.

graphql-core completes every field of every object through a stack of calls, and most of
a large nested answer's time went there, not to the loaders or the database. A plan is
compiled once for a validated document and operation (and the values its ``@skip`` and
``@include`` read): the root fields to resolve, through their own resolvers, and for each
a serialiser that walks the lean objects the loaders built and writes the answer directly.
A request the compiler does not cover, or that fails on the way, is executed as before.
"""
