"""The LangGraph: a supervisor routes each turn to a specialist agent or the general assistant.

```
START -> supervisor -> {general | knowledge | diagnosis | scheduling | optimization | placement}
specialist -> (handoff to the next specialist | END)
```

Each specialist is a sub-graph ``think -> tools -> answer`` (see :func:`build_specialist`):
``think`` takes the offline planner's tool calls, or asks a tool-calling model when one is
routed; ``tools`` runs them (mutating ones through the approval interrupt); ``answer`` composes
the typed result. Routing decisions are small pure functions of state.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from agents.calls import call_model, estimate_tokens, task_class_of
from agents.context import AgentContext
from agents.models.base import usage_of
from agents.plan import Plan, PlannedCall
from agents.prompts import load_prompt
from agents.state import AgentState, ResultValue
from agents.toolexec import execute_tool_calls

__all__ = ["SPECIALISTS", "build_graph", "build_specialist", "route_after_agent", "route_from_supervisor"]

#: Specialist agents and the tool tags they may use.
SPECIALISTS: tuple[str, ...] = ("knowledge", "diagnosis", "scheduling", "optimization", "placement")
MAX_TOOL_ROUNDS = 4
HISTORY_MESSAGES = 12


def _last_human(state: AgentState) -> str:
    for m in reversed(state.get("messages", [])):
        if isinstance(m, HumanMessage):
            return str(m.content)
    return ""


_FACT_WORDS = re.compile(
    r"\b(what|which|how|when|where|why|who|is|are|was|were|did|does|do|has|have|list|show|give|value|many|much|"
    r"count|average|mean|max|min|latest|trend|status)\b|\?", re.IGNORECASE)


def _asks_for_facts(text: str) -> bool:
    """A question or a request for plant facts (not e.g. 'please repeat CHL-01')."""
    return bool(_FACT_WORDS.search(text))


def mentions_plant_data(text: str, ctx: AgentContext) -> bool:
    """Whether a message names plant entities (assets, sensors, lines, failure modes): such data stays on site."""
    if ctx.kg is None:
        return False
    from agents.intents.analysis import analyze

    a = analyze(text, ctx)
    return bool(a.assets or a.sensors or a.lines or a.failure_modes)


def _add_usage(state: AgentState, msg: BaseMessage) -> dict[str, int]:
    u = dict(state.get("turn_usage") or {"prompt_tokens": 0, "completion_tokens": 0})
    p, c = usage_of(msg)
    u["prompt_tokens"] = u.get("prompt_tokens", 0) + p
    u["completion_tokens"] = u.get("completion_tokens", 0) + c
    return u


# -- supervisor --------------------------------------------------------------------------------
def supervisor(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Plan the turn and reset the per-turn trace."""
    ctx = runtime.context
    text = _last_human(state)
    plan = ctx.planner.plan(text, ctx) if ctx.planner is not None else Plan()
    if plan.agent == "general" and _asks_for_facts(text) and mentions_plant_data(text, ctx):
        # plant data but no offline intent: a tool-calling model on site may work it out with the
        # tools; without one, the general node answers honestly instead of guessing
        plan = Plan(agent="knowledge", note="native") if _native_model_available(ctx) else Plan(
            agent="general", note="unsupported_plant_question")
    return {
        "agent": plan.agent,
        "plan": plan.model_dump(),
        "handoffs": list(plan.handoff),
        "turn_tool_calls": [],
        "turn_usage": {"prompt_tokens": 0, "completion_tokens": 0},
        "route": {"agent": plan.agent, "model": "planner", "tier": "edge", "reason": "offline planner", "degraded": False},
        "result": {},
        "context": {"mode": None, "rounds": 0},
    }


def route_from_supervisor(state: AgentState) -> str:
    """Next node after the supervisor: the planned agent (general when unknown)."""
    agent = state.get("agent") or "general"
    return agent if agent in SPECIALISTS else "general"


def route_after_agent(state: AgentState) -> str:
    """After a specialist: hand off to the next planned agent, or finish."""
    handoffs = state.get("handoffs") or []
    return handoffs[0] if handoffs and handoffs[0] in SPECIALISTS else END


# -- general assistant -------------------------------------------------------------------------
def general(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Free chat with the routed model; honest about what the planner can do."""
    ctx = runtime.context
    text = _last_human(state)
    plan = Plan.model_validate(state.get("plan") or {})
    if plan.note == "unsupported_plant_question":
        return _cannot_answer(ctx)
    history = [m for m in state.get("messages", []) if isinstance(m, HumanMessage | AIMessage) and m.content]
    prompt: list[BaseMessage] = [SystemMessage(load_prompt("general")), *history[-HISTORY_MESSAGES:]]
    sensitivity = "sovereign" if mentions_plant_data(text, ctx) else "internal"
    decision, msg = call_model(ctx, prompt, task=task_class_of(text, estimate_tokens(prompt)), sensitivity=sensitivity)
    answer = str(msg.content).strip() or "I have no answer to that."
    out = AIMessage(content=answer, usage_metadata=msg.usage_metadata, response_metadata=msg.response_metadata)
    return {
        "messages": [out],
        "route": {"agent": "general", **decision.model_dump(include={"model", "tier", "reason", "degraded"})},
        "result": ResultValue(type="text", value=answer).model_dump(),
        "turn_usage": _add_usage(state, msg),
    }


def _cannot_answer(ctx: AgentContext) -> dict[str, Any]:
    """The honest answer to a plant question no intent covers (never a made-up number)."""
    tips = "; ".join(f"'{s}'" for s in (ctx.planner.suggestions(limit=6) if ctx.planner else []))
    answer = ("I can't answer that yet with the tools I have offline, and I won't guess plant figures. "
              f"I can answer questions such as {tips}." if tips else "I can't answer that yet.")
    return {
        "messages": [AIMessage(content=answer)],
        "route": {"agent": "general", "model": "planner", "tier": "edge", "reason": "no intent matched; no guessing",
                  "degraded": False},
        "result": ResultValue(type="text", value=answer).model_dump(),
    }


# -- specialists ----------------------------------------------------------------------------------
def _tool_specs(ctx: AgentContext, agent: str) -> list[dict[str, Any]]:
    return [ctx.tools.tools[n].json_schema() for n in ctx.tools.names(tag=agent)] or [
        t.json_schema() for t in ctx.tools.tools.values()
    ]


def make_think(agent: str):
    """The ``think`` node of a specialist: planned calls, or a native tool-calling model."""

    def think(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
        ctx = runtime.context
        plan = Plan.model_validate(state.get("plan") or {})
        c = dict(state.get("context") or {})
        if c.get("mode") is None:
            native = _native_model_available(ctx) and not plan.calls
            c["mode"] = "native" if native else "planner"
        if c["mode"] == "planner":
            calls = plan.calls if plan.agent == agent else []
            msg = AIMessage(content="", tool_calls=[_call(pc) for pc in calls])
            return {"messages": [msg] if calls else [], "context": c}
        # native tool calling with the routed model (plant data stays on site unless allowed)
        convo = [m for m in state.get("messages", [])][-HISTORY_MESSAGES * 2 :]
        prompt = [SystemMessage(load_prompt("general")), *convo]
        decision, msg = call_model(
            ctx, prompt, task="large", sensitivity="sovereign", tools=_tool_specs(ctx, agent), output_tokens=512
        )
        c["rounds"] = int(c.get("rounds", 0)) + 1
        return {
            "messages": [msg],
            "context": c,
            "route": {"agent": agent, **decision.model_dump(include={"model", "tier", "reason", "degraded"})},
            "turn_usage": _add_usage(state, msg),
        }

    return think


def _native_model_available(ctx: AgentContext) -> bool:
    from agents.models.router import RouteRequest, route

    try:
        d = route(
            RouteRequest(task="large", sensitivity="sovereign", requested=ctx.requested_model, site_region=ctx.site_region),
            ctx.models,
            ctx.breaker,
        )
    except Exception:
        return False
    return ctx.models.spec(d.model).supports_tools


def _call(pc: PlannedCall) -> dict[str, Any]:
    return {"name": pc.name, "args": pc.args, "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}


def route_after_think(state: AgentState) -> str:
    """Run tools when the last message asks for them, else compose the answer."""
    msgs = state.get("messages", [])
    last = msgs[-1] if msgs else None
    return "tools" if isinstance(last, AIMessage) and last.tool_calls else "answer"


def make_tools(agent: str):
    """The ``tools`` node of a specialist."""

    def tools(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
        ctx = runtime.context
        last = state["messages"][-1]
        assert isinstance(last, AIMessage)
        out = execute_tool_calls(ctx, last, agent=agent)
        c = dict(state.get("context") or {})
        c["results"] = [*c.get("results", []), *out["results"]]
        return {
            "messages": out["messages"],
            "turn_tool_calls": [*(state.get("turn_tool_calls") or []), *out["traces"]],
            "context": c,
        }

    return tools


def route_after_tools(state: AgentState) -> str:
    """Native mode loops back to the model (bounded); planner mode composes."""
    c = state.get("context") or {}
    if c.get("mode") == "native" and int(c.get("rounds", 0)) < MAX_TOOL_ROUNDS:
        return "think"
    return "answer"


def make_answer(agent: str):
    """The ``answer`` node of a specialist: typed result + text."""

    def answer(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
        ctx = runtime.context
        c = dict(state.get("context") or {})
        plan = Plan.model_validate(state.get("plan") or {})
        handoffs = list(state.get("handoffs") or [])
        if handoffs and handoffs[0] == agent:
            handoffs = handoffs[1:]
        update: dict[str, Any] = {"handoffs": handoffs}
        if c.get("mode") == "native":
            last = state["messages"][-1]
            text = str(last.content).strip() if isinstance(last, AIMessage) else ""
            if not text or isinstance(last, ToolMessage):
                text = "I ran the tools but the model gave no final answer; see the tool results."
                update["messages"] = [AIMessage(content=text)]
            update["result"] = ResultValue(type="text", value=text).model_dump()
            return update
        if ctx.planner is None:
            return update
        composed = ctx.planner.compose(plan, c.get("results", []))
        text = composed.answer
        if ctx.phrase_answers and text:
            text = _phrase(ctx, state, text)
        update["messages"] = [AIMessage(content=text)]
        update["result"] = composed.result.model_dump(mode="json")
        update["route"] = {**(state.get("route") or {}), "agent": agent}
        return update

    return answer


def _phrase(ctx: AgentContext, state: AgentState, facts: str) -> str:
    """Let the routed model phrase planner facts; keep the facts if it drops a number."""
    prompt = [SystemMessage(load_prompt("composer")), HumanMessage(f"QUESTION: {_last_human(state)}\nFACTS: {facts}")]
    _, msg = call_model(ctx, prompt, task="small", sensitivity="sovereign", output_tokens=96)
    out = str(msg.content).strip()
    numbers = re.findall(r"\d+(?:\.\d+)?", facts)
    return out if out and all(n in out for n in numbers) else facts


def build_specialist(agent: str) -> CompiledStateGraph:
    """The sub-graph of one specialist agent (think -> tools -> answer)."""
    g: StateGraph = StateGraph(AgentState, context_schema=AgentContext)
    g.add_node("think", make_think(agent))
    g.add_node("tools", make_tools(agent))
    g.add_node("answer", make_answer(agent))
    g.add_edge(START, "think")
    g.add_conditional_edges("think", route_after_think, {"tools": "tools", "answer": "answer"})
    g.add_conditional_edges("tools", route_after_tools, {"think": "think", "answer": "answer"})
    g.add_edge("answer", END)
    return g.compile(name=agent)


def build_graph(*, checkpointer: BaseCheckpointSaver | None = None) -> CompiledStateGraph:
    """The indagent graph: supervisor, general assistant and specialist sub-graphs.

    Args:
        checkpointer: Where threads are saved (SQLite by default at the edges; None = no memory).
    """
    g: StateGraph = StateGraph(AgentState, context_schema=AgentContext)
    g.add_node("supervisor", supervisor)
    g.add_node("general", general)
    for name in SPECIALISTS:
        g.add_node(name, build_specialist(name))
    g.add_edge(START, "supervisor")
    g.add_conditional_edges("supervisor", route_from_supervisor, ["general", *SPECIALISTS])
    g.add_edge("general", END)
    for name in SPECIALISTS:
        g.add_conditional_edges(name, route_after_agent, [*SPECIALISTS, END])
    return g.compile(checkpointer=checkpointer, name="indagent")
