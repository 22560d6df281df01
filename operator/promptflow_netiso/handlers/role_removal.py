"""Role assignments removed when a PromptFlowWorkspace goes with deletionPolicy Delete (the storage roles and the
approver role the operator created; planning/workspace.py `plan_delete`), each DELETE recorded before it is sent.

Before each DELETE, `status.pendingWrite` names it, and status.roleAssignments loses the assignments already removed,
in the same confirmed status write. After a crash, the recorded DELETE is settled by one GET of that assignment
(planning/workspace_intent.py): gone means it landed (its Event is posted now, once, and it is not sent again); still
there means it never did.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Mapping

from ..azure.errors import AzureError
from ..model import RECONCILE_POLICY_ANNOTATION
from ..planning import workspace_intent
from ..planning.intent import PendingWrite
from ..settings import Settings
from . import intent
from .announce import announce, announce_settled
from .common import post_event, raise_for_azure_error

Record = Callable[[PendingWrite, dict], Awaitable[Any]]  # (write, extra status fields) -> confirmed, else raises


async def remove(body: Any, plan: Any, status: Mapping, azure: Any, record: Record, *, give_up: bool,
                 runtime_s: float, settings: Settings) -> None:
    """Run `plan` (a DeletePlan of RemoveRole actions). An Azure refusal retries (Warning DeleteFailed), or, once
    `give_up`, is reported with what is left in Azure (Warning DeletionAbandoned) and the object goes."""
    actions = list(plan.actions)
    records = [dict(r) for r in status.get("roleAssignments") or () if isinstance(r, Mapping)]
    pending = PendingWrite.from_status(status)
    recorded = workspace_intent.recorded_removal(pending, actions)
    if recorded is not None and pending is not None:
        try:
            still_there = await azure.roles.get(recorded.scope, recorded.name) is not None
        except AzureError as err:
            _failed(body, err, settings, give_up)
            still_there = True  # giving up: the summary below names it as left behind
        settled = workspace_intent.settle_removal(pending, still_there)
        if not still_there:
            actions.remove(recorded)
            records = workspace_intent.without_assignment(records, recorded.name)
        await announce_settled(body, pending, settled.events)

    remaining = list(actions)
    for action in actions:
        write = intent.pending("DELETE", workspace_intent.removal_target(action.scope, action.name), "",
                               action.event_reason, action.describe())
        await record(write, {"roleAssignments": records})
        try:
            await azure.roles.delete(action.scope, action.name)
        except AzureError as err:
            left = ", ".join(f"{a.name} on {a.scope}" for a in remaining)
            if give_up:
                post_event(body, "Warning", "DeletionAbandoned",
                           f"gave up after {int(runtime_s)}s ({err}); left in Azure: {left}")
                return
            _failed(body, err, settings, give_up)
        remaining.remove(action)
        records = workspace_intent.without_assignment(records, action.name)
        await announce(body, write, "Normal", action.event_reason, action.describe())
    post_event(body, "Normal", "Deleted", plan.summary)


def _failed(body: Any, err: AzureError, settings: Settings, give_up: bool) -> None:
    if give_up:
        return
    post_event(body, "Warning", "DeleteFailed",
               f"{err}. Will retry; to leave Azure as it is, annotate {RECONCILE_POLICY_ANNOTATION}=detach-on-delete")
    raise_for_azure_error(err, settings)
