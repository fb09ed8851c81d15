// The live page of `rigd serve --http`: plain browser JavaScript, no build step. One WebSocket (/ws) brings
// what the daemon publishes — status (1 Hz), telemetry, events, previews (binary) — and takes the daemon's own
// requests ({"id", "request"}), answered with the control socket's replies. uPlot (a global from
// /uPlot.iife.min.js) draws the telemetry; yaml's browser build reads session files.
import { parse as parseYaml } from "/yaml/index.js";

const DTYPE_MAX = 65535; // previews are uint16 ("<u2")
const $ = (selector) => document.querySelector(selector);
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  e.append(...children);
  return e;
};

// ---------------------------------------------------------------- connection and requests

let socket;
let nextId = 1;
const waiting = new Map(); // request id → resolve
let retryMs = 500;

function connect() {
  socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  socket.binaryType = "arraybuffer";
  socket.onopen = () => {
    retryMs = 500;
    setConnection(true, "connected");
  };
  socket.onmessage = (m) => (typeof m.data === "string" ? onMessage(JSON.parse(m.data)) : onPreview(m.data));
  socket.onclose = () => {
    for (const resolve of waiting.values()) resolve({ ok: false, error: { code: "disconnected", message: "the connection to rigd closed before it answered" } });
    waiting.clear();
    const seconds = Math.round(retryMs / 1000);
    setConnection(false, `disconnected from rigd — reconnecting${seconds ? ` in ${seconds} s` : ""}…`);
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 5000);
  };
}

function setConnection(up, text) {
  const c = $("#connection");
  c.textContent = text;
  c.className = up ? "up" : "down";
  document.body.classList.toggle("disconnected", !up);
}

/** Sends one of the daemon's requests; shows its error on the page; resolves with the reply. */
function request(body, what) {
  if (socket?.readyState !== WebSocket.OPEN) {
    showError(what, { code: "disconnected", message: "not connected to rigd" });
    return Promise.resolve({ ok: false });
  }
  const id = nextId++;
  socket.send(JSON.stringify({ id, request: body }));
  return new Promise((resolve) => waiting.set(id, resolve)).then((reply) => {
    if (!reply.ok) showError(what, reply.error);
    return reply;
  });
}

function showError(what, error) {
  notice(what, error.message, error.code, "error");
}

/** A banner line until dismissed: an error (its code), or a warning rigd gave with an answer (kind "warning"). */
function notice(what, message, code, kind) {
  const list = $("#errors");
  list.prepend(el("li", { class: kind }, el("b", {}, `${what}: `), `${message} `, el("code", {}, code), el("button", { type: "button", title: "dismiss", onclick: (e) => e.target.closest("li").remove() }, "×")));
  while (list.children.length > 5) list.lastChild.remove();
}

function onMessage(m) {
  switch (m.type) {
    case "hello":
      setRig(m.rig);
      newSession();
      for (const t of m.telemetry) onTelemetry(t);
      for (const e of m.events) onEvent(e);
      onStatus(m.status);
      break;
    case "session":
      newSession();
      break;
    case "status":
      onStatus(m.body);
      break;
    case "telemetry":
      onTelemetry(m.body);
      break;
    case "events":
      onEvent(m.body);
      break;
    case "reply":
      if (m.id === null) showError("page", m.reply.error);
      waiting.get(m.id)?.(m.reply);
      waiting.delete(m.id);
      break;
  }
}

// ---------------------------------------------------------------- the rig: images, controls, plots

let rig = { series: [], lasers: [], photodetectors: [] };
// For tests and the curious: the latest status, previews received per series, the plotted data (set below).
window.rigd = { status: null, previews: {}, plots: {} };
const views = new Map(); // series → { canvas, histogram, saturation, auto, lo, hi, last }

function setRig(description) {
  if (JSON.stringify(description) === JSON.stringify(rig)) return; // a reconnect: keep what is on the page
  rig = description;
  views.clear();
  const box = $("#series");
  box.replaceChildren();
  for (const s of rig.series) {
    const canvas = el("canvas", { class: "live", "data-series": s.name, width: 1, height: 1 });
    const histogram = el("canvas", { class: "histogram", width: 256, height: 64 });
    const auto = el("input", { type: "checkbox", checked: true, onchange: () => redraw(s.name) });
    const lo = el("input", { type: "number", min: 0, max: DTYPE_MAX, value: 0, onchange: () => ((auto.checked = false), redraw(s.name)) });
    const hi = el("input", { type: "number", min: 0, max: DTYPE_MAX, value: DTYPE_MAX, onchange: () => ((auto.checked = false), redraw(s.name)) });
    const saturation = el("span", { class: "saturation" });
    const info = el("span", { class: "info" });
    box.append(
      el("figure", { class: "series" }, canvas, el("figcaption", {}, el("b", {}, s.name), " ", info, el("br"), el("label", {}, auto, " auto"), " min ", lo, " max ", hi, el("br"), histogram, el("br"), saturation)),
    );
    views.set(s.name, { canvas, histogram, saturation, info, auto, lo, hi, last: null, range: [0, DTYPE_MAX] });
  }
  // The overlay's default: the shortest emission wavelength is green, the longest red.
  const byEmission = [...rig.series].sort((a, b) => (a.emission_wavelength_in_nm ?? 0) - (b.emission_wavelength_in_nm ?? 0));
  for (const [id, pick] of [["#overlay-green", byEmission[0]], ["#overlay-red", byEmission.length > 1 ? byEmission.at(-1) : undefined]]) {
    const select = $(id);
    select.replaceChildren(el("option", { value: "" }, "none"), ...rig.series.map((s) => el("option", { value: s.name, selected: s === pick }, s.name)));
    select.onchange = drawOverlay;
  }
  setControls();
  setPlots();
}

function setControls() {
  const lasers = $("#lasers");
  lasers.replaceChildren();
  for (const l of rig.lasers) {
    const wavelength = el("input", { type: "number", step: 1, placeholder: "nm", name: "wavelength_nm" });
    const power = el("input", { type: "number", step: 0.01, min: 0, placeholder: "W", name: "power_W" });
    const set = (property, value) => request({ cmd: "set", device: l.name, property, value }, `${l.name} ${property} ${value}`);
    lasers.append(
      el(
        "fieldset",
        { class: "laser", "data-device": l.name },
        el("legend", {}, l.name, " ", el("span", { class: "reading" })),
        // Only the settings this laser takes (a Mai Tai has no power control, a Cobolt no shutter).
        ...(l.controls.shutter
          ? [el("button", { type: "button", name: "shutter-open", onclick: () => set("shutter", true) }, "Open shutter"), el("button", { type: "button", name: "shutter-close", onclick: () => set("shutter", false) }, "Close shutter")]
          : [el("button", { type: "button", name: "emission-on", onclick: () => set("emission", true) }, "Emission on"), el("button", { type: "button", name: "emission-off", onclick: () => set("emission", false) }, "Emission off")]),
        el("br"),
        ...(l.controls.wavelength ? [wavelength, el("button", { type: "button", name: "set-wavelength", onclick: () => set("wavelength_nm", Number(wavelength.value)) }, "Set wavelength")] : []),
        ...(l.controls.power ? [power, el("button", { type: "button", name: "set-power", onclick: () => set("power_W", Number(power.value)) }, "Set power")] : []),
      ),
    );
  }
  const pmts = $("#pmts");
  pmts.replaceChildren();
  for (const group of rig.photodetectors) {
    for (const name of Object.values(group.channels)) {
      const gain = el("input", { type: "number", step: 0.01, placeholder: group.gain_unit, name: "gain" });
      const set = (property, value) => request({ cmd: "set", device: name, property, value }, `${name} ${property} ${value}`);
      pmts.append(
        el(
          "fieldset",
          { class: "pmt", "data-device": name },
          el("legend", {}, name, " ", el("span", { class: "reading" })),
          gain,
          el("button", { type: "button", name: "set-gain", onclick: () => set("gain", Number(gain.value)) }, "Set gain"),
          el("button", { type: "button", name: "enable", onclick: () => set("enabled", true) }, "Enable"),
          el("button", { type: "button", name: "disable", onclick: () => set("enabled", false) }, "Disable"),
          el("button", { type: "button", name: "reset-trip", onclick: () => set("reset_trip", true) }, "Reset trip"),
        ),
      );
    }
  }
}

// ---------------------------------------------------------------- previews

function onPreview(buffer) {
  const length = new DataView(buffer).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, length)));
  const offset = 4 + length + ((4 + length) % 2); // the server pads the pixels to an even offset
  const [rows, cols] = header.shape;
  const view = views.get(header.series);
  if (!view) return;
  window.rigd.previews[header.series] = (window.rigd.previews[header.series] ?? 0) + 1;
  view.last = { header, pixels: new Uint16Array(buffer, offset, rows * cols) };
  redraw(header.series);
  drawOverlay();
}

/** Counts per value, and the value below which `fraction` of the pixels lie. */
function percentile(counts, total, fraction) {
  let seen = 0;
  for (let v = 0; v < counts.length; v++) if ((seen += counts[v]) >= fraction * total) return v;
  return counts.length - 1;
}

function redraw(series) {
  const view = views.get(series);
  if (!view?.last) return;
  const { header, pixels } = view.last;
  const [rows, cols] = header.shape;
  const counts = new Uint32Array(DTYPE_MAX + 1);
  let sum = 0;
  for (const v of pixels) {
    counts[v]++;
    sum += v;
  }
  if (view.auto.checked) {
    view.lo.value = percentile(counts, pixels.length, 0.005);
    view.hi.value = Math.max(Number(view.lo.value) + 1, percentile(counts, pixels.length, 0.995));
  }
  const lo = Number(view.lo.value);
  const hi = Math.max(lo + 1, Number(view.hi.value));
  view.range = [lo, hi];
  const { canvas } = view;
  if (canvas.width !== cols || canvas.height !== rows) [canvas.width, canvas.height] = [cols, rows];
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(cols, rows);
  for (let i = 0; i < pixels.length; i++) {
    const g = pixels[i] >= DTYPE_MAX ? -1 : Math.max(0, Math.min(255, ((pixels[i] - lo) * 255) / (hi - lo)));
    // Saturated pixels in red, as ScanImage and most 2P software show them.
    image.data.set(g < 0 ? [255, 0, 0, 255] : [g, g, g, 255], i * 4);
  }
  ctx.putImageData(image, 0, 0);
  canvas.dataset.mean = (sum / pixels.length).toFixed(1);
  view.info.textContent = `t ${header.time.toFixed(1)} s · ${cols}×${rows} (bin ${header.bin}) · mean ${(sum / pixels.length).toFixed(0)}`;
  const saturated = counts[DTYPE_MAX];
  view.saturation.textContent = `saturated (at ${DTYPE_MAX}): ${saturated} px${saturated ? ` (${((100 * saturated) / pixels.length).toFixed(2)} %)` : ""}`;
  view.saturation.classList.toggle("bad", saturated > 0);
  drawHistogram(view, counts, pixels.length);
}

/** Log-scaled counts from 0 to the frame's largest value (or the dtype's maximum when saturated), the contrast range marked. */
function drawHistogram(view, counts, total) {
  const { histogram: c, range } = view;
  const ctx = c.getContext("2d");
  let top = DTYPE_MAX;
  while (top > 0 && counts[top] === 0) top--;
  const bins = new Float64Array(c.width);
  const per = (top + 1) / c.width;
  for (let v = 0; v <= top; v++) bins[Math.min(c.width - 1, Math.floor(v / per))] += counts[v];
  const scale = Math.log10(total + 1);
  ctx.clearRect(0, 0, c.width, c.height);
  ctx.fillStyle = "#9ab";
  for (let x = 0; x < c.width; x++) {
    const h = (Math.log10(bins[x] + 1) / scale) * c.height;
    ctx.fillRect(x, c.height - h, 1, h);
  }
  ctx.fillStyle = "rgba(255, 210, 0, 0.9)";
  for (const v of range) ctx.fillRect(Math.min(c.width - 1, v / per), 0, 1, c.height);
  if (counts[DTYPE_MAX]) {
    ctx.fillStyle = "#f33";
    ctx.fillRect(c.width - 3, 0, 3, c.height);
  }
}

/** Green and red series, each at its own contrast, in one image (same shape only). */
function drawOverlay() {
  const shown = (select) => (views.get($(select).value)?.last ? views.get($(select).value) : undefined);
  const [green, red] = [shown("#overlay-green"), shown("#overlay-red")];
  const shape = (green ?? red)?.last.header.shape;
  if (!shape) return;
  const [rows, cols] = shape;
  const canvas = $("#overlay");
  if (canvas.width !== cols || canvas.height !== rows) [canvas.width, canvas.height] = [cols, rows];
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(cols, rows);
  const level = (view, i) => {
    if (!view || view.last.pixels.length !== rows * cols) return 0;
    const [lo, hi] = view.range;
    return Math.max(0, Math.min(255, ((view.last.pixels[i] - lo) * 255) / (hi - lo)));
  };
  for (let i = 0; i < rows * cols; i++) image.data.set([level(red, i), level(green, i), 0, 255], i * 4);
  ctx.putImageData(image, 0, 0);
}

// ---------------------------------------------------------------- status and health

let previous; // the status before, for rates

function onStatus(s) {
  window.rigd.status = s;
  const recording = s.state === "recording";
  $("#session").textContent = s.state === "idle" ? "idle" : `${s.state} · ${s.out} · ${s.elapsed_s.toFixed(0)} s${s.error ? ` · ${s.error}` : ""}`;
  $("#session").className = s.error ? "bad" : recording ? "recording" : "";
  const rows = $("#series-health tbody");
  rows.replaceChildren();
  const dt = previous && s.elapsed_s > previous.elapsed_s && previous.out === s.out ? s.elapsed_s - previous.elapsed_s : 0;
  for (const [series, samples] of Object.entries(s.samples ?? {})) {
    const fps = dt ? (samples - (previous.samples?.[series] ?? 0)) / dt : null;
    const lost = s.losses?.[series]?.frames ?? {};
    const causes = Object.entries(lost).filter(([, n]) => n > 0);
    rows.append(
      el("tr", { "data-series": series }, el("td", {}, series), el("td", {}, fps === null ? "–" : fps.toFixed(1)), el("td", {}, String(samples)), el("td", { class: causes.length ? "bad" : "" }, causes.length ? causes.map(([c, n]) => `${n} ${c}`).join(", ") : "0")),
    );
  }
  const mbps = dt ? (s.written_bytes - previous.written_bytes) / dt / 1e6 : null;
  const facts = s.state === "idle" ? [] : [
    ["queue", `${((s.queue_bytes ?? 0) / 1e6).toFixed(1)} MB`],
    ["written", mbps === null ? "–" : `${mbps.toFixed(1)} MB/s`],
    ["file", `${((s.file_bytes ?? 0) / 1e6).toFixed(0)} MB`],
    ["free disk", `${(s.disk_free_MB ?? 0).toFixed(0)} MB`],
    ["time left", s.minutes_left === null || s.minutes_left === undefined ? "–" : `${s.minutes_left.toFixed(0)} min`],
    ["dropped", String(s.dropped ?? 0)],
    ["events", String(s.events ?? 0)],
    ["memory", `${(s.rss_MB ?? 0).toFixed(0)} MB`],
  ];
  $("#writer-health").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", { class: k === "time left" && s.minutes_left !== null && s.minutes_left < 10 ? "bad" : "" }, v)]));
  const devices = $("#devices tbody");
  devices.replaceChildren();
  for (const [name, d] of Object.entries(s.devices ?? {})) {
    const connection = d.kind === "frame_source" ? `${d.connection} (${d.producers} producer${d.producers === 1 ? "" : "s"})` : d.connection;
    devices.append(
      el(
        "tr",
        { "data-device": name, class: d.fault || d.connection !== "connected" ? "bad" : "" },
        el("td", {}, name),
        el("td", {}, connection),
        el("td", {}, d.lost.times ? `${d.lost.times}×, ${d.lost.seconds.toFixed(1)} s` : "never"),
        el("td", {}, d.fault ? `${d.fault.message} (at ${d.fault.time.toFixed(1)} s)` : "–"),
      ),
    );
  }
  previous = s;
  pmtFaults = Object.fromEntries(Object.entries(s.devices ?? {}).filter(([, d]) => d.kind === "photodetector" && d.fault).map(([n, d]) => [n, d.fault.message]));
  showAlarm();
}

// PMT trips, from telemetry (as read) and status (the session's record of the fault): shown at the top, loud.
let tripped = {};
let pmtFaults = {};

function showAlarm() {
  const names = new Set([...Object.keys(tripped).filter((n) => tripped[n]), ...Object.keys(pmtFaults)]);
  const alarm = $("#alarm");
  alarm.hidden = names.size === 0;
  alarm.textContent = [...names].map((n) => `${n} TRIPPED: overload protection switched the PMT off — lower the light or gain, then Reset trip`).join(" · ");
  for (const f of document.querySelectorAll("fieldset.pmt")) f.classList.toggle("tripped", names.has(f.dataset.device));
}

// ---------------------------------------------------------------- telemetry plots

const PLOTS = [
  { key: "power", title: "Laser power (W)", stepped: false },
  { key: "wavelength", title: "Wavelength (nm)", stepped: true },
  { key: "shutter", title: "Shutter (1 open)", stepped: true },
  { key: "gain", title: "PMT gain", stepped: true },
];
const plots = window.rigd.plots; // key → { names, data: [x[], ...y[]], plot }

function setPlots() {
  const box = $("#plots");
  box.replaceChildren();
  const lasers = rig.lasers.map((l) => l.name);
  const pmts = rig.photodetectors.flatMap((g) => Object.values(g.channels));
  const unit = rig.photodetectors[0]?.gain_unit;
  for (const { key, title, stepped } of PLOTS) {
    const names = key === "gain" ? pmts : lasers;
    if (names.length === 0) continue;
    const target = el("div", { class: "plot", "data-plot": key });
    box.append(target);
    const colors = ["#4caf50", "#f44336", "#2196f3", "#ff9800"];
    const paths = stepped ? uPlot.paths.stepped({ align: 1 }) : undefined;
    const plot = new uPlot(
      {
        title: key === "gain" && unit ? `PMT gain (${unit})` : title,
        width: 380,
        height: 150,
        scales: { x: { time: true } },
        series: [{}, ...names.map((n, i) => ({ label: n, stroke: colors[i % colors.length], width: 1.5, spanGaps: true, ...(paths ? { paths } : {}) }))],
        axes: [{ stroke: "#ccc", grid: { stroke: "#333" } }, { stroke: "#ccc", grid: { stroke: "#333" }, size: 55 }],
        legend: { live: false },
      },
      [[], ...names.map(() => [])],
      target,
    );
    plots[key] = { names, data: [[], ...names.map(() => [])], plot };
  }
}

function addPoint(key, time, values) {
  const p = plots[key];
  if (!p) return;
  p.data[0].push(time / 1000);
  p.names.forEach((n, i) => p.data[i + 1].push(n in values ? values[n] : null));
  p.dirty = true;
}

// Plots redraw at most twice a second, however fast telemetry comes.
setInterval(() => {
  for (const p of Object.values(plots)) {
    if (p.dirty) p.plot.setData(p.data);
    p.dirty = false;
  }
}, 500);

function onTelemetry(t) {
  if (t.device !== undefined) {
    const s = t.state;
    addPoint("power", t.time, { [t.device]: s.power_W });
    addPoint("wavelength", t.time, { [t.device]: s.wavelength_nm });
    addPoint("shutter", t.time, { [t.device]: s.shutter_open ? 1 : 0 });
    const reading = document.querySelector(`fieldset.laser[data-device="${CSS.escape(t.device)}"] .reading`);
    if (reading) reading.textContent = `${s.shutter_open ? "shutter open" : "shutter closed"} · ${s.wavelength_nm} nm · ${s.power_W.toFixed(3)} W${s.fault ? ` · fault: ${s.fault}` : ""}`;
    return;
  }
  const group = rig.photodetectors.find((g) => Object.values(g.channels).join() === t.devices.join());
  if (!group) return;
  const gains = {};
  for (const [channel, name] of Object.entries(group.channels)) {
    const c = t.state.channels[channel];
    if (!c) continue;
    gains[name] = c.gain;
    tripped[name] = c.tripped;
    const reading = document.querySelector(`fieldset.pmt[data-device="${CSS.escape(name)}"] .reading`);
    if (reading) reading.textContent = `${t.state.enabled ? "enabled" : "disabled"} · gain ${c.gain} ${group.gain_unit}${c.tripped ? " · TRIPPED" : ""}`;
  }
  addPoint("gain", t.time, gains);
  showAlarm();
}

// ---------------------------------------------------------------- events

function onEvent(e) {
  const list = $("#events");
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
  list.append(el("li", { class: e.kind }, el("time", {}, `${e.time.toFixed(2)} s`), ` ${e.kind} [${e.source}] ${e.message}`));
  while (list.children.length > 5000) list.firstChild.remove();
  if (atBottom) list.scrollTop = list.scrollHeight;
}

/** A new session: its plots and events start empty (status and images follow on their own). */
function newSession() {
  $("#events").replaceChildren();
  for (const p of Object.values(plots)) {
    p.data = [[], ...p.names.map(() => [])];
    p.dirty = true;
  }
  tripped = {};
}

// ---------------------------------------------------------------- forms

$("#session-file").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  if (file) $("#start").elements.session.value = await file.text();
});

$("#start").addEventListener("submit", (e) => {
  e.preventDefault();
  const form = e.target.elements;
  let session;
  try {
    session = form.session.value.trim() ? parseYaml(form.session.value) : {}; // JSON is YAML too
  } catch (error) {
    showError("start", { code: "bad_session_file", message: `the session is not YAML or JSON: ${error.message}` });
    return;
  }
  if (form.description.value.trim()) session = { ...session, session_description: form.description.value.trim() };
  void request({ cmd: "start", out: form.out.value, session, force: form.force.checked }, `start ${form.out.value}`);
});
// A stop's warnings (a series too short for nwbinspector) are the person's to see, not only the console's.
$("#stop").addEventListener("click", () => void request({ cmd: "stop" }, "stop").then((r) => r.ok && r.result.warnings?.forEach((w) => notice("stop", w, "warning", "warning"))));
$("#mark").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = e.target.elements.text;
  void request({ cmd: "mark", text: text.value }, "mark").then((r) => r.ok && (text.value = ""));
});

connect();
