// The status page: fetches /api/status and draws it. Every number shown
// carries data-field (its path in the JSON) and data-value (the raw
// value), so tests and scripts can read the page as they read the JSON.
// Sections the page knows get pictures; any other object of the JSON is
// listed field by field (so a new section shows up without changes here:
// to give it a picture, add a function to `renderers`).
"use strict";

const REFRESH_MS = 5000;
const SVG = "http://www.w3.org/2000/svg";

// token: for an admin listener bound beyond loopback (the README says how
// to get it); the page is opened as /#token=TOKEN.
const token = new URLSearchParams(location.hash.slice(1)).get("token");

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k instanceof Node ? k : String(k));
  return e;
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0, v = Number(n) || 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (i === 0 ? String(v) : v.toFixed(1)) + " " + units[i];
}

function duration(ns) {
  let s = Math.round((Number(ns) || 0) / 1e9);
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
}

function ago(t) {
  const d = Date.parse(t);
  if (!t || isNaN(d) || d <= 0 || t.startsWith("0001-")) return "never";
  const s = Math.max(0, Math.round((Date.now() - d) / 1000));
  if (s < 60) return s + " s ago";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  if (s < 86400) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " days ago";
}

const pct = (x) => (100 * (Number(x) || 0)).toFixed(1) + " %";

// num is a number of the JSON at path, shown formatted by fmt.
function num(path, value, fmt) {
  return el("span", { class: "num", "data-field": path, "data-value": String(value ?? 0) }, (fmt || String)(value ?? 0));
}

function meter(parts, total) {
  const m = el("div", { class: "meter", role: "img" });
  let left = 0;
  parts.forEach((p, i) => {
    const w = total > 0 ? Math.min(100, (100 * p) / total) : 0;
    const s = el("span", { class: i ? "second" : "" });
    s.style.left = left + "%";
    s.style.width = w + "%";
    left += w;
    m.append(s);
  });
  return m;
}

function rows(list) {
  const t = el("table");
  for (const [label, value] of list) t.append(el("tr", {}, el("th", {}, label), el("td", {}, value)));
  return t;
}

function section(title, id, ...kids) {
  return el("section", { id: "section-" + id }, el("h2", {}, title), ...kids);
}

// segmentsChart draws the segments by their healthy shards, 0..n: a bar
// per count, red under k, orange at k, green at n.
function segmentsChart(st) {
  const n = st.n || 0, k = st.k || 0, segs = st.segments || {};
  const w = 320, h = 150, pad = 22, bw = (w - pad) / (n + 1);
  let max = 1;
  for (let i = 0; i <= n; i++) max = Math.max(max, segs[i] || 0);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("id", "segments-chart");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("width", "100%");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "segments by healthy shards");
  for (let i = 0; i <= n; i++) {
    const c = segs[i] || 0, bh = ((h - 2 * pad) * c) / max;
    const x = pad + i * bw + 3, y = h - pad - bh;
    const r = document.createElementNS(SVG, "rect");
    r.setAttribute("x", x); r.setAttribute("y", y);
    r.setAttribute("width", Math.max(bw - 6, 1)); r.setAttribute("height", bh);
    r.setAttribute("fill", i < k ? "#c62828" : i === k ? "#ef6c00" : i === n ? "#2e7d32" : "#7cb342");
    r.setAttribute("data-healthy", i); r.setAttribute("data-count", c);
    const label = document.createElementNS(SVG, "text");
    label.setAttribute("x", x + (bw - 6) / 2); label.setAttribute("y", h - 6);
    label.setAttribute("text-anchor", "middle"); label.textContent = i;
    const count = document.createElementNS(SVG, "text");
    count.setAttribute("x", x + (bw - 6) / 2); count.setAttribute("y", y - 3);
    count.setAttribute("text-anchor", "middle"); count.textContent = c;
    svg.append(r, label, count);
  }
  return svg;
}

function sumValues(m) { return Object.values(m || {}).reduce((a, b) => a + b, 0); }

// renderers draw the sections the page knows, by JSON key; each returns
// an element, or null to skip. The keys listed in `flat` are drawn by one
// of them and not listed again.
const renderers = {
  node: (st) => { const u = st.node; return section("Space given to others", "node",
    meter([u.used], u.capacity),
    rows([["Offered", num("node.capacity", u.capacity, bytes)], ["Used by others", num("node.used", u.used, bytes)],
      ["Free", num("node.free", u.free, bytes)], ["Shards held", num("node.shards", u.shards)], ["Owners", num("node.owners", u.owners)]])); },
  space: (st) => { if (!st.n) return null; const s = st.space; return section("Space used by you", "space",
    meter([s.stored_bytes, s.inline_bytes], s.quota),
    rows([["Objects", num("space.objects", s.objects)], ["Their size", num("space.logical_bytes", s.logical_bytes, bytes)],
      ["On peers (erasure-coded)", num("space.stored_bytes", s.stored_bytes, bytes)], ["Inline in the catalog", num("space.inline_bytes", s.inline_bytes, bytes)],
      ["Quota", num("space.quota", s.quota, bytes)]])); },
  segments: (st) => { if (!st.n) return null; return section(`Object health (k=${st.k}, n=${st.n})`, "health-chart",
    segmentsChart(st),
    rows([["Segments", num("segments.total", sumValues(st.segments))], ["Objects", num("objects.total", sumValues(st.objects))],
      ["Fully redundant objects", num(`objects.${st.n}`, (st.objects || {})[st.n] || 0)]])); },
  upkeep: (st) => { if (!st.n) return null; const u = st.upkeep; return section("Repair and audits", "repair",
    rows([["Need repair", num("need_repair", st.need_repair)], ["Unreadable now (waiting)", num("waiting", st.waiting)],
      ["Lost shards", num("lost_shards", st.lost_shards)], ["Segments repaired", num("upkeep.Repairs", u.Repairs)],
      ["Shards rebuilt", num("upkeep.ShardsRepaired", u.ShardsRepaired)], ["Bytes rebuilt", num("upkeep.BytesRepaired", u.BytesRepaired, bytes)],
      ["Repair failures", num("upkeep.RepairFailures", u.RepairFailures)], ["Audits passed", num("upkeep.AuditsPassed", u.AuditsPassed)],
      ["Audits failed", num("upkeep.AuditsFailed", u.AuditsFailed)], ["Leases renewed", num("upkeep.LeasesRenewed", u.LeasesRenewed)]])); },
  backup: (st) => { if (!st.n) return null; const b = st.backup; return section("Catalog backup", "backup",
    el("p", {}, b.root_seq === 0 ? "No backup yet." : b.lag > 0 ? "Changes waiting." : "Up to date."),
    rows([["Lag", num("backup.lag", b.lag, duration)], ["Changes waiting", num("backup.pending", b.pending)],
      ["Root posted", el("span", {}, ago(b.root_time))],
      ["Held by peers", num("backup.root_holders", b.root_holders)], ["Failed steps", num("backup.failures", b.failures)],
      ...(b.last_error ? [["Last error", b.last_error]] : [])])); },
  peers: (st) => { const p = st.peers; const t = el("table", { id: "peers-table" },
      el("tr", {}, el("th", {}, ""), el("th", {}, "Peer"), el("th", {}, "Address"), el("th", {}, "Uptime"), el("th", {}, "Last seen"), el("th", {}, "Free")));
    for (const x of p.list || []) {
      const bar = el("span", { class: "uptime", title: pct(x.uptime) }, el("span"));
      bar.firstChild.style.width = (100 * x.uptime) + "%";
      t.append(el("tr", { class: "peer" }, el("td", {}, el("span", { class: x.online ? "dot on" : "dot", title: x.online ? "online" : "offline" })),
        el("td", { title: x.id }, x.id.slice(0, 12) + "…"), el("td", {}, x.address), el("td", {}, bar, " ", pct(x.uptime)),
        el("td", {}, ago(x.last_seen)), el("td", { class: "n" }, bytes(x.free))));
    }
    const s = section("Peers", "peers",
      rows([["Known", num("peers.known", p.known)], ["Verified", num("peers.verified", p.verified)],
        ["Placeable", num("peers.placeable", p.placeable)], ["Online", num("peers.online", p.online)],
        ...(st.n ? [[`Expected availability (${st.k} of ${st.n})`, num("peers.availability", p.availability, pct)]] : [])]), t);
    s.classList.add("wide"); return s; },
  errors: (st) => { const ul = el("ul", { class: "errors" });
    for (const e of st.errors || []) ul.append(el("li", {}, el("span", { class: "lvl-" + e.level }, e.level), " ", el("span", { class: "muted" }, ago(e.time)), " ", e.message));
    if (!(st.errors || []).length) ul.append(el("li", { class: "muted" }, "none"));
    const s = section("Recent warnings and errors", "errors", ul); s.classList.add("wide"); return s; },
};
// Keys drawn by a renderer above or in the header.
const flat = new Set(["time", "k", "n", "objects", "need_repair", "waiting", "lost_shards", "health"]);

// generic lists an unknown section's fields (nested objects flattened).
function generic(key, obj) {
  const list = [];
  const walk = (prefix, v) => {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      for (const [k, x] of Object.entries(v)) walk(prefix + "." + k, x);
    } else if (typeof v === "number") {
      list.push([prefix.slice(key.length + 1), num(prefix, v, /bytes|space|used|capacity|free/i.test(prefix) ? bytes : String)]);
    } else {
      list.push([prefix.slice(key.length + 1), Array.isArray(v) ? JSON.stringify(v) : String(v)]);
    }
  };
  walk(key, obj);
  return section(key.charAt(0).toUpperCase() + key.slice(1).replace(/_/g, " "), key, rows(list));
}

function render(st) {
  const h = document.getElementById("health");
  h.textContent = st.health.ok ? "healthy" : "unhealthy";
  h.className = "badge " + (st.health.ok ? "ok" : "bad");
  const prob = document.getElementById("problem");
  prob.hidden = st.health.ok;
  prob.replaceChildren(...(st.health.problems || []).map((p) => el("div", {}, p)));
  document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
  const main = document.getElementById("sections");
  const out = [];
  for (const [key, v] of Object.entries(st)) {
    if (flat.has(key)) continue;
    const r = renderers[key];
    const s = r ? r(st) : v && typeof v === "object" && !Array.isArray(v) ? generic(key, v) : null;
    if (s) out.push(s);
  }
  main.replaceChildren(...out);
  document.body.dataset.loaded = "true";
}

async function refresh() {
  try {
    const r = await fetch("api/status", { headers: token ? { Authorization: "Bearer " + token } : {}, cache: "no-store" });
    const body = await r.json();
    if (!r.ok) throw new Error(body.message || r.statusText);
    render(body);
  } catch (e) {
    const prob = document.getElementById("problem");
    prob.hidden = false;
    prob.textContent = "Cannot read the daemon's status: " + e.message;
    document.getElementById("health").textContent = "unreachable";
    document.getElementById("health").className = "badge bad";
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

refresh();
