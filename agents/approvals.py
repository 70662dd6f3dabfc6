"""Human approval of mutating tool calls with LangGraph ``interrupt`` / ``Command(resume=...)``.

A mutating call pauses the graph (also inside a sub-agent) with an :class:`ApprovalRequest`
payload; the caller resumes with ``{"decision": "approve" | "reject" | "edit", "args"?, "by"?,
"comment"?}``. The policy may approve without a person: ``auto-approve`` (everything) or
``auto-approve-within-bounds`` (only calls the tool's own bounds check accepts).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from langgraph.types import interrupt
from pydantic import BaseModel, ValidationError

from agents.context import ApprovalPolicy
from tools.registry import Tool

__all__ = ["PLAN_TOOL", "ApprovalDecision", "ApprovalRequest", "decide", "plan_actions", "policy_allows"]

#: The ``tool`` of the one approval a paused closed-loop cycle asks for: its whole plan of actions.
PLAN_TOOL = "closed_loop_plan"


def plan_actions(tool: str | None, args: Mapping[str, Any] | None) -> list[dict[str, Any]] | None:
    """The proposed actions (``tool``, ``args``, ``agent``, ``why``...) of a closed-loop plan; None for other approvals."""
    if tool != PLAN_TOOL:
        return None
    actions = (args or {}).get("actions")
    return [a for a in actions if isinstance(a, dict)] if isinstance(actions, list) else []


class ApprovalRequest(BaseModel):
    """What a person is asked to approve."""

    kind: Literal["approval"] = "approval"
    call_id: str
    tool: str
    args: dict[str, Any]
    agent: str
    description: str
    policy: str


class ApprovalDecision(BaseModel):
    """A person's answer."""

    decision: Literal["approve", "reject", "edit"]
    args: dict[str, Any] | None = None
    by: str = "unknown"
    comment: str | None = None


def policy_allows(tool: Tool, args: dict[str, Any], policy: ApprovalPolicy) -> bool:
    """Whether the policy applies this mutating call without asking anyone."""
    if policy == "auto-approve":
        return True
    if policy == "auto-approve-within-bounds" and tool.within_bounds is not None:
        try:
            return bool(tool.within_bounds(args))
        except (ValueError, TypeError, KeyError):
            return False
    return False


def decide(tool: Tool, args: dict[str, Any], *, call_id: str, agent: str, policy: ApprovalPolicy) -> ApprovalDecision:
    """Return the decision for a mutating call: by policy, or by pausing the graph for a person."""
    if policy_allows(tool, args, policy):
        return ApprovalDecision(decision="approve", by=f"policy:{policy}")
    req = ApprovalRequest(
        call_id=call_id,
        tool=tool.name,
        args=args,
        agent=agent,
        description=tool.description.splitlines()[0],
        policy=policy,
    )
    raw = interrupt(req.model_dump())
    if isinstance(raw, str):
        raw = {"decision": raw}
    try:
        return ApprovalDecision.model_validate(raw)
    except ValidationError:
        return ApprovalDecision(decision="reject", comment=f"unreadable approval answer {raw!r}")


