"""Executes an operation from its compiled plan when one covers it; else as before."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from graphql import ExecutionResult
from graphql.execution import ExperimentalIncrementalExecutionResults, get_argument_values
from graphql.pyutils import AwaitableOrValue, Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from registry.graphql.compiled.cache import plan_for
from registry.graphql.compiled.plan import Plan, RootField
from registry.graphql.compiled.verify import compare
from registry.graphql.context import Context
from registry.settings import CompiledPlans

logger = logging.getLogger(__name__)

Result = ExecutionResult | ExperimentalIncrementalExecutionResults


class PlannedExecution(StrawberryGraphQLCoreExecutionContext):
    """Answers a covered query from its plan; the schema's extensions run around it as
    around any execution (limits, cost, audit of refusals, masking of errors)."""

    def execute_operation(self, serially: bool | None = None) -> AwaitableOrValue[Result]:
        context = self.context_value
        mode = context.settings.compiled_plans if isinstance(context, Context) else None
        plan = plan_for(self) if mode in (CompiledPlans.ON, CompiledPlans.VERIFY) else None
        if plan is None or not isinstance(context, Context):
            return super().execute_operation(serially)
        # A plan's root fields only read, and so does execution of the same operation.
        context.reads_only = True
        return self._answer(plan, context, serially, verify=mode is CompiledPlans.VERIFY)

    async def _answer(
        self, plan: Plan, context: Context, serially: bool | None, *, verify: bool
    ) -> Result:
        trail = context.audit_trail
        mark = len(trail)
        planned = await self._planned(plan)
        if planned is not None and not verify:
            return ExecutionResult(planned, None)
        # What the resolvers audited is audited again by execution, once.
        planned_entries = trail[mark:]
        del trail[mark:]
        executed = super().execute_operation(serially)
        result = await executed if isinstance(executed, Awaitable) else executed
        if verify and isinstance(result, ExecutionResult):
            compare(planned, planned_entries, result, trail[mark:])
        return result

    async def _planned(self, plan: Plan) -> dict[str, Any] | None:
        """The plan's answer; None if a resolver or the plan failed, which execution then
        answers with its own errors (a bad argument, a refusal) or as it would."""
        data: dict[str, Any] = {}
        try:
            for field in plan.fields:
                data[field.key] = field.serialise(await self._resolve(plan, field))
        except Exception:
            logger.debug("a compiled plan fell back to execution", exc_info=True)
            return None
        return data

    async def _resolve(self, plan: Plan, field: RootField) -> Any:
        # As graphql-core's execute_field: the same resolver, arguments and info.
        first = field.details[0]
        info = self.build_resolve_info(
            field.definition,
            [details.node for details in field.details],
            plan.root_type,
            Path(None, field.key, plan.root_type.name),
        )
        arguments = get_argument_values(
            field.definition,
            first.node,
            self.variable_values,
            first.fragment_variable_values,
            self.hide_suggestions,
        )
        resolve = field.definition.resolve or self.field_resolver
        result = resolve(self.root_value, info, **arguments)
        return await result if self.is_awaitable(result) else result
