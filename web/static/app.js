// meshdfu distributor dashboard: reads /api/status, follows /api/events
// (server-sent events read with fetch, so the token travels in a header),
// and calls the API for the buttons and forms. No external resources.
"use strict";

const state = { status: null, token: sessionStorage.getItem("meshdfu-token") || "", upload: null };
const $ = (id) => document.getElementById(id);

// Words for each Retrieved Update Phase, shown under the spec's name.
const receiverHints = {
  "Idle": "waiting", "Transfer Error": "the transfer failed", "Transfer Active": "receiving the image",
  "Verifying Update": "checking the image", "Verification Succeeded": "image verified, ready to apply",
  "Verification Failed": "the image was rejected", "Applying Update": "installing",
  "Transfer Canceled": "the update was canceled", "Apply Success": "updated", "Apply Failed": "installation failed",
  "Unknown": "not contacted yet",
};

function phaseColor(p) {
  switch (p) {
    case "Transfer Active": case "Verifying Update": case "Applying Update": return "blue";
    case "Verification Succeeded": case "Apply Success": case "Completed": case "Transfer Success": return "green";
    case "Transfer Error": case "Verification Failed": case "Apply Failed": case "Failed": case "Transfer Canceled": return "red";
    case "Transfer Suspended": case "Canceling Update": return "amber";
  }
  return "";
}

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const k of kids) if (k != null) e.append(k);
  return e;
}

function badge(text, extra) {
  return el("span", { class: ("badge " + phaseColor(text) + " " + (extra || "")).trim(), text });
}

function bar(pct, color) {
  const fill = el("div", { class: "fill " + (color || "") });
  fill.style.width = Math.max(0, Math.min(100, pct)) + "%";
  return el("div", { class: "bar" }, fill);
}

function fmtBytes(n) {
  if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1) + " MiB";
  if (n >= 1 << 10) return (n / (1 << 10)).toFixed(1) + " KiB";
  return n + " B";
}

function showError(msg) {
  const e = $("error");
  e.textContent = msg;
  e.hidden = !msg;
  if (msg) setTimeout(() => { if (e.textContent === msg) e.hidden = true; }, 8000);
}

function log(text, color) {
  const li = el("li", {}, el("time", { text: new Date().toLocaleTimeString() }), color ? badge(text) : el("span", { text }));
  const l = $("log");
  l.prepend(li);
  while (l.children.length > 60) l.lastChild.remove();
}

async function api(method, path, body, raw) {
  const headers = {};
  if (state.token) headers["Authorization"] = "Bearer " + state.token;
  let payload;
  if (raw) { payload = body; headers["Content-Type"] = "application/octet-stream"; }
  else if (body !== undefined) { payload = JSON.stringify(body); headers["Content-Type"] = "application/json"; }
  const r = await fetch(path, { method, headers, body: payload });
  if (r.status === 401) { askToken(); throw new Error("the distributor needs its token"); }
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.error || (r.status + " " + r.statusText));
  return j;
}

function askToken() {
  $("token-bar").hidden = false;
  setConn("down", "token needed");
}

function setConn(cls, text) {
  $("conn-dot").className = "dot " + cls;
  $("conn").textContent = text;
}

// ---- rendering ----

function render() {
  const s = state.status;
  if (!s) return;
  $("node").textContent = "node " + s.node;
  const ph = $("dist-phase");
  ph.textContent = s.phase;
  ph.className = "badge " + phaseColor(s.phase);
  renderParams(s);
  renderReceivers(s.receivers);
  renderImages(s.images);
  renderCounters(s.counters);
  renderUpload();
  renderButtons(s);
}

function renderParams(s) {
  const dl = $("dist-params");
  dl.replaceChildren();
  const d = s.distribution;
  const add = (k, v) => dl.append(el("div", {}, el("dt", { text: k }), el("dd", { text: v })));
  if (!d) { add("Status", "no distribution"); return; }
  add("Image", "#" + d.image_index + (d.firmware_id ? " (" + d.firmware_id + ")" : ""));
  add("Policy", d.policy === "apply" ? "verify and apply" : "verify only");
  add("Mode", d.mode);
  add("Address", d.group);
  add("TTL", d.ttl === 255 ? "default" : String(d.ttl));
  add("Timeout base", String(d.timeout_base));
}

function renderReceivers(list) {
  const tb = $("receivers");
  tb.replaceChildren();
  $("no-receivers").hidden = list.length > 0;
  let done = 0, failed = 0, sum = 0;
  for (const r of list) {
    const color = r.failed ? "red" : (r.phase === "Apply Success" || r.phase === "Verification Succeeded") ? "green" : "";
    let status;
    if (r.reason) status = el("div", { class: "reason", text: r.reason });
    else if (r.phase === "Apply Success") status = el("div", { class: "ok", text: "updated" });
    else status = el("div", { class: "status", text: receiverHints[r.phase] || "" });
    const tr = el("tr", { "data-address": r.address, "data-phase": r.phase },
      el("td", { class: "addr", text: r.address }),
      el("td", { text: String(r.image_index) }),
      el("td", {}, badge(r.phase, "phase")),
      el("td", {}, el("div", { class: "progress" }, bar(r.progress, color), el("span", { class: "pct", text: r.progress + " %" }))),
      el("td", {}, status));
    tb.append(tr);
    if (r.phase === "Apply Success") done++;
    if (r.failed) failed++;
    sum += r.failed ? 0 : r.progress;
  }
  const live = list.length - failed;
  const pct = live > 0 ? Math.round(sum / live) : 0;
  $("overall-bar").style.width = pct + "%";
  $("overall-bar").className = "fill " + (failed && !live ? "red" : pct === 100 ? "green" : "");
  $("overall-pct").textContent = pct + " %";
  const parts = [list.length + (list.length === 1 ? " receiver" : " receivers")];
  if (done) parts.push(done + " updated");
  if (failed) parts.push(failed + " failed");
  $("summary").textContent = parts.join(" · ");
}

function renderImages(list) {
  const tb = $("images");
  tb.replaceChildren();
  $("no-images").hidden = list.length > 0;
  const sel = $("start-image");
  const prev = sel.value;
  sel.replaceChildren();
  for (const im of list) {
    const del = el("button", { class: "danger", text: "Delete", title: "Firmware Delete" });
    del.addEventListener("click", () => act(() => api("DELETE", "/api/images/" + im.index), "image " + im.index + " deleted"));
    tb.append(el("tr", { "data-index": String(im.index) },
      el("td", { text: String(im.index) }),
      el("td", { class: "fwid", text: im.firmware_id }),
      el("td", { text: (im.version || "–") + (im.signed ? " ✓ signed" : "") }),
      el("td", { text: fmtBytes(im.size) }),
      el("td", {}, del)));
    sel.append(el("option", { value: String(im.index), text: "#" + im.index + " " + (im.version || im.firmware_id) }));
  }
  if (prev && [...sel.options].some((o) => o.value === prev)) sel.value = prev;
}

function renderCounters(c) {
  const dl = $("counters");
  dl.replaceChildren();
  const add = (k, v) => dl.append(el("div", {}, el("dt", { text: k }), el("dd", { text: v })));
  add("PDUs sent", String(c.pdus_sent));
  add("PDUs received", String(c.pdus_received));
  add("Octets on air", fmtBytes(c.octets_sent));
  add("Image data confirmed", fmtBytes(c.bytes_transferred));
}

function renderUpload() {
  const u = state.upload || (state.status && state.status.upload);
  const box = $("upload");
  if (!u || u.phase === "Idle") { box.hidden = true; return; }
  box.hidden = false;
  const src = u.source === "http" ? "HTTP upload: " : u.oob ? "OOB upload: " : "Upload: ";
  const b = $("upload-phase");
  b.textContent = src + u.phase;
  b.className = "badge " + (u.phase === "Transfer Error" ? "red" : u.phase === "Transfer Success" ? "green" : "blue");
  $("upload-bar").style.width = u.progress + "%";
  $("upload-pct").textContent = u.progress + " %";
}

function renderButtons(s) {
  const p = s.phase;
  const has = s.receivers.length > 0 && s.images.length > 0;
  $("btn-start").disabled = !has || ["Transfer Active", "Applying Update", "Canceling Update", "Transfer Suspended"].includes(p);
  $("btn-suspend").disabled = p !== "Transfer Active";
  $("btn-resume").disabled = p !== "Transfer Suspended";
  $("btn-apply").disabled = p !== "Transfer Success";
  $("btn-cancel").disabled = p === "Idle";
}

// ---- events ----

function onEvent(name, data) {
  const s = state.status;
  switch (name) {
    case "status":
      state.status = data;
      break;
    case "phase":
      if (s && s.phase !== data.phase) log(data.phase, true);
      Object.assign(s, data);
      break;
    case "receiver": {
      const i = s.receivers.findIndex((r) => r.address === data.address);
      if (i >= 0) {
        if (s.receivers[i].phase !== data.phase) log(data.address + ": " + data.phase + (data.reason ? " (" + data.reason + ")" : ""));
        s.receivers[i] = data;
      }
      break;
    }
    case "receivers": s.receivers = data; break;
    case "images": s.images = data; break;
    case "counters": s.counters = data; break;
    case "upload":
      if (data.source === "http") state.upload = data; else { state.upload = null; s.upload = data; }
      if (data.phase === "Transfer Success" || data.phase === "Transfer Error") log("upload: " + data.phase);
      break;
  }
  render();
}

async function follow() {
  for (;;) {
    try {
      const headers = { Accept: "text/event-stream" };
      if (state.token) headers["Authorization"] = "Bearer " + state.token;
      const r = await fetch("/api/events", { headers });
      if (r.status === 401) { askToken(); return; }
      if (!r.ok || !r.body) throw new Error("events: " + r.status);
      setConn("live", "live");
      $("token-bar").hidden = true;
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let name = "message", data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) name = line.slice(7);
            else if (line.startsWith("data: ")) data += line.slice(6);
          }
          if (data) onEvent(name, JSON.parse(data));
        }
      }
    } catch (e) {
      // fall through to reconnect
    }
    setConn("down", "reconnecting…");
    await new Promise((res) => setTimeout(res, 2000));
  }
}

// ---- actions ----

async function act(f, msg) {
  try {
    const res = await f();
    if (res && res.phase !== undefined && res.receivers) { state.status = res; render(); }
    if (msg) log(msg);
  } catch (e) {
    showError(e.message);
  }
}

function parseReceivers(text) {
  const out = [];
  for (const tok of text.split(/[\s,]+/).filter(Boolean)) {
    const [addr, idx] = tok.split(":");
    const r = { address: addr };
    if (idx !== undefined) r.image_index = parseInt(idx, 10);
    out.push(r);
  }
  return out;
}

function wire() {
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    state.token = $("token").value.trim();
    sessionStorage.setItem("meshdfu-token", state.token);
    $("token-bar").hidden = true;
    follow();
  });
  $("add-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const list = parseReceivers($("add-addrs").value);
    if (!list.length) { showError("give one or more addresses, e.g. 0x0003 0x0004:1"); return; }
    act(() => api("POST", "/api/receivers", { receivers: list }), "added " + list.map((r) => r.address).join(", "));
    $("add-addrs").value = "";
  });
  $("btn-clear").addEventListener("click", () => act(() => api("DELETE", "/api/receivers"), "receivers cleared"));
  $("btn-start").addEventListener("click", () => {
    const body = {
      image_index: parseInt($("start-image").value || "0", 10),
      policy: $("start-policy").value, mode: $("start-mode").value,
      group: $("start-group").value.trim() || "unicast",
      ttl: parseInt($("start-ttl").value, 10), timeout_base: parseInt($("start-timeout").value, 10),
    };
    act(() => api("POST", "/api/start", body), "start requested");
  });
  $("btn-suspend").addEventListener("click", () => act(() => api("POST", "/api/suspend"), "suspend requested"));
  $("btn-resume").addEventListener("click", () => act(() => api("POST", "/api/resume"), "resume requested"));
  $("btn-apply").addEventListener("click", () => act(() => api("POST", "/api/apply"), "apply requested"));
  $("btn-cancel").addEventListener("click", () => {
    if (confirm("Cancel the distribution?")) act(() => api("POST", "/api/cancel"), "cancel requested");
  });
  $("upload-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const f = $("upload-file").files[0];
    if (!f) { showError("choose an image file first"); return; }
    state.upload = { phase: "Transfer Active", progress: 0, source: "http" };
    renderUpload();
    act(async () => {
      const im = await api("POST", "/api/images", f, true);
      log("stored image #" + im.index + " " + (im.version || im.firmware_id));
    });
  });
}

wire();
follow();
