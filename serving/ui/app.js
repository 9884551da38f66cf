// agentdesk chat UI: plain JavaScript (no build step, no libraries) talking to the same
// server's LangGraph API. The thread's checkpointed state is the source of truth: streaming
// only shows progress, and every run ends by re-reading GET /threads/{id}/state and the
// thread's pending interrupts, so a reload or a server restart shows exactly the same page.
"use strict";
const ASSISTANT = "orchestrator";
const KEY_STORE = "agentdesk.key";
const THREAD_STORE = "agentdesk.thread";
const $ = (id) => document.getElementById(id);
const ui = { threadId: null, busy: false, auth: "local", threads: [], passages: new Map(), switching: Promise.resolve() };

// ------------------------------------------------------------------ HTTP

class ApiError extends Error {
  constructor(status, detail) { super(`${status}: ${detail}`); this.status = status; this.detail = detail; }
}

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = localStorage.getItem(KEY_STORE);
  if (key && ui.auth !== "local") h["x-api-key"] = key;
  return h;
}

async function failure(res) {
  let detail = await res.text();
  try { const j = JSON.parse(detail); detail = j.detail || j.message || j.error || detail; } catch (_) { /* plain text */ }
  if (typeof detail !== "string") detail = JSON.stringify(detail);
  if (res.status === 401) askForKey(true);
  return new ApiError(res.status, detail);
}

async function api(path, options = {}) {
  const res = await fetch(path, { ...options, headers: headers() });
  if (!res.ok) throw await failure(res);
  return res.status === 204 ? null : res.json();
}

// What went wrong, and what to do about it, in plain words.
function explain(e) {
  if (!(e instanceof ApiError)) return `${e.message || e} — is the server running? Reload the page to retry.`;
  if (e.status === 401) return `Not signed in: ${e.detail}. Paste your API key above.`;
  if (e.status === 403) return `Not allowed: ${e.detail}. Use a key of the user who owns this thread.`;
  if (e.status === 404) return `Not found: ${e.detail}. The thread may have been deleted or belong to another user; start a new thread.`;
  if (e.status === 409) return `Busy: ${e.detail}. A run is still going on this thread; wait for it to finish.`;
  if (e.status === 429) return `Slow down: ${e.detail}.`;
  if (e.status >= 500) return `The server failed (${e.status}): ${e.detail}. Check the server log, then try again.`;
  return `Request refused (${e.status}): ${e.detail}`;
}

function showError(e) {
  const el = $("error");
  el.hidden = !e;
  el.textContent = e ? (typeof e === "string" ? e : explain(e)) : "";
}

function setStep(text) { $("step").textContent = text || ""; }

function askForKey(show) {
  $("key-button").hidden = ui.auth === "local";
  $("key-form").hidden = !show;
  if (show) $("key-input").focus();
}

// ------------------------------------------------------------------ small helpers

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function el(tag, cls, html) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (html !== undefined) e.innerHTML = html;
  return e;
}

function textOf(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p) => (typeof p === "string" ? p : p.text || "")).join("");
  return "";
}

// Text with ``` fences as code blocks and [n] as links to the cited passage.
function richText(text, citations) {
  // Only fences that open and close on their own lines; inline ``` in quoted text stays text.
  const parts = String(text).split(/(?:^|\n)```[\w-]*[ \t]*\n([\s\S]*?)\n```[ \t]*(?=\n|$)/g);
  return parts.map((part, i) => {
    if (i % 2) return `<pre><code>${esc(part.replace(/\n$/, ""))}</code></pre>`;
    let html = esc(part);
    if (citations && citations.size) {
      html = html.replace(/\[(\d{1,3})\]/g, (m, n) => {
        const c = citations.get(Number(n));
        return c ? `<a class="cite" data-key="${esc(c.key)}" title="${esc(citedAs(c))}" href="#">[${n}]</a>` : m;
      });
    }
    return `<span class="text">${html}</span>`;
  }).join("");
}

// A passage's document, then its section (as rag/answer.py's cited_as names it).
function citedAs(c) { return c.title && c.section ? `${c.title} › ${c.section}` : (c.title || c.section || ""); }

function openPassage(key) {
  const c = ui.passages.get(key);
  if (!c) return;
  $("passage-title").textContent = `[${c.n}] ${citedAs(c) || c.source || "passage"}`;
  $("passage-source").textContent = `${c.source || ""}${c.position != null ? ` · chunk ${c.position}` : ""}${c.flagged ? " · flagged as possible injection" : ""}`;
  $("passage-text").textContent = c.text || c.snippet || "";
  $("passage").showModal();
}

// ------------------------------------------------------------------ artifacts

function csvOf(columns, rows) {
  const cell = (v) => { const s = v == null ? "" : String(v); return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s; };
  return [columns, ...rows].map((r) => r.map(cell).join(",")).join("\r\n");
}

function download(name, text, mime) {
  const a = el("a");
  a.href = URL.createObjectURL(new Blob([text], { type: mime }));
  a.download = name;
  document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function renderTable(art) {
  const box = el("div", "artifact table-artifact");
  const rows = art.rows.slice();
  const tools = el("div", "tools", `<span>${rows.length} row(s)${art.truncated ? " — truncated, first rows only" : ""}</span>`);
  const csv = el("button", "csv", "Download CSV");
  csv.type = "button";
  csv.onclick = () => download("result.csv", csvOf(art.columns, art.rows), "text/csv");
  tools.appendChild(csv);
  box.appendChild(tools);
  const wrap = el("div", "tablewrap");
  const table = el("table", "data");
  const head = el("tr");
  const body = el("tbody");
  const fill = () => { body.innerHTML = rows.map((r) => `<tr>${r.map((v) => `<td>${esc(v)}</td>`).join("")}</tr>`).join(""); };
  art.columns.forEach((c, i) => {
    const th = el("th", "", esc(c));
    th.tabIndex = 0;
    th.setAttribute("aria-sort", "none");
    const sort = () => {
      const dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
      head.querySelectorAll("th").forEach((h) => h.setAttribute("aria-sort", "none"));
      th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
      const num = rows.every((r) => r[i] == null || r[i] === "" || !isNaN(Number(r[i])));
      rows.sort((a, b) => {
        if (a[i] == null) return 1; if (b[i] == null) return -1;
        return dir * (num ? Number(a[i]) - Number(b[i]) : String(a[i]).localeCompare(String(b[i])));
      });
      fill();
    };
    th.onclick = sort;
    th.onkeydown = (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); } };
    head.appendChild(th);
  });
  const thead = el("thead"); thead.appendChild(head);
  table.append(thead, body); fill();
  wrap.appendChild(table);
  box.appendChild(wrap);
  if (art.chart) { const svg = renderChart(art.chart); if (svg) box.appendChild(svg); }
  if (art.sql) box.insertAdjacentHTML("beforeend", `<details><summary>SQL</summary><pre>${esc(art.sql)}</pre></details>`);
  return box;
}

// A minimal SVG renderer for the two Vega-Lite shapes the data agent emits (bar, line).
function renderChart(spec) {
  const field = (f) => String(f || "").replace(/\\(.)/g, "$1");  // undo Vega-Lite escaping
  const enc = spec.encoding || {};
  const values = spec.data?.values || [];
  const mark = typeof spec.mark === "string" ? spec.mark : spec.mark?.type;
  if (!enc.x || !enc.y || !values.length || !["bar", "line"].includes(mark)) return null;
  const xf = field(enc.x.field);
  let series;  // [{name, points: [{x, y}]}]
  const fold = (spec.transform || []).find((t) => t.fold);
  if (fold) series = fold.fold.map((f) => ({ name: f, points: values.map((v) => ({ x: v[xf], y: Number(v[f]) })) }));
  else series = [{ name: field(enc.y.field), points: values.map((v) => ({ x: v[xf], y: Number(v[field(enc.y.field)]) })) }];
  if (mark === "bar" && enc.x.sort === "-y") series[0].points.sort((a, b) => b.y - a.y);
  if (mark === "line") series.forEach((s) => s.points.sort((a, b) => new Date(a.x) - new Date(b.x)));
  const W = 640, H = 280, L = 60, R = 12, T = 12, B = 60;
  const all = series.flatMap((s) => s.points.map((p) => p.y)).filter((y) => isFinite(y));
  const ymax = Math.max(0, ...all), ymin = Math.min(0, ...all);
  const ys = (y) => T + (H - T - B) * (1 - (y - ymin) / ((ymax - ymin) || 1));
  const fmt = (n) => (Math.abs(n) >= 1e6 ? (n / 1e6).toFixed(1) + "M" : Math.abs(n) >= 1e3 ? (n / 1e3).toFixed(1) + "k" : String(Math.round(n * 100) / 100));
  const colors = ["#2d5be3", "#e3842d", "#2da35b", "#c0392b", "#8e44ad"];
  let g = `<line x1="${L}" y1="${ys(0)}" x2="${W - R}" y2="${ys(0)}" stroke="#99a"/>`;
  for (let k = 0; k <= 4; k++) {
    const v = ymin + (ymax - ymin) * k / 4;
    g += `<text x="${L - 6}" y="${ys(v) + 4}" text-anchor="end">${esc(fmt(v))}</text><line x1="${L}" x2="${W - R}" y1="${ys(v)}" y2="${ys(v)}" stroke="#eef0f4"/>`;
  }
  const n = series[0].points.length, band = (W - L - R) / Math.max(n, 1);
  const label = (x) => (mark === "line" ? String(x).slice(0, 10) : String(x));
  const every = Math.ceil(n / 12);
  series[0].points.forEach((p, i) => {
    if (i % every) return;
    g += `<text x="${L + band * (i + 0.5)}" y="${H - B + 14}" text-anchor="end" transform="rotate(-35 ${L + band * (i + 0.5)} ${H - B + 14})">${esc(label(p.x).slice(0, 16))}</text>`;
  });
  if (mark === "bar") {
    series[0].points.forEach((p, i) => {
      const y0 = ys(Math.max(0, p.y)), y1 = ys(Math.min(0, p.y));
      g += `<rect class="bar" x="${L + band * i + band * 0.1}" y="${y0}" width="${band * 0.8}" height="${Math.max(1, y1 - y0)}" fill="${colors[0]}"><title>${esc(p.x)}: ${esc(p.y)}</title></rect>`;
    });
  } else {
    series.forEach((s, k) => {
      const pts = s.points.map((p, i) => `${L + band * (i + 0.5)},${ys(p.y)}`).join(" ");
      g += `<polyline class="line" fill="none" stroke="${colors[k % 5]}" stroke-width="2" points="${pts}"><title>${esc(s.name)}</title></polyline>`;
      if (series.length > 1) g += `<text x="${W - R}" y="${T + 12 * (k + 1)}" text-anchor="end" fill="${colors[k % 5]}">${esc(s.name)}</text>`;
    });
  }
  const title = `${field(enc.y.title || enc.y.field || "value")} by ${field(enc.x.title || xf)}`;
  const wrap = el("figure", "artifact chart-artifact");
  wrap.innerHTML = `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">${g}</svg><figcaption class="who">${esc(title)}</figcaption>`;
  wrap.style.margin = "0";
  return wrap;
}

function renderCode(art) {
  const box = el("div", "artifact code-artifact");
  box.innerHTML = `<details><summary>Code</summary><pre>${esc(art.code)}</pre></details>` +
    (art.stdout ? `<div class="who">output</div><pre>${esc(art.stdout)}</pre>` : "") +
    (art.stderr ? `<div class="who">errors</div><pre class="err">${esc(art.stderr)}</pre>` : "") +
    `<div class="who">exit code ${esc(art.exit_code)}${art.timed_out ? " — timed out" : ""}${art.killed_reason ? ` — ${esc(art.killed_reason)}` : ""}${art.duration_ms != null ? ` — ${esc(art.duration_ms)} ms` : ""}</div>`;
  for (const f of art.files || []) {
    // Only a well-formed type and base64 go into the data: URL (an attribute built as HTML).
    const mime = /^[\w.+-]+\/[\w.+-]+$/.test(f.mime || "") ? f.mime : "application/octet-stream";
    const src = `data:${mime};base64,${/^[A-Za-z0-9+/=]*$/.test(f.b64 || "") ? f.b64 || "" : ""}`;
    if (mime.startsWith("image/")) box.insertAdjacentHTML("beforeend", `<img alt="${esc(f.name)}" src="${src}" style="max-width:100%">`);
    else box.insertAdjacentHTML("beforeend", `<div><a download="${esc(f.name)}" href="${src}">${esc(f.name)}</a></div>`);
  }
  return box;
}

function renderArtifact(art) {
  if (art.type === "table" && Array.isArray(art.columns)) return renderTable(art);
  if (art.type === "code_result") return renderCode(art);
  if ((art.type === "metrics" || art.type === "logs") && Array.isArray(art.rows) && art.rows.length) {
    const cols = Object.keys(art.rows[0]);
    return renderTable({ columns: cols, rows: art.rows.map((r) => cols.map((c) => (typeof r[c] === "object" ? JSON.stringify(r[c]) : r[c]))) });
  }
  return null;
}

// ------------------------------------------------------------------ messages

function citationMap(art) {
  const map = new Map();
  for (const c of art.citations || []) {
    const key = `${art.tool_call_id}:${c.n}`;
    ui.passages.set(key, c);
    map.set(Number(c.n), { ...c, key });
  }
  return map;
}

function messageEl(m, citations) {
  const text = textOf(m.content);
  const isHuman = m.type === "human";
  const div = el("div", `msg ${isHuman ? "human" : "ai"}`);
  div.dataset.id = m.id || "";
  div.innerHTML = `<div class="who">${esc(isHuman ? "you" : (m.name || "assistant"))}</div>${richText(text, isHuman ? null : citations)}`;
  if (!isHuman && citations && citations.size && /\[\d+\]/.test(text) && !/^Sources:/m.test(text)) {
    const list = [...citations.values()].map((c) =>
      `<div><a class="cite" data-key="${esc(c.key)}" href="#">[${esc(c.n)}]</a> ${esc(citedAs(c))} — <small>${esc(c.source)}</small></div>`).join("");
    div.insertAdjacentHTML("beforeend", `<div class="sources">${list}</div>`);
  }
  return div;
}

function renderMessages(values) {
  const box = $("messages");
  box.innerHTML = "";
  ui.passages.clear();
  const arts = values.artifacts || [];
  let citations = null;  // this turn's passages (numbers run on across its searches): an answer's [n] point into them
  for (const m of values.messages || []) {
    if (m.type === "human") citations = null;
    if (m.type === "ai" && m.tool_calls?.length) {
      const d = el("div", "msg tool");
      d.innerHTML = m.tool_calls.map((c) => `<details><summary>${esc(m.name || "agent")} calls <b>${esc(c.name)}</b></summary><pre>${esc(JSON.stringify(c.args, null, 2))}</pre></details>`).join("");
      box.appendChild(d);
    }
    if (m.type === "tool") {
      const d = el("div", "msg tool");
      d.innerHTML = `<details><summary>${esc(m.name || "tool")} result${m.status === "error" ? " (error)" : ""}</summary><pre>${esc(textOf(m.content).slice(0, 4000))}</pre></details>`;
      for (const art of arts.filter((a) => a.tool_call_id && a.tool_call_id === m.tool_call_id)) {
        if (art.type === "citations") citations = new Map([...(citations || []), ...citationMap(art)]);
        const node = renderArtifact(art);
        if (node) d.appendChild(node);
      }
      box.appendChild(d);
      continue;
    }
    if (textOf(m.content).trim()) box.appendChild(messageEl(m, citations));
  }
  box.scrollTop = box.scrollHeight;
}

// ------------------------------------------------------------------ approvals

function renderApproval(interrupt) {
  const value = interrupt.value || {};
  const reqs = value.action_requests || [];
  const configs = value.review_configs || [];
  const allowed = new Set(configs.flatMap((c) => c.allowed_decisions || []));
  if (!allowed.size) ["approve", "edit", "reject"].forEach((d) => allowed.add(d));
  const card = el("div", "card approval");
  card.setAttribute("role", "group");
  card.setAttribute("aria-label", "Approval needed");
  card.innerHTML = `<b>Approval needed</b>${value.error ? `<div class="err">The last answer was not accepted: ${esc(value.error)}</div>` : ""}` +
    reqs.map((r, i) => `<div class="action"><div><b>${esc(r.name)}</b> <span class="badge ${esc(r.risk)}">${esc(r.risk || "risk")}</span></div>
      <div>${esc(r.description || "")}</div>
      <label class="who" for="args-${i}">arguments (JSON, editable)</label>
      <textarea id="args-${i}" class="args" rows="${Math.min(12, JSON.stringify(r.args, null, 2).split("\n").length + 1)}">${esc(JSON.stringify(r.args, null, 2))}</textarea></div>`).join("") +
    `<input class="message" placeholder="Message for the agent (why you reject, or a note)" aria-label="Message">
     <div class="buttons">
       ${allowed.has("approve") ? '<button type="button" class="primary approve">Approve</button>' : ""}
       ${allowed.has("edit") ? '<button type="button" class="edit">Approve with edits</button>' : ""}
       ${allowed.has("reject") ? '<button type="button" class="danger reject">Reject</button>' : ""}
     </div>`;
  const decide = (type) => {
    let decisions;
    try {
      decisions = reqs.map((r, i) => {
        if (type === "approve") return { type: "approve" };
        const message = card.querySelector(".message").value.trim();
        if (type === "reject") return { type: "reject", message: message || "rejected in the chat UI" };
        const args = JSON.parse(card.querySelector(`#args-${i}`).value);
        return { type: "edit", edited_action: { name: r.name, args } };
      });
    } catch (e) { showError(`The edited arguments are not valid JSON (${e.message}). Fix them and press the button again.`); return; }
    // Always by id: a plain resume from a stale card would answer whichever action waits now
    // (the server refuses an id that is no longer pending with 409, and refresh() redraws).
    const resume = interrupt.id ? { [interrupt.id]: { decisions } } : { decisions };
    if (ui.busy) {  // run() would drop the click silently while another thread's run streams
      showError("Another run is still going. Decide here once it has finished: this card stays as it is.");
      return;
    }
    card.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    // "reject": a second tab's decision on a thread that is still running gets an error, not a queue.
    run({ command: { resume }, multitask_strategy: "reject" });
  };
  card.querySelector(".approve")?.addEventListener("click", () => decide("approve"));
  card.querySelector(".edit")?.addEventListener("click", () => decide("edit"));
  card.querySelector(".reject")?.addEventListener("click", () => decide("reject"));
  $("messages").appendChild(card);
  $("messages").scrollTop = $("messages").scrollHeight;
}

// ------------------------------------------------------------------ threads

async function refresh() {
  if (!ui.threadId) { $("messages").innerHTML = ""; return; }
  const state = await api(`/threads/${ui.threadId}/state`);
  renderMessages(state.values || {});
  // From the checkpointed state, not the thread record: after a crash the server rebuilds that
  // record without its interrupts, and the approval card would vanish.
  const pending = (state.tasks || []).flatMap((t) => t.interrupts || []);
  pending.forEach((i) => renderApproval(i));
  if (pending.length) setStep("waiting for your decision");
}

function titleOf(t) { return t.metadata?.title || `Thread ${t.thread_id.slice(0, 8)}`; }

async function loadThreads() {
  ui.threads = await api("/threads/search", { method: "POST", body: JSON.stringify({ limit: 100, sort_by: "updated_at", sort_order: "desc" }) });
  drawThreads();
}

function drawThreads() {
  if (ui.renaming) return;  // a redraw (a thread opening, a run ending) would throw the edit box away
  const q = $("thread-search").value.trim().toLowerCase();
  const list = $("threads");
  list.innerHTML = "";
  for (const t of ui.threads) {
    const title = titleOf(t);
    if (q && !title.toLowerCase().includes(q) && !t.thread_id.startsWith(q)) continue;
    const li = el("li", t.thread_id === ui.threadId ? "active" : "");
    li.dataset.id = t.thread_id;
    const open = el("button", "open", esc(title));
    open.type = "button"; open.title = `${title} (${t.status})`;
    open.onclick = () => { openThread(t.thread_id).catch(showError); $("sidebar").classList.remove("open"); };
    const rename = el("button", "rename", "✎");
    rename.type = "button"; rename.title = "Rename"; rename.setAttribute("aria-label", `Rename ${title}`);
    rename.onclick = () => startRename(li, t);
    li.append(open, rename);
    list.appendChild(li);
  }
}

function startRename(li, t) {
  const input = el("input");
  input.value = titleOf(t);
  input.setAttribute("aria-label", "New title");
  li.innerHTML = "";
  li.appendChild(input);
  input.focus(); input.select();
  ui.renaming = true;
  let done = false;
  const finish = async (save) => {
    if (done) return; done = true;
    ui.renaming = false;
    const title = input.value.trim();
    try {
      if (save && title) {
        await api(`/threads/${t.thread_id}`, { method: "PATCH", body: JSON.stringify({ metadata: { title } }) });
        if (t.thread_id === ui.threadId) $("thread-title").textContent = title;
      }
      await loadThreads();
    } catch (e) { showError(e); drawThreads(); }
  };
  input.onkeydown = (e) => { if (e.key === "Enter") finish(true); if (e.key === "Escape") finish(false); };
  input.onblur = () => finish(true);
}

// Opening a thread is async; a message typed meanwhile must go to the thread being opened.
function openThread(id) {
  ui.switching = openThreadNow(id);
  return ui.switching;
}

async function openThreadNow(id) {
  const thread = await api(`/threads/${id}`);
  ui.threadId = id;
  localStorage.setItem(THREAD_STORE, id);
  $("thread-title").textContent = titleOf(thread);
  showError(""); setStep("");
  drawThreads();
  await refresh();
}

const UNTITLED = "New thread";
const titleFrom = (text) => text.replace(/```[\w-]*/g, " ").replace(/\s+/g, " ").trim().slice(0, 48) || UNTITLED;

function newThread(title) {
  ui.switching = (async () => {
    const t = await api("/threads", { method: "POST", body: JSON.stringify({ metadata: { title: title || UNTITLED } }) });
    ui.threads.unshift(t);
    await openThreadNow(t.thread_id);
    $("input").focus();
  })();
  return ui.switching;
}

// A thread made with "+ New thread" is named after its first message.
async function autoTitle(text) {
  const t = ui.threads.find((x) => x.thread_id === ui.threadId);
  if (!t || titleOf(t) !== UNTITLED) return;
  const title = titleFrom(text);
  t.metadata = { ...(t.metadata || {}), title };
  $("thread-title").textContent = title;
  drawThreads();
  await api(`/threads/${ui.threadId}`, { method: "PATCH", body: JSON.stringify({ metadata: { title } }) });
}

// ------------------------------------------------------------------ runs and streaming

// One SSE event: "event: <name>" + "data: <json>" lines; subgraph events are "<mode>|<ns>:<task>".
function onEvent(name, data, live) {
  const [mode, ns] = name.split("|");
  const agent = ns ? ns.split(":")[0] : "";
  if (mode === "error") { showError(`The run failed: ${data?.message || data?.error || JSON.stringify(data)}. Your thread is saved; try again or rephrase.`); return; }
  if (mode === "messages" && Array.isArray(data)) {
    const [m, meta] = data;
    if (!m || !["agent", "tools"].includes(meta?.langgraph_node)) return;  // skip router/guard internals
    if (m.type === "tool") { setStep(`${agent || "agent"} · ${m.name} done`); return; }
    const text = textOf(m.content);
    if (!text) return;
    let div = live.get(m.id);
    if (!div) {
      div = el("div", "msg ai live", `<div class="who">${esc(m.name || agent || "assistant")}</div><span class="text"></span>`);
      live.set(m.id, div);
      $("messages").appendChild(div);
    }
    const span = div.querySelector(".text");
    span.textContent = /chunk/i.test(m.type || "") ? span.textContent + text : text;  // tokens append
    $("messages").scrollTop = $("messages").scrollHeight;
    return;
  }
  if (mode === "updates" && data && typeof data === "object") {
    for (const [node, upd] of Object.entries(data)) {
      if (node === "__interrupt__") { setStep("waiting for your decision"); continue; }
      const calls = (upd?.messages || []).flatMap((m) => m.tool_calls || []).map((c) => c.name);
      const who = agent || node;
      if (node === "agent" && calls.length) setStep(`${who} agent · calling ${[...new Set(calls)].join(", ")}`);
      else if (node === "tools") setStep(`${who} agent · tool finished`);
      else if (node === "approval") setStep(`${who} agent · checking approvals`);
      else if (node === "router" && upd?.route) setStep(`router → ${upd.route}${upd.route_reason ? ` (${upd.route_reason})` : ""}`);
      else setStep(`${who}${agent ? ` · ${node}` : ""} working`);
    }
    return;
  }
  if (mode === "custom") setStep(typeof data === "string" ? data : data?.step || data?.status || JSON.stringify(data).slice(0, 120));
}

async function run(body) {
  if (ui.busy) return;
  ui.busy = true; $("send").disabled = true; showError(""); setStep("starting…");
  const live = new Map();
  try {
    const res = await fetch(`/threads/${ui.threadId}/runs/stream`, {
      method: "POST", headers: headers(),
      body: JSON.stringify({ assistant_id: ASSISTANT, stream_mode: ["messages-tuple", "updates", "custom"], stream_subgraphs: true, ...body }),
    });
    if (!res.ok) throw await failure(res);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
      const events = buf.split("\n\n");
      buf = events.pop();
      for (const ev of events) {
        let name = "", data = "";
        for (const line of ev.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data += line.slice(5).trim();
        }
        if (!name || !data) continue;
        let parsed;
        try { parsed = JSON.parse(data); } catch (_) { parsed = data; }
        onEvent(name, parsed, live);
      }
    }
    setStep("");
  } catch (e) { showError(e); setStep(""); }
  finally {
    ui.busy = false; $("send").disabled = false;
    await refresh().catch(showError);
    loadThreads().catch(() => {});
  }
}

async function send() {
  const text = $("input").value.trim();
  if (!text || ui.busy) return;
  try {
    await ui.switching.catch(() => {});
    if (!ui.threadId) await newThread(titleFrom(text));
    else autoTitle(text).catch(() => {});
    $("input").value = "";
    document.querySelectorAll(".card.approval").forEach((c) => c.remove());
    $("messages").appendChild(messageEl({ type: "human", content: text }, null));  // shown at once
    await run({ input: { messages: [{ type: "human", content: text }] } });
  } catch (e) { showError(e); }
}

// ------------------------------------------------------------------ wiring

$("composer").onsubmit = (e) => { e.preventDefault(); send(); };
$("input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
});
$("new-thread").onclick = () => newThread().catch(showError);
$("thread-search").oninput = drawThreads;
$("toggle-threads").onclick = () => {
  const open = $("sidebar").classList.toggle("open");
  $("toggle-threads").setAttribute("aria-expanded", String(open));
};
$("key-button").onclick = () => askForKey($("key-form").hidden);
$("key-form").onsubmit = async (e) => {
  e.preventDefault();
  const key = $("key-input").value.trim();
  if (key) localStorage.setItem(KEY_STORE, key); else localStorage.removeItem(KEY_STORE);
  $("key-input").value = "";
  askForKey(false); showError("");
  await start();
};
$("messages").addEventListener("click", (e) => {
  const a = e.target.closest("a.cite");
  if (a) { e.preventDefault(); openPassage(a.dataset.key); }
});
document.addEventListener("keydown", (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k") { e.preventDefault(); $("sidebar").classList.add("open"); $("thread-search").focus(); }
  if (e.altKey && e.key.toLowerCase() === "n") { e.preventDefault(); newThread().catch(showError); }
});

async function start() {
  try {
    const info = await api("/api/info");
    ui.auth = info.auth || "local";
    if (info.offline) {
      $("banner").hidden = false;
      $("banner").textContent = `Offline model (${info.model}): answers are extractive and rule-based. Set AGENTDESK_LLM_BASE_URL to a vLLM endpoint for a served model.`;
    }
    askForKey(ui.auth !== "local" && !localStorage.getItem(KEY_STORE));
    if (ui.auth !== "local" && !localStorage.getItem(KEY_STORE)) return;
    await loadThreads();
    const saved = localStorage.getItem(THREAD_STORE);
    if (saved) await openThread(saved).catch(() => localStorage.removeItem(THREAD_STORE));
  } catch (e) { showError(e); }
  $("input").focus();
}
start();
