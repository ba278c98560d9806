// The administrator's dashboard: signs in through the API, then fills each
// panel from /api/admin/overview, /api/engine/runs and /api/admin/lookup.
// Every value from the server is written with textContent. A panel that
// holds data gets data-filled="true" (the browser test waits for it).
"use strict";

const TOKEN_KEY = "recofinement-admin-token";
const $ = (id) => document.getElementById(id);
let refreshTimer = null;
let lastRunId = 0;

async function api(path, options) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (options && options.body) headers["Content-Type"] = "application/json";
  const response = await fetch(path, Object.assign({ headers }, options || {}));
  const body = await response.json().catch(() => ({}));
  if (response.status === 401 || response.status === 422) {
    signOut("Your session ended: sign in again.");
    throw new Error(body.message || body.msg || "signed out");
  }
  if (!response.ok) throw new Error(body.message || `HTTP ${response.status}`);
  return body;
}

function cell(row, value, className) {
  const td = document.createElement("td");
  td.textContent = value === null || value === undefined ? "—" : String(value);
  if (className) td.className = className;
  row.appendChild(td);
}

function fillTable(id, rows, toCells, rowClass) {
  const body = $(id).querySelector("tbody");
  body.replaceChildren();
  for (const item of rows) {
    const tr = document.createElement("tr");
    if (rowClass) tr.className = rowClass(item);
    for (const [value, className] of toCells(item)) cell(tr, value, className);
    body.appendChild(tr);
  }
}

const filled = (id, yes) => $(id).setAttribute("data-filled", yes ? "true" : "false");
const fmt = (n, digits) => (n === null || n === undefined ? "—" : Number(n).toFixed(digits));
const when = (t) => (t ? t.replace("T", " ").slice(0, 19) : "—");

function showCounts(counts, hours) {
  const tiles = $("counts");
  tiles.replaceChildren();
  const tile = (label, value) => {
    const div = document.createElement("div");
    div.className = "tile";
    const b = document.createElement("b");
    b.textContent = Number(value).toLocaleString("en");
    const span = document.createElement("span");
    span.textContent = label;
    div.append(b, span);
    tiles.appendChild(div);
  };
  for (const item of counts.items) tile(item.kind.toLowerCase(), item.count);
  tile("users", counts.users);
  tile("groups", counts.groups);
  tile("interactions", counts.interactions);
  tile("events", counts.events);
  // Every hour of the window, empty ones at zero.
  const byHour = new Map(hours.map((h) => [h.hour, h.count]));
  const points = [];
  const now = new Date();
  now.setUTCMinutes(0, 0, 0);
  for (let i = 7 * 24 - 1; i >= 0; i--) {
    const t = new Date(now.getTime() - i * 3600e3);
    const key = t.toISOString().slice(0, 13).replace("T", " ") + ":00:00";
    points.push({ label: key.slice(5, 13), value: byHour.get(key) || 0 });
  }
  Charts.bars($("events-chart"), points, "events per hour");
  filled("catalogue", counts.items.length > 0 || counts.users > 0);
}

function showEngines(overview) {
  $("scheduler").textContent = overview.scheduler ? `(this server: ${overview.scheduler})` : "(no scheduler in this server)";
  fillTable("engine-table", overview.engines, (e) => [
    [e.engine], [e.backlog], [when(e.last_success)], [when(e.next_run)], [e.due_at_events],
  ]);
  const select = $("force-engine");
  if (select.options.length === 1) {
    for (const e of overview.engines) {
      const option = document.createElement("option");
      option.value = e.engine;
      option.textContent = e.engine;
      select.appendChild(option);
    }
  }
}

async function loadRuns() {
  const page = await api("/api/engine/runs?limit=200");
  const runs = page.content;
  fillTable("runs-table", runs.slice(0, 40), (r) => [
    [r.id], [r.engine], [r.cause + (r.requested_by ? " (audited)" : "")], [r.scope], [r.subjects], [r.rows],
    [fmt(r.seconds, 2)], [fmt(r.peak_memory_mib, 0)], [when(r.finished_at || r.started_at)], [r.error ? `${r.outcome}: ${r.error}` : r.outcome],
  ], (r) => (r.outcome === "failed" ? "failed" : r.cause === "request" ? "request" : ""));
  const series = new Map();
  for (const r of runs) {
    if (r.outcome !== "done") continue;
    if (!series.has(r.engine)) series.set(r.engine, []);
    series.get(r.engine).push({ x: Date.parse(`${r.started_at}Z`), y: r.seconds });
  }
  if (series.size) {
    Charts.lines($("durations-chart"), [...series].map(([name, points]) => ({ name, points })), "run durations");
  }
  lastRunId = runs.length ? runs[0].id : 0;
  filled("engines", runs.length > 0);
  return runs;
}

function showQuality(evaluations) {
  const latest = evaluations[0];
  $("quality-empty").hidden = Boolean(latest);
  if (!latest) {
    filled("quality", false);
    return;
  }
  const report = latest.report || {};
  const engines = Object.entries(report.engines || {});
  const metrics = [["ndcg@10", "NDCG@10"], ["precision@10", "precision@10"], ["recall@10", "recall@10"], ["coverage", "coverage"]];
  $("quality-caption").textContent = `Evaluation #${latest.id} of ${when(latest.created_at)}, seed ${latest.seed}, scale ${latest.scale}; baselines: most_popular and random.`;
  // One chart per metric, each on its own scale, engines side by side.
  const box = $("quality-chart");
  box.replaceChildren();
  metrics.forEach(([key, label], i) => {
    const cellBox = document.createElement("div");
    const title = document.createElement("h4");
    title.textContent = label;
    const chart = document.createElement("div");
    cellBox.append(title, chart);
    box.appendChild(cellBox);
    const values = engines.map(([, m]) => m[key] || 0);
    Charts.groupedBars(chart, [{ label, values }], engines.map(([name]) => name), label, i === metrics.length - 1);
  });
  filled("quality", engines.length > 0);
}

function showSamples(users) {
  const p = $("lookup-samples");
  p.replaceChildren();
  if (!users.length) return;
  p.append("Users with recommendations: ");
  for (const u of users) {
    const a = document.createElement("a");
    a.href = "#";
    a.textContent = u.username;
    a.addEventListener("click", (event) => {
      event.preventDefault();
      $("lookup-user").value = u.uuid;
      lookup(u.uuid);
    });
    p.appendChild(a);
  }
}

async function lookup(who) {
  $("lookup-error").textContent = "";
  try {
    const answer = await api(`/api/admin/lookup?user=${encodeURIComponent(who)}`);
    $("lookup-result").hidden = false;
    $("lookup-title").textContent = `${answer.user.username} (${answer.user.uuid})`;
    $("lookup-genres").textContent = answer.genres.map((g) => g.name).join(", ") || "none";
    fillTable("recommendations-table", answer.recommendations, (r) => [
      [r.kind], [r.title || `#${r.content_id}`, "title"], [r.engine], [fmt(r.score, 3)], [r.reason, "reason"],
    ]);
    fillTable("interactions-table", answer.interactions, (m) => [
      [m.kind], [m.title || `#${m.content_id}`, "title"], [m.rating], [m.views], [m.count], [when(m.last_at)],
    ]);
    filled("lookup", answer.recommendations.length > 0);
  } catch (error) {
    $("lookup-result").hidden = true;
    $("lookup-error").textContent = error.message;
    filled("lookup", false);
  }
}

async function refresh() {
  const overview = await api("/api/admin/overview");
  showCounts(overview.counts, overview.events_per_hour);
  showEngines(overview);
  showQuality(overview.evaluations);
  showSamples(overview.sample_users);
  await loadRuns();
  return overview;
}

async function forceRun() {
  const button = $("force-run");
  const engine = $("force-engine").value;
  button.disabled = true;
  $("force-status").textContent = "starting…";
  try {
    const answer = await api("/api/engine/runs", { method: "POST", body: JSON.stringify({ engines: engine ? [engine] : [] }) });
    $("force-status").textContent = `requested (#${answer.request_id}): ${answer.engines.join(", ")}`;
    // Follow the runs until every engine asked for has reported after the request.
    const waiting = new Set(answer.engines);
    for (let i = 0; i < 600 && waiting.size; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const runs = await loadRuns();
      for (const r of runs) if (r.id > answer.request_id && r.cause === "forced") waiting.delete(r.engine);
    }
    $("force-status").textContent = waiting.size ? "still running…" : `done (request #${answer.request_id})`;
    await refresh();
  } catch (error) {
    $("force-status").textContent = error.message;
  } finally {
    button.disabled = false;
  }
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  clearInterval(refreshTimer);
  $("dashboard").hidden = true;
  $("who").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = message || "";
}

async function enter() {
  try {
    await refresh();
  } catch (error) {
    signOut(error.message === "Permission missing" ? "This account is not an administrator." : error.message);
    return;
  }
  $("sign-in").hidden = true;
  $("dashboard").hidden = false;
  $("who").hidden = false;
  $("who-name").textContent = sessionStorage.getItem(`${TOKEN_KEY}-name`) || "";
  refreshTimer = setInterval(() => refresh().catch(() => {}), 30000);
}

$("sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("sign-in-error").textContent = "";
  try {
    const response = await fetch("/api/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: $("email").value, password: $("password").value }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.message || `HTTP ${response.status}`);
    sessionStorage.setItem(TOKEN_KEY, body.access_token);
    sessionStorage.setItem(`${TOKEN_KEY}-name`, body.user ? body.user.username : "");
    $("password").value = "";
    await enter();
  } catch (error) {
    $("sign-in-error").textContent = error.message;
  }
});
$("sign-out").addEventListener("click", () => signOut());
$("force-run").addEventListener("click", forceRun);
$("lookup-form").addEventListener("submit", (event) => {
  event.preventDefault();
  lookup($("lookup-user").value);
});
if (sessionStorage.getItem(TOKEN_KEY)) enter();
