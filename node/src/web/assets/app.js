// The web view's script: reads /api/state, lays it out, and reads it again
// whenever /api/events says the cluster changed. No framework; names from
// the cluster are set as text, never as markup.
"use strict";

const KEPT_EVENTS = 30;
let events = [];
let lastEvent = 0;
let feed = null;
let pending = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key.startsWith("data-") || key === "class" || key === "title") node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) node.append(child);
  return node;
}

function ago(nanos) {
  if (!nanos) return "";
  const s = Math.max(0, Math.round((Date.now() - nanos / 1e6) / 1000));
  if (s < 60) return s + "s ago";
  if (s < 3600) return Math.round(s / 60) + "m ago";
  return Math.round(s / 3600) + "h ago";
}

function card(task) {
  const detail = [task.state + (task.since ? " " + ago(task.since) : "")];
  if (task.err) detail.push(task.err);
  return el("div", { class: "card", "data-task": task.name, "data-state": task.state, "data-desired": task.desired,
                     title: task.id + (task.message ? "\n" + task.message : "") },
    el("div", { class: "name" }, task.name),
    el("div", { class: "detail" }, task.image),
    el("div", { class: "detail" }, detail.join(": ")));
}

function renderNodes(nodes) {
  const columns = nodes.map((n) => {
    const role = n.role + (n.leader ? " \u2605 leader" : "");
    const tasks = el("div", { class: "tasks" }, ...n.tasks.map(card));
    if (!n.tasks.length) tasks.append(el("div", { class: "empty" }, "no tasks"));
    return el("div", { class: "node", "data-node": n.hostname, "data-state": n.state, "data-availability": n.availability },
      el("header", {},
        el("div", { class: "hostname", title: n.id + " " + n.addr }, n.hostname),
        el("div", { class: "meta" }, [role, n.state, n.availability].join(" \u00b7 "))),
      tasks);
  });
  document.getElementById("nodes").replaceChildren(...columns);
}

function rollout(s) {
  if (!s.update) return "";
  const cell = el("span", {}, s.update.replace("_", " ") + " ");
  if (s.update === "updating" || s.update === "rollback_started") {
    const done = s.desired ? Math.min(100, Math.round(100 * s.updated / s.desired)) : 0;
    const bar = el("span", { class: "progress", title: s.updated + "/" + s.desired + " updated" },
      el("span"));
    bar.firstChild.style.width = done + "%";
    cell.append(bar);
  }
  if (s.update_message) cell.title = s.update_message;
  return cell;
}

function renderServices(services) {
  const rows = services.map((s) => {
    const replicas = s.completions ? s.completed + "/" + s.completions + " completed" : s.running + "/" + s.desired;
    return el("tr", { "data-service": s.name },
      el("td", {}, s.name), el("td", {}, s.mode), el("td", { class: "replicas" }, replicas),
      el("td", {}, s.image), el("td", {}, rollout(s)));
  });
  if (!rows.length) rows.push(el("tr", {}, el("td", { class: "empty", colSpan: 5 }, "no services")));
  document.querySelector("#services tbody").replaceChildren(...rows);
}

function renderPending(tasks) {
  document.getElementById("pending-count").textContent = tasks.length;
  document.getElementById("pending").replaceChildren(...tasks.map((t) =>
    el("li", { "data-task": t.name }, el("b", {}, t.name), " " + (t.err || t.message || t.state))));
}

function renderEvents() {
  document.getElementById("events").replaceChildren(...events.slice().reverse().map((e) =>
    el("li", { "data-type": e.type, "data-action": e.action },
      el("time", {}, new Date(e.time / 1e6).toLocaleTimeString()),
      `${e.type} ${e.action} ${e.name || e.id}` + (e.attributes ? ` (${e.attributes})` : ""))));
}

function render(state) {
  document.getElementById("served-by").textContent = "served by " + state.served_by;
  const warning = document.getElementById("warning");
  warning.hidden = !state.warning;
  warning.textContent = state.warning;
  renderNodes(state.nodes);
  renderServices(state.services);
  renderPending(state.pending);
  document.body.dataset.renders = Number(document.body.dataset.renders || 0) + 1;
}

async function refresh() {
  pending = null;
  try {
    const response = await fetch("/api/state", { cache: "no-store" });
    if (!response.ok) throw new Error(await response.text());
    const state = await response.json();
    render(state);
    if (!feed) {
      events = state.events;
      lastEvent = state.last_event;
      renderEvents();
      listen();
    }
  } catch (err) {
    setLive("off", String(err));
  }
}

// Many changes come at once (a scale, a drain): one read for them all.
function soon() {
  if (!pending) pending = setTimeout(refresh, 150);
}

function setLive(state, text) {
  const live = document.getElementById("live");
  live.dataset.live = state;
  live.textContent = text;
}

function listen() {
  feed = new EventSource("/api/events?after=" + lastEvent);
  feed.onopen = () => setLive("on", "live");
  feed.onerror = () => setLive("connecting", "reconnecting");
  feed.addEventListener("cluster", (message) => {
    events.push(JSON.parse(message.data));
    events = events.slice(-KEPT_EVENTS);
    renderEvents();
    soon();
  });
}

refresh();
// Leadership and reachability are raft's, not events: read them now and then.
setInterval(refresh, 10000);
