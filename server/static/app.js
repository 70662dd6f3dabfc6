// indagent chat page: plain JS, no build step. Streams /v1/chat as SSE over fetch + ReadableStream.
"use strict";
const $ = (id) => document.getElementById(id);
const state = { thread: localStorage.getItem("indagent.thread") || null };
$("api-key").value = localStorage.getItem("indagent.key") || "";
$("api-key").addEventListener("change", () => { localStorage.setItem("indagent.key", $("api-key").value.trim()); refreshSide(); });
$("new-thread").addEventListener("click", () => { setThread(null); $("log").textContent = ""; });
setThread(state.thread);

function setThread(id) {
  state.thread = id;
  if (id) localStorage.setItem("indagent.thread", id); else localStorage.removeItem("indagent.thread");
  $("thread").textContent = id ? "thread " + id : "new thread";
}

function headers(json = true) {
  const h = {};
  if (json) h["Content-Type"] = "application/json";
  const key = $("api-key").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function scrollDown() { const log = $("log"); log.scrollTop = log.scrollHeight; }

async function errorText(resp) {
  try { const doc = await resp.json(); return (doc.error && doc.error.message) || JSON.stringify(doc); }
  catch (e) { return resp.status + " " + resp.statusText; }
}

// Parse an SSE byte stream into {event, data} objects.
async function* sse(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, cut); buf = buf.slice(cut + 2);
      let event = "message"; const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
    }
  }
}

function assistantBubble() {
  const box = el("div", "msg assistant");
  const tools = el("div", "tools");
  const text = el("div", "text");
  const meta = el("div", "meta");
  box.append(tools, text, meta);
  $("log").append(box);
  return { box, tools, text, meta };
}

function showFinal(b, doc) {
  b.text.textContent = doc.answer;
  const r = doc.route || {};
  b.meta.textContent = `${r.agent || "?"} via ${r.model || "?"} (${r.tier || "?"})${r.degraded ? " · degraded" : ""} · ${Math.round(doc.latency_ms || 0)} ms`;
  if (doc.thread_id) setThread(doc.thread_id);
  linkPlots(b, doc);
  if (doc.pending_approval) showApproval(b, doc.pending_approval);
  refreshSide();
}

function linkPlots(b, doc) {
  const text = `${doc.answer} ${JSON.stringify(doc.result || {})}`;
  const seen = new Set();
  for (const m of text.matchAll(/[\w./-]+\.(?:png|svg|html)/g)) {
    const name = m[0].split("/reports/").pop();
    if (seen.has(name)) continue; seen.add(name);
    const a = el("a", "plot", "📈 " + name); a.href = "#";
    a.addEventListener("click", (ev) => { ev.preventDefault(); openReport("/v1/reports/" + name); });
    b.meta.append(" ", a);
  }
}

async function openReport(url) {
  const resp = await fetch(url, { headers: headers(false) });
  if (!resp.ok) { alert(await errorText(resp)); return; }
  window.open(URL.createObjectURL(await resp.blob()), "_blank");
}

function showApproval(b, ap) {
  if (!ap || !ap.approval_id || document.querySelector(`[data-approval="${ap.approval_id}"]`)) return;
  const card = el("div", "approval");
  card.dataset.approval = ap.approval_id;
  card.append(el("div", "", `Approval needed: ${ap.tool} ${JSON.stringify(ap.args)}`));
  if (ap.description) card.append(el("div", "muted", ap.description));
  for (const decision of ["approve", "reject"]) {
    const btn = el("button", decision, decision === "approve" ? "Approve" : "Reject");
    btn.type = "button";
    btn.addEventListener("click", () => decide(card, ap.approval_id, decision));
    card.append(btn);
  }
  b.box.append(card);
  scrollDown();
}

async function decide(card, id, decision) {
  card.querySelectorAll("button").forEach((x) => { x.disabled = true; });
  const resp = await fetch("/v1/approvals/" + id, { method: "POST", headers: headers(), body: JSON.stringify({ decision }) });
  if (!resp.ok) { card.append(el("div", "error", await errorText(resp))); return; }
  const doc = await resp.json();
  card.append(el("div", "muted", `${doc.approval.status} by ${doc.approval.decided_by}`));
  const b = assistantBubble();
  for (const t of doc.result.tool_calls || []) b.tools.append(el("div", "tool" + (t.ok ? "" : " fail"), `${t.ok ? "✓" : "✗"} ${t.name} ${JSON.stringify(t.args)}${t.error ? " — " + t.error : ""}`));
  showFinal(b, doc.result);
}

async function send(text) {
  $("log").append(el("div", "msg user", text));
  const b = assistantBubble();
  b.text.textContent = "…";
  scrollDown();
  const body = { message: text, stream: true, model: $("model").value };
  if (state.thread) body.thread_id = state.thread;
  let resp;
  try { resp = await fetch("/v1/chat", { method: "POST", headers: headers(), body: JSON.stringify(body) }); }
  catch (e) { b.text.textContent = ""; b.text.append(el("span", "error", String(e))); return; }
  if (!resp.ok) { b.text.textContent = ""; b.text.append(el("span", "error", await errorText(resp))); return; }
  let streamed = "";
  for await (const { event, data } of sse(resp.body)) {
    if (event === "token") { streamed += data.text; b.text.textContent = streamed; }
    else if (event === "route") b.meta.textContent = `${data.agent} via ${data.model} (${data.tier})`;
    else if (event === "tool_call") b.tools.append(el("div", "tool", `🔧 ${data.name} ${JSON.stringify(data.args)}`));
    else if (event === "tool_result") b.tools.append(el("div", "tool" + (data.ok ? "" : " fail"), `${data.ok ? "✓" : "✗"} ${data.name}${data.error ? " — " + data.error : ""}`));
    else if (event === "approval_required") showApproval(b, data);
    else if (event === "final") showFinal(b, data);
    else if (event === "error") b.text.append(el("div", "error", `${data.type}: ${data.message}`));
    scrollDown();
  }
}

async function refreshSide() {
  const [aps, reps] = await Promise.all([
    fetch("/v1/approvals", { headers: headers(false) }).catch(() => null),
    fetch("/v1/reports?limit=20", { headers: headers(false) }).catch(() => null),
  ]);
  if (aps && aps.ok) {
    const ul = $("approvals"); ul.textContent = "";
    for (const ap of (await aps.json()).data) ul.append(el("li", "", `${ap.tool} ${JSON.stringify(ap.args)} · ${ap.thread_id}`));
  }
  if (reps && reps.ok) {
    const ul = $("reports"); ul.textContent = "";
    for (const r of (await reps.json()).data) {
      const li = el("li"); const a = el("a", "", r.name); a.href = "#";
      a.addEventListener("click", (ev) => { ev.preventDefault(); openReport(r.url); });
      li.append(a); ul.append(li);
    }
  }
}

$("ask").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("message").value.trim();
  if (!text) return;
  $("message").value = ""; $("send").disabled = true;
  try { await send(text); } finally { $("send").disabled = false; $("message").focus(); }
});
refreshSide();
