"""The console's edit forms: a form is its fields; what is posted is read, compared, saved.

Values are read as a GraphQL client would send them: an empty input is ``None``, a date is
parsed (a bad one is refused at its field before the service is asked), a choice must be one
of those offered. Only what differs from the record is sent, so that the history shows the
change and nothing else. The service runs in a savepoint: a refusal undoes its writes and is
shown at the field it names, or at the top of the form when the form has no such field; the
attempt is audited under the name of the GraphQL mutation that calls the same service.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from registry.audit.models import Outcome
from registry.console.pages import PREFIX
from registry.console.visits import Visit
from registry.errors import DomainError, Forbidden, InvalidInput, RuleBroken, error_extensions

T = TypeVar("T")
# Where a refusal naming no field of the form is shown.
FORM = "form"
REASON = "reason"


class Kind(StrEnum):
    TEXT = "text"
    TEXTAREA = "textarea"
    # A textarea read as a list, one item a line.
    LINES = "lines"
    CHECKBOX = "checkbox"
    SELECT = "select"
    MULTI = "multi"
    DATE = "date"
    # A whole number (a count of days).
    NUMBER = "number"


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: Kind = Kind.TEXT
    # (value, label) pairs a select offers; a select with "" among them may be left empty.
    choices: Sequence[tuple[str, str]] = ()
    # Turns a chosen value into the service's (an SCC module is a number).
    convert: Callable[[str], Any] | None = None
    hint: str | None = None
    # The service's name for the field, where it is not the form's (GraphQL's) name.
    key: str | None = None


@dataclass(frozen=True)
class Problem:
    """A refusal as the form shows it: the rule it breaks, or its code, and why."""

    code: str
    message: str
    rule: str | None = None


@dataclass(frozen=True)
class Form:
    fields: Sequence[Field]
    # The GraphQL mutation that calls the same service: the attempt is audited under its name.
    mutation: str
    # The reason for the change, kept in the history; a new record has none to give.
    asks_reason: bool = True

    @property
    def names(self) -> frozenset[str]:
        return frozenset(field.name for field in self.fields)

    def read(self, posted: FormData) -> tuple[dict[str, Any], dict[str, Problem]]:
        """The posted values by field, and the fields whose value could not be read."""
        values: dict[str, Any] = {}
        problems: dict[str, Problem] = {}
        for field in self.fields:
            try:
                values[field.name] = _read(field, posted)
            except InvalidInput as error:
                values[field.name] = _text(posted.get(field.name))
                problems[field.name] = problem_of(error)
        if self.asks_reason:
            values[REASON] = _text(posted.get(REASON))
        return values, problems

    def for_service(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` under the names the service takes."""
        keys = {field.name: field.key or field.name for field in self.fields}
        return {keys[name]: value for name, value in values.items() if name in keys}

    def where(self, error: DomainError) -> str:
        """The field a refusal is shown at: the service names it as the form or as itself."""
        named = {field.key: field.name for field in self.fields if field.key}.get(
            error.field or "", error.field
        )
        if named is not None and (named in self.names or (named == REASON and self.asks_reason)):
            return named
        return FORM


def changed(given: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """Only the fields that differ from the record, as a GraphQL client would send them."""
    return {
        name: value
        for name, value in given.items()
        if name in current and _comparable(current[name]) != _comparable(value)
    }


def problem_of(error: DomainError) -> Problem:
    if isinstance(error, RuleBroken):
        # The form shows the rule ID apart, so the message does not repeat it.
        message = error.message.removeprefix(f"{error.rule_id}: ")
        return Problem(code=error.code, message=message, rule=error.rule_id)
    return Problem(code=error.code, message=error.message)


async def save(
    visit: Visit, form: Form, work: Callable[[], Awaitable[object]]
) -> dict[str, Problem]:
    """Runs the service call in a savepoint; a refusal undoes it and is mapped to its field.
    A refusal of the role is not the form's to show: the page answers it with a 403.

    Either way the attempt is audited as GraphQL audits its mutation: under its name, with
    what the address names as its target, a broken rule as denied and other refusals as
    failed."""
    path = visit.request.path_params
    target = ", ".join(f"{name}={value}" for name, value in path.items()) or None
    try:
        async with visit.db.begin_nested():
            await work()
    except Forbidden:
        raise
    except DomainError as error:
        outcome = Outcome.DENIED if isinstance(error, RuleBroken) else Outcome.FAILED
        visit.audit(form.mutation, target=target, outcome=outcome, **error_extensions(error))
        return {form.where(error): problem_of(error)}
    visit.audit(form.mutation, target=target)
    return {}


@dataclass(frozen=True)
class Shown:
    """What the edit page shows around the form."""

    title: str
    action: str
    cancel: str
    submit: str = "Save"


def render(
    visit: Visit,
    form: Form,
    shown: Shown,
    values: Mapping[str, Any],
    problems: Mapping[str, Problem] | None = None,
    **context: Any,
) -> Response:
    """The form page: 200 when first shown, 422 when what was posted was refused.
    ``context`` is what the page shows beside the form (the history of what it edits)."""
    return visit.render(
        "edit.html",
        form=form,
        shown=shown,
        values=values,
        errors=problems or {},
        status=422 if problems else 200,
        **context,
    )


async def submitted(
    visit: Visit,
    form: Form,
    shown: Shown,
    work: Callable[[dict[str, Any]], Awaitable[T]],
    done: Callable[[T], str],
    context: Mapping[str, Any] | None = None,
) -> Response:
    """A POST of ``form``: ``work`` with what was read, then 303 to the page ``done`` names
    for its result (where the change shows in the history); or the form again, refused."""
    given, problems = form.read(posted(visit))
    results: list[T] = []

    async def step() -> None:
        results.append(await work(given))

    if not problems:
        problems = await save(visit, form, step)
    if problems:
        return render(visit, form, shown, given, problems, **(context or {}))
    return RedirectResponse(f"{PREFIX}{done(results[0])}", status_code=303)


def posted(visit: Visit) -> FormData:
    assert visit.form is not None  # a POST's, read by ``page``
    return visit.form


def _read(field: Field, form: FormData) -> Any:
    if field.kind is Kind.CHECKBOX:
        return form.get(field.name) == "on"
    if field.kind is Kind.MULTI:
        chosen = [value for value in form.getlist(field.name) if isinstance(value, str)]
        offered = {value for value, _ in field.choices}
        for value in chosen:
            _refuse_unoffered(field, value, offered)
        return tuple(chosen)
    if field.kind is Kind.LINES:
        lines = (_text(form.get(field.name)) or "").splitlines()
        return [line.strip() for line in lines if line.strip()]
    text = _text(form.get(field.name))
    if text is None:
        if field.kind is Kind.SELECT and "" not in {value for value, _ in field.choices}:
            raise InvalidInput("choose one", field=field.name)
        return None
    if field.kind is Kind.DATE:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise InvalidInput(f"{text!r} is not a day (YYYY-MM-DD)", field=field.name) from None
    if field.kind is Kind.NUMBER:
        try:
            return int(text)
        except ValueError:
            raise InvalidInput(f"{text!r} is not a whole number", field=field.name) from None
    if field.kind is Kind.SELECT:
        _refuse_unoffered(field, text, {value for value, _ in field.choices})
    return field.convert(text) if field.convert is not None else text


def _refuse_unoffered(field: Field, value: str, offered: set[str]) -> None:
    if value not in offered:
        raise InvalidInput(f"{value!r} is not one of the choices", field=field.name)


def _text(value: object) -> str | None:
    # An empty input is a field left empty: the service's ``None``.
    return value.strip() or None if isinstance(value, str) else None


def _comparable(value: Any) -> Any:
    # A list read from the form and a tuple kept by the record hold the same items.
    return list(value) if isinstance(value, list | tuple) else value
