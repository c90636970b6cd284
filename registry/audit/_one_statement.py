"""The one-statement append of PostgreSQL, sent on the driver's own connection.

The append is one INSERT and little else, and through SQLAlchemy that statement costs the
process several times the CPU of sending it: a connection checked out and in, a
transaction's bookkeeping, the compiled cache, the result's wrapping. So the statement is
compiled by SQLAlchemy once per shape, its values converted by the column types' own bind
processors (stored exactly as SQLAlchemy stores them), and it is sent on asyncpg's
connection, where no transaction is open: autocommitted, one round trip.

The connection still comes from the engine's pool, which opens, recycles and invalidates
it: it is held for a few seconds of appends, then given back, so that the pool's recycling
still bounds its age. A connection found closed (the server restarted) or left in doubt by a
statement cut off midway is invalidated and never used again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.compiler import SQLCompiler

# How long one connection is held before it goes back to the pool: long enough that taking
# it is rare among appends, short against the pool's recycling (registry.db).
HELD_SECONDS = 5.0
# SQLSTATE class 23, integrity constraint violation: what SQLAlchemy raises as IntegrityError.
_CONSTRAINT_VIOLATED = "23"


@dataclass(frozen=True)
class _Position:
    """One placeholder of a compiled statement: the parameter it takes, or its fixed value."""

    name: str
    process: Callable[[Any], Any] | None
    fixed: Any


class _Compiled:
    def __init__(self, statement: Insert, engine: AsyncEngine) -> None:
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        binds = compiled.binds
        self.positions = [
            _Position(
                name,
                binds[name].type.dialect_impl(dialect).bind_processor(dialect),
                binds[name].value,
            )
            for name in compiled.positiontup or ()
        ]

    def arguments(self, parameters: Mapping[str, Any]) -> list[Any]:
        arguments = []
        for position in self.positions:
            value = parameters.get(position.name, position.fixed)
            arguments.append(value if position.process is None else position.process(value))
        return arguments


class OneStatement:
    """Runs INSERTs of a PostgreSQL engine on a connection of its pool, held a while."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._compiled: dict[Insert, _Compiled] = {}
        self._held: AsyncConnection | None = None
        self._driver: Any = None
        self._held_until = 0.0
        # Connections let go of, kept referenced until they are back in the pool.
        self._letting_go: set[asyncio.Task[None]] = set()

    async def execute(self, statement: Insert, parameters: Mapping[str, Any]) -> int | None:
        """The rows the statement wrote; ``None`` if it broke a constraint, or if the
        connection was lost, in which case it may or may not have been written."""
        compiled = self._compiled.get(statement)
        if compiled is None:
            compiled = self._compiled[statement] = _Compiled(statement, self._engine)
        arguments = compiled.arguments(parameters)
        driver = await self._connection()
        try:
            status: str = await driver.execute(compiled.sql, *arguments)
        except asyncio.CancelledError:
            # Cut off midway: the statement may still run, the connection is in doubt.
            self._let_go(invalidate=True)
            raise
        except Exception as error:
            if getattr(error, "sqlstate", "").startswith(_CONSTRAINT_VIOLATED):
                return None
            if not driver.is_closed():
                raise
            self._let_go(invalidate=True)
            return None
        # The command tag of an INSERT: "INSERT 0 <rows>".
        return int(status.rsplit(" ", 1)[1])

    async def close(self) -> None:
        """Gives the connection back to the pool, once every one let go of is back."""
        self._let_go(invalidate=False)
        await asyncio.gather(*self._letting_go, return_exceptions=True)

    async def _connection(self) -> Any:
        if self._held is not None and time.monotonic() < self._held_until:
            return self._driver
        self._let_go(invalidate=False)
        held = await self._engine.connect()
        try:
            driver = (await held.get_raw_connection()).driver_connection
        except BaseException:
            await held.close()
            raise
        self._held, self._driver = held, driver
        self._held_until = time.monotonic() + HELD_SECONDS
        return driver

    def _let_go(self, *, invalidate: bool) -> None:
        """The held connection goes back to the pool (``invalidate``: to be replaced), in a
        task of its own: a cancelled append must not wait for that, and the next one takes
        another connection meanwhile."""
        held, self._held, self._driver = self._held, None, None
        if held is None:
            return
        task = asyncio.ensure_future(_given_back(held, invalidate=invalidate))
        self._letting_go.add(task)
        task.add_done_callback(self._letting_go.discard)


async def _given_back(connection: AsyncConnection, *, invalidate: bool) -> None:
    try:
        if invalidate:
            await connection.invalidate()
    finally:
        await connection.close()
