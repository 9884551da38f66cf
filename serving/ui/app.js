// agentdesk chat UI: plain JavaScript talking to the same server's LangGraph API.
"use strict";
const API = "";  // same origin as the LangGraph server
const ASSISTANT = "orchestrator";
const $ = (id) => document.getElementById(id);
let threadId = null;
let busy = false;

async function api(path, options = {}) {
  const res = await fetch(API + path, {
    headers: { "Content-Type": "application/json" }, ...options,
  });
  if (!res.ok) {
    let detail = await res.text();
    try { detail = JSON.parse(detail).detail || detail; } catch (_) {}
    throw new Error(`${res.status}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
  }
  return res.status === 204 ? null : res.json();
}

function showError(text) {
  const el = $("error");
  el.hidden = !text;
  el.textContent = text ? `${text} — check that the server is running, then try again.` : "";
}

function setStep(text) { $("step").textContent = text || ""; }

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function textOf(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p) => (typeof p === "string" ? p : p.text || "")).join("");
  return "";
}

function renderTable(art) {
  const head = art.columns.map((c, i) => `<th data-i="${i}">${esc(c)}</th>`).join("");
  const rows = art.rows.map((r) => `<tr>${r.map((v) => `<td>${esc(v ?? "")}</td>`).join("")}</tr>`).join("");
  const note = art.truncated ? `<div class="who">first ${art.rows.length} rows shown</div>` : "";
  return `<table>${"<tr>" + head + "</tr>"}${rows}</table>${note}`;
}

function renderArtifacts(div, arts) {
  for (const art of arts) {
    if (art.type === "table" && Array.isArray(art.columns)) div.insertAdjacentHTML("beforeend", renderTable(art));
    if (art.type === "citations" && art.citations?.length) {
      const list = art.citations.map((c) =>
        `<div id="cite-${esc(c.chunk_id)}"><a class="cite" title="${esc(c.snippet)}">[${c.n}]</a> ${esc(c.title)} — <small>${esc(c.source)}</small></div>`).join("");
      div.insertAdjacentHTML("beforeend", `<details><summary>Sources</summary>${list}</details>`);
    }
    for (const f of art.files || []) {
      if ((f.mime || "").startsWith("image/")) div.insertAdjacentHTML("beforeend", `<img alt="${esc(f.name)}" src="data:${f.mime};base64,${f.b64}" style="max-width:100%">`);
    }
  }
}

function renderMessages(values) {
  const box = $("messages");
  box.innerHTML = "";
  const arts = values.artifacts || [];
  for (const m of values.messages || []) {
    const type = m.type;
    const text = textOf(m.content);
    if (type === "ai" && !text && m.tool_calls?.length) {
      const calls = m.tool_calls.map((c) => `${c.name}(${JSON.stringify(c.args)})`).join("\n");
      box.insertAdjacentHTML("beforeend", `<div class="msg tool"><div class="who">${esc(m.name || "agent")} calls</div>${esc(calls)}</div>`);
      continue;
    }
    if (type === "tool") {
      const div = document.createElement("div");
      div.className = "msg tool";
      div.innerHTML = `<div class="who">${esc(m.name || "tool")} result</div>${esc(text.slice(0, 1500))}`;
      renderArtifacts(div, arts.filter((a) => a.tool_call_id === m.tool_call_id));
      box.appendChild(div);
      continue;
    }
    if (!text) continue;
    const who = type === "human" ? "you" : (m.name || "assistant");
    box.insertAdjacentHTML("beforeend", `<div class="msg ${type === "human" ? "human" : "ai"}"><div class="who">${esc(who)}</div>${esc(text)}</div>`);
  }
  box.scrollTop = box.scrollHeight;
}

function renderApproval(value) {
  const box = $("messages");
  const card = document.createElement("div");
  card.className = "card";
  card.id = "approval";
  const reqs = value.action_requests || [];
  card.innerHTML = `<div class="risk">Approval needed</div>` + (value.error ? `<div class="err">${esc(value.error)}</div>` : "") +
    reqs.map((r, i) => `<div><b>${esc(r.name)}</b> <span class="risk">${esc(r.risk || "")}</span><div>${esc(r.description || "")}</div>
      <textarea id="args-${i}" rows="5" aria-label="arguments">${esc(JSON.stringify(r.args, null, 2))}</textarea></div>`).join("") +
    `<input id="reject-msg" placeholder="Reason (for reject)" style="width:100%">
     <div class="buttons"><button class="primary" id="approve">Approve</button><button id="edit">Approve with edits</button><button class="danger" id="reject">Reject</button></div>`;
  box.appendChild(card);
  box.scrollTop = box.scrollHeight;
  const decide = (type) => {
    try {
      const decisions = reqs.map((r, i) => {
        if (type === "approve") return { type: "approve" };
        if (type === "reject") return { type: "reject", message: $("reject-msg").value || "rejected in the UI" };
        return { type: "edit", edited_action: { name: r.name, args: JSON.parse($(`args-${i}`).value) } };
      });
      run({ command: { resume: { decisions } } });
    } catch (e) { showError(`The arguments are not valid JSON: ${e.message}`); }
  };
  card.querySelector("#approve").onclick = () => decide("approve");
  card.querySelector("#edit").onclick = () => decide("edit");
  card.querySelector("#reject").onclick = () => decide("reject");
}

async function refresh() {
  if (!threadId) return;
  const state = await api(`/threads/${threadId}/state`);
  renderMessages(state.values || {});
  const thread = await api(`/threads/${threadId}`);
  const pending = Object.values(thread.interrupts || {}).flat();
  if (pending.length) renderApproval(pending[0].value);
}

async function loadThreads() {
  const threads = await api("/threads/search", { method: "POST", body: JSON.stringify({ limit: 50, sort_by: "updated_at", sort_order: "desc" }) });
  const q = $("thread-search").value.toLowerCase();
  const list = $("threads");
  list.innerHTML = "";
  for (const t of threads) {
    const title = t.metadata?.title || t.thread_id.slice(0, 8);
    if (q && !title.toLowerCase().includes(q)) continue;
    const li = document.createElement("li");
    li.textContent = title;
    li.className = t.thread_id === threadId ? "active" : "";
    li.onclick = () => openThread(t.thread_id, title);
    list.appendChild(li);
  }
}

async function openThread(id, title) {
  threadId = id;
  $("thread-title").textContent = title || id.slice(0, 8);
  localStorage.setItem("agentdesk.thread", id);
  await refresh();
  await loadThreads();
}

async function newThread(title) {
  const t = await api("/threads", { method: "POST", body: JSON.stringify({ metadata: { title: title || "New thread" } }) });
  await openThread(t.thread_id, title);
}

async function run(body) {
  if (busy) return;
  busy = true; $("send").disabled = true; showError("");
  try {
    const res = await fetch(`${API}/threads/${threadId}/runs/stream`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ assistant_id: ASSISTANT, stream_mode: ["updates"], stream_subgraphs: true, ...body }),
    });
    if (!res.ok) throw new Error(`${res.status}: ${await res.text()}`);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      const events = buf.split("\n\n");
      buf = events.pop();
      for (const ev of events) {
        const name = (ev.match(/^event: (.*)$/m) || [])[1] || "";
        const data = (ev.match(/^data: (.*)$/m) || [])[1];
        if (name === "error") showError(`The run failed: ${data}`);
        if (name.startsWith("updates") && data) {
          const nodes = Object.keys(JSON.parse(data));
          const ns = name.includes("|") ? name.split("|")[1].split(":")[0] + " › " : "";
          setStep(`working: ${ns}${nodes.join(", ")}`);
        }
      }
    }
  } catch (e) { showError(e.message); }
  finally { busy = false; $("send").disabled = false; setStep(""); await refresh().catch((e) => showError(e.message)); }
}

$("composer").onsubmit = async (e) => {
  e.preventDefault();
  const text = $("input").value.trim();
  if (!text) return;
  if (!threadId) await newThread(text.slice(0, 40));
  $("input").value = "";
  await run({ input: { messages: [{ type: "human", content: text }] } });
};
$("input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("composer").requestSubmit(); }
});
$("new-thread").onclick = () => newThread().catch((e) => showError(e.message));
$("thread-search").oninput = () => loadThreads().catch((e) => showError(e.message));

(async () => {
  try {
    const info = await api("/api/info");
    if (info.offline) {
      const b = $("banner");
      b.hidden = false;
      b.textContent = "Offline model: answers are extractive and rule-based. Set AGENTDESK_LLM_BASE_URL to a vLLM endpoint for a served model.";
    }
    const saved = localStorage.getItem("agentdesk.thread");
    if (saved) await openThread(saved).catch(() => localStorage.removeItem("agentdesk.thread"));
    await loadThreads();
  } catch (e) { showError(e.message); }
})();
