'use strict';

// Framecast page: a wall of every stream, a single full-size view, snapshots, embed hints.
//
// Connections. Browsers open at most 6 HTTP/1.1 connections per host and an MJPEG <img> holds
// one for as long as it shows the stream, so the wall does not use <img src="/stream/NAME">:
// all its frames come over ONE WebSocket (/ws). The page sends {"streams":[...]} with the
// tiles on screen (none while the tab is hidden or the single view is open); the server
// answers with one binary message per frame, newest frame per stream, skipping frames for a
// client that falls behind. Only the single view (#/view/NAME) uses the plain MJPEG <img>, at
// the stream's full size, and releases it (src = '') when closed or hidden. With the
// /api/streams polling, the page needs at most 3 connections (+1 while a snapshot downloads).
//
// Sizes. A tile draws its picture a few hundred pixels wide, so it asks for a rendition of
// that size: {"name": NAME, "width": W}, W = the width the picture is drawn at (the tile's, or
// less for a source taller than the tile) × devicePixelRatio, snapped as the server snaps it
// (to a multiple of 16, at least 16); or the plain NAME (full size) when W would not be smaller
// than the stream, or its size is not known yet. The server encodes each size once and names
// its frames NAME@WxHqQ; a frame goes to the tile of the NAME before '@'. When tiles change
// size (window resized, zoom, another screen), the page asks again once the size has settled
// for 250 ms, and only if a snapped width changed; a tile moving to another size keeps its last
// picture until the new size's first frame arrives. A rendition the server refuses (the stream
// has all it may have) comes at full size; the tile's resolution says why on hover.
//
// Hooks for tests and scripts (kept stable):
//   - each tile is <article class="tile" data-stream="NAME" data-status="live|idle|starting|
//     restarting|no signal|reconnecting">; its picture is <img class="frame"> with, set as a
//     frame (decoded already) goes into the <img>: data-captured-at = the capturedAt (seconds
//     since epoch) of the frame it shows, data-frame-width / data-frame-height = its size in
//     pixels, and data-rendition = its stream name (NAME, or NAME@WxHqQ for a rendition);
//   - the single view's picture is <img id="live" data-stream="NAME">;
//   - a `framing` query parameter, in the page URL (/?framing=length#/view/NAME) or after the
//     route (#/view/NAME?framing=length), is passed on to /stream/NAME (early or length);
//   - window.framecast exposes { tiles, wanted(), socketState() } for inspection; wanted() is
//     the list the page subscribes to (NAME or {name, width} per tile on screen).
//
// Signed links. When /api/streams says {"links": true} (the server has --link-key-file), each
// tile's embed box offers "copy embed link": POST /api/links?stream=NAME&ttl=7d makes a URL that
// opens that stream alone without a password (for an <img> on another site); it is copied to the
// clipboard, or shown in a field to copy by hand where the clipboard is not available (plain
// HTTP on another host than localhost, or the browser refused).

const POLL_INTERVAL_MS = 1500;
const STATUS_TIMEOUT_MS = 3000;
// The server waits up to 5 s for a fresh frame before answering 503; leave it room.
const SNAPSHOT_TIMEOUT_MS = 10000;
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 10000;
// The server re-sends the newest frame after 1 s without one: longer silence means no signal.
const STALE_AFTER_MS = 3500;
// Tiles being resized (a window dragged wider) keep their size until it has settled this long.
const RESIZE_SETTLE_MS = 250;

const $ = (id) => document.getElementById(id);
const ui = {
  wall: $('wall'), empty: $('empty'), summary: $('summary'), connection: $('connection'),
  tileTemplate: $('tileTemplate'),
  single: $('single'), singleName: $('singleName'), singleBadge: $('singleBadge'),
  live: $('live'), viewer: $('viewer'), overlay: $('overlay'),
  snapshot: $('snapshot'), fullscreen: $('fullscreen'), message: $('message'),
  fps: $('fps'), resolution: $('resolution'), frameSize: $('frameSize'), frameAge: $('frameAge'),
  clients: $('clients'), frames: $('frames'), restarts: $('restarts'), uptime: $('uptime'),
  lastError: $('lastError'), errorWhen: $('errorWhen'), errorElement: $('errorElement'),
  errorMessage: $('errorMessage'), pipeline: $('pipeline'),
  embedTag: $('embedTag'), snapshotUrl: $('snapshotUrl'),
};

// ---- helpers -------------------------------------------------------------

// Only touch the DOM when the text changes: keeps a user's text selection alive.
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

const pad = (n) => String(n).padStart(2, '0');

function formatDuration(seconds) {
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${pad(m)} m`;
  if (m) return `${m} m ${pad(s % 60)} s`;
  return `${s} s`;
}

function formatAge(seconds) {
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  return formatDuration(seconds);
}

// Local time as YYYYmmdd-HHMMSS, for file names.
function fileStamp(date) {
  return `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}-` +
    `${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`;
}

const snapshotFileName = (name) => `${name}-${fileStamp(new Date())}.jpg`;
const streamPath = (name) => `/stream/${encodeURIComponent(name)}`;
const snapshotPath = (name) => `/snapshot/${encodeURIComponent(name)}`;

// Delay sequence 1 s, 2 s, 4 s … capped at 10 s; reset once something works again.
function createBackoff() {
  let delay = BACKOFF_MIN_MS;
  return {
    next() { const d = delay; delay = Math.min(delay * 2, BACKOFF_MAX_MS); return d; },
    reset() { delay = BACKOFF_MIN_MS; },
  };
}

// fetch() has no timeout of its own: a server that accepts but never answers would hang it.
async function fetchWithTimeout(url, timeoutMs) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    return await fetch(url, { cache: 'no-store', signal: controller.signal });
  } catch (err) {
    if (err.name === 'AbortError') throw new Error(`no answer within ${timeoutMs / 1000} s`);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

let messageTimer = null;
function showMessage(text, isError = false) {
  clearTimeout(messageTimer);
  ui.message.textContent = text;
  ui.message.classList.toggle('bad', isError);
  if (text) messageTimer = setTimeout(() => showMessage(''), isError ? 10000 : 4000);
}

// A 503 carries {"error", "state", "lastError"}: show the reason rather than a status code.
async function errorFrom(res) {
  try {
    const body = await res.json();
    const last = body.lastError && (body.lastError.message || body.lastError);
    return [body.error, typeof last === 'string' ? last : ''].filter(Boolean).join(' — ') || `HTTP ${res.status}`;
  } catch {
    return `HTTP ${res.status}`;
  }
}

function downloadBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  // Revoking at once can cancel the download in some browsers.
  setTimeout(() => URL.revokeObjectURL(url), 5000);
}

async function fetchSnapshot(name) {
  const res = await fetchWithTimeout(snapshotPath(name), SNAPSHOT_TIMEOUT_MS);
  if (!res.ok) throw new Error(await errorFrom(res));
  return res.blob();
}

// The `framing` passthrough: /?framing=length or #/view/NAME?framing=length.
function requestedFraming() {
  const hashQuery = location.hash.includes('?') ? location.hash.slice(location.hash.indexOf('?') + 1) : '';
  return new URLSearchParams(hashQuery).get('framing') || new URLSearchParams(location.search).get('framing');
}

// ---- shared state --------------------------------------------------------

const server = { down: false, lastUptime: 0, streams: [], links: false };
const tiles = new Map(); // name -> tile
let singleName = null;   // the stream of the single view, or null on the wall
let wallScrollY = 0;     // where the wall was scrolled to when the single view opened

// ---- status polling ------------------------------------------------------

const poll = { timer: null, inFlight: false, backoff: createBackoff() };

function schedulePoll(delayMs) {
  clearTimeout(poll.timer);
  // No polling while hidden: nobody looks, and the browser would throttle it anyway.
  poll.timer = document.hidden ? null : setTimeout(pollStreams, delayMs);
}

async function pollStreams() {
  poll.timer = null;
  poll.inFlight = true;
  let delay = POLL_INTERVAL_MS;
  try {
    const res = await fetchWithTimeout('/api/streams', STATUS_TIMEOUT_MS);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const body = await res.json();
    const streams = Array.isArray(body.streams) ? body.streams : [];
    // Back after an outage, or restarted between two polls (uptime went down): reconnect at
    // once rather than when the back-off says so; an MJPEG <img> may hold a dead connection.
    const uptime = Math.max(0, ...streams.map((s) => s.uptimeSeconds || 0));
    const recovered = server.down || uptime < server.lastUptime;
    server.down = false;
    server.lastUptime = uptime;
    server.streams = streams;
    server.links = body.links === true;
    poll.backoff.reset();
    syncTiles(streams);
    if (recovered && !document.hidden) {
      socket.backoff.reset();
      if (!socket.ws) connectSocket(); // now, not when the back-off timer says so
      if (singleName) { single.backoff.reset(); startSingle(); }
    }
  } catch {
    // The server is gone (or not answering): say so and retry less and less often.
    server.down = true;
    delay = poll.backoff.next();
  } finally {
    poll.inFlight = false;
    renderAll();
    schedulePoll(delay);
  }
}

// ---- WebSocket: the wall's frames ----------------------------------------

const socket = { ws: null, open: false, retryTimer: null, backoff: createBackoff(), sent: null };
const utf8 = new TextDecoder();

function connectSocket() {
  clearTimeout(socket.retryTimer);
  socket.retryTimer = null;
  if (socket.ws || document.hidden) return;
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
  ws.binaryType = 'arraybuffer';
  socket.ws = ws;
  socket.sent = null;
  ws.onopen = () => {
    socket.open = true;
    socket.backoff.reset();
    for (const tile of tiles.values()) tile.lastFrameAt = performance.now(); // grace period
    sendWanted();
    renderAll();
  };
  ws.onmessage = (event) => {
    if (typeof event.data === 'string') { onSocketText(event.data); return; }
    const frame = parseFrame(event.data);
    const tile = frame && tiles.get(streamOf(frame.name));
    if (tile && tile.wanted && takesFrame(tile, frame)) showFrame(tile, frame);
  };
  ws.onclose = () => {
    if (socket.ws !== ws) return;
    socket.ws = null;
    socket.open = false;
    renderAll();
    if (!document.hidden) socket.retryTimer = setTimeout(connectSocket, socket.backoff.next());
  };
  // onerror is always followed by onclose.
}

// Read from the end: [JPEG][ignored][name][u8 nameLength][f64 BE capturedAt][u32 BE jpegLength].
function parseFrame(buffer) {
  const n = buffer.byteLength;
  if (n < 13) return null;
  const view = new DataView(buffer);
  const jpegLength = view.getUint32(n - 4);
  const capturedAt = view.getFloat64(n - 12);
  const nameLength = view.getUint8(n - 13);
  const nameStart = n - 13 - nameLength;
  if (nameStart < 0 || jpegLength > nameStart) return null;
  const name = utf8.decode(new Uint8Array(buffer, nameStart, nameLength));
  return { name, capturedAt, jpeg: new Uint8Array(buffer, 0, jpegLength) };
}

// A frame's stream name is NAME, or NAME@WxHqQ for a rendition of NAME.
const streamOf = (name) => (name.includes('@') ? name.slice(0, name.indexOf('@')) : name);
// The width in a rendition's name; 0 for the stream itself.
const renditionWidth = (name) => Number((/@(\d+)x/.exec(name) || [])[1] || 0);
// The server rounds a rendition's width so; the page does too, to know when a size changes.
const snap16 = (px) => Math.max(16, Math.round(px / 16) * 16);

// What a tile asks for: its stream at the width its picture is drawn at, in device pixels, or
// the stream itself (its name) when that is not smaller. A stream whose size is not known yet
// (it never played) is asked at the tile's width: the server answers with the stream itself when
// that is not smaller, so a cold wall never starts at full size.
function tileRequest(tile) {
  const { width, height } = tile.info;
  const box = tile.img.getBoundingClientRect();
  if (!box.width || !box.height) return tile.name;
  const dpr = window.devicePixelRatio || 1;
  if (!width || !height) return { name: tile.name, width: snap16(box.width * dpr) };
  // object-fit: contain — a source taller than the tile is drawn narrower than the tile.
  const drawn = Math.min(box.width, (box.height * width) / height);
  const asked = snap16(drawn * dpr);
  return asked < width ? { name: tile.name, width: asked } : tile.name;
}

// The tiles on screen and what each asks for, unless the tab is hidden or the single view covers
// them. While tiles are being resized, each keeps the size it asked for last.
function wantedStreams() {
  if (document.hidden || singleName) return [];
  return [...tiles.values()].filter((t) => t.visible)
    .map((t) => (resizeTimer && t.request ? t.request : tileRequest(t)));
}

let wantedTimer = null;
function updateWanted() {
  // Coalesce the burst of IntersectionObserver callbacks of one scroll into one message.
  if (wantedTimer) return;
  wantedTimer = setTimeout(() => { wantedTimer = null; sendWanted(); }, 50);
}

// Tiles resize in bursts (a window dragged wider, zoom): ask again once the size has settled.
let resizeTimer = null;
function onTilesResized() {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => { resizeTimer = null; sendWanted(); }, RESIZE_SETTLE_MS);
}

function sendWanted() {
  const entries = wantedStreams();
  const requests = new Map(entries.map((e) => [typeof e === 'string' ? e : e.name, e]));
  const now = performance.now();
  for (const tile of tiles.values()) {
    const request = requests.get(tile.name);
    const wanted = request !== undefined;
    if (wanted) {
      const width = typeof request === 'string' ? 0 : request.width;
      // A new subscription or another size: a grace period before "no signal", and frames of the
      // previous size still shown until the new size's first one.
      if (!tile.wanted || width !== tile.askedWidth) {
        tile.lastFrameAt = now;
        tile.askedWidth = width;
        tile.settled = false;
        tile.refusal = null;
      }
      tile.request = request;
    }
    tile.wanted = wanted;
  }
  if (!socket.open) return;
  const message = JSON.stringify({ streams: entries });
  if (message === socket.sent) return;
  socket.ws.send(message);
  socket.sent = message;
}

// Until the size a tile asked for sends its first frame, the tile shows the frames it gets (the
// previous size's, or the full stream the server sends when it refuses a rendition); after it,
// only that size's (a late frame of the previous size would flash the old picture).
function takesFrame(tile, frame) {
  if (renditionWidth(frame.name) === tile.askedWidth) tile.settled = true;
  else if (tile.settled) return false;
  return true;
}

// Text from the server: errors about the subscription. A refused rendition (the stream has as
// many renditions as it may) is served at full size meanwhile; the tile notes why. A stream that
// ended (a reload removed it) is forgotten by the server: the next list of streams decides, and
// the subscription is sent again even if it reads the same (the stream may be back by then).
function onSocketText(text) {
  let reply;
  try { reply = JSON.parse(text); } catch { return; }
  if (reply && Array.isArray(reply.ended) && reply.ended.length > 0) {
    socket.sent = null;
    schedulePoll(0);
  }
  for (const [name, reason] of Object.entries((reply && reply.refused) || {})) {
    const tile = tiles.get(streamOf(name));
    if (tile) tile.refusal = reason;
  }
}

// Each frame becomes a blob: URL, decoded aside and only then put in the tile's <img>: a decoded
// picture replaces the previous one at once, where an undecoded one would leave the <img> empty
// until it decodes (Chromium). One frame decodes at a time; of those that arrive meanwhile only
// the newest waits, so a tile shows frames however fast they come.
function showFrame(tile, frame) {
  tile.lastFrameAt = performance.now();
  const blob = new Blob([frame.jpeg], { type: 'image/jpeg' });
  if (tile.pending) URL.revokeObjectURL(tile.pending.url); // never shown: a newer frame came first
  tile.pending = { url: URL.createObjectURL(blob), blob, name: frame.name, capturedAt: frame.capturedAt };
  if (!tile.decoding) decodeFrames(tile);
}

// An <img> of `url` once decoded; its naturalWidth is 0 if it is not a picture or the URL was
// revoked meanwhile. Where decode() is missing or fails spuriously (older Safari), once loaded.
async function decodedPicture(url) {
  const picture = new Image();
  picture.src = url;
  try {
    await picture.decode();
  } catch {
    if (!picture.complete) await new Promise((done) => { picture.onload = picture.onerror = done; });
  }
  return picture;
}

async function decodeFrames(tile) {
  while (tile.pending && tiles.get(tile.name) === tile) {
    const frame = tile.pending;
    tile.pending = null;
    tile.decoding = frame;
    const picture = await decodedPicture(frame.url);
    tile.decoding = null;
    if (!picture.naturalWidth || tiles.get(tile.name) !== tile) {
      URL.revokeObjectURL(frame.url);
      continue;
    }
    tile.img.src = frame.url;
    if (tile.shown) URL.revokeObjectURL(tile.shown.url);
    tile.shown = frame;
    const { dataset } = tile.img;
    dataset.capturedAt = String(frame.capturedAt);
    dataset.frameWidth = String(picture.naturalWidth);
    dataset.frameHeight = String(picture.naturalHeight);
    dataset.rendition = frame.name;
    if (frame.name.includes('@')) tile.refusal = null;
    if (tile.status !== 'live') renderTile(tile);
  }
}

// ---- tiles ---------------------------------------------------------------

const observer = 'IntersectionObserver' in window
  ? new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const tile = tiles.get(entry.target.dataset.stream);
      if (tile) tile.visible = entry.isIntersecting;
    }
    updateWanted();
  }, { rootMargin: '100px' })
  : null;

// A tile's size follows the window's (the grid's columns stretch): its rendition follows it.
const resizeObserver = 'ResizeObserver' in window ? new ResizeObserver(onTilesResized) : null;
if (!resizeObserver) window.addEventListener('resize', onTilesResized);

// Device pixels per CSS pixel change too (the window moved to another screen): no CSS size
// changes then, so watch the ratio itself.
function watchPixelRatio() {
  const query = window.matchMedia && matchMedia(`(resolution: ${window.devicePixelRatio || 1}dppx)`);
  if (!query || !query.addEventListener) return; // Safari before 14: no change events to watch
  query.addEventListener('change', () => { onTilesResized(); watchPixelRatio(); }, { once: true });
}

function createTile(info) {
  const el = ui.tileTemplate.content.firstElementChild.cloneNode(true);
  const q = (selector) => el.querySelector(selector);
  const tile = {
    name: info.name, info, el, img: q('.frame'), overlay: q('.tile-overlay'), badge: q('.badge'),
    res: q('.res'), fps: q('.fps'), clients: q('.clients'), embedBox: q('.embed-box'),
    linkBox: q('.embed-link'), linkField: q('.link-field'),
    visible: !observer, wanted: false, lastFrameAt: 0, status: null,
    // The frames: waiting to be decoded (the newest that came), being decoded, in the <img>.
    pending: null, decoding: null, shown: null,
    // What the tile last asked for (NAME or {name, width}), that width (0: the full stream),
    // whether a frame of that width has come since, and why the server refused it, if it did.
    request: null, askedWidth: 0, settled: false, refusal: null,
  };
  el.dataset.stream = info.name;
  q('.pic').href = `#/view/${encodeURIComponent(info.name)}`;
  q('.pic').title = `Open ${info.name}`;
  q('.name').textContent = info.name;
  tile.img.alt = `${info.name} live`;
  q('.embed-tag').textContent = `<img src="${location.origin}${streamPath(info.name)}">`;
  q('.embed-snapshot').textContent = `${location.origin}${snapshotPath(info.name)}`;
  const embedButton = q('.tile-embed');
  embedButton.addEventListener('click', () => {
    tile.embedBox.hidden = !tile.embedBox.hidden;
    embedButton.setAttribute('aria-expanded', String(!tile.embedBox.hidden));
  });
  const copyButton = q('.copy-link');
  copyButton.addEventListener('click', () => copyEmbedLink(tile, copyButton));
  tile.linkField.addEventListener('focus', () => tile.linkField.select());
  const snapButton = q('.tile-snapshot');
  snapButton.addEventListener('click', () => tileSnapshot(tile, snapButton));
  if (observer) observer.observe(el);
  if (resizeObserver) resizeObserver.observe(tile.img);
  return tile;
}

function removeTile(tile) {
  if (observer) observer.unobserve(tile.el);
  if (resizeObserver) resizeObserver.unobserve(tile.img);
  tile.el.remove();
  tile.img.src = '';
  for (const frame of [tile.pending, tile.decoding, tile.shown]) if (frame) URL.revokeObjectURL(frame.url);
  tile.pending = tile.decoding = tile.shown = null;
  tiles.delete(tile.name);
}

// Adds, removes and orders tiles to match the server's list.
function syncTiles(streams) {
  const names = new Set(streams.map((s) => s.name));
  for (const tile of [...tiles.values()]) if (!names.has(tile.name)) removeTile(tile);
  let previous = null;
  for (const info of streams) {
    let tile = tiles.get(info.name);
    if (!tile) {
      tile = createTile(info);
      tiles.set(info.name, tile);
    }
    tile.info = info;
    const expected = previous ? previous.el.nextElementSibling : ui.wall.firstElementChild;
    if (expected !== tile.el) {
      if (previous) previous.el.after(tile.el); else ui.wall.prepend(tile.el);
    }
    previous = tile;
  }
  ui.empty.hidden = streams.length > 0 || server.down;
  updateWanted();
}

// What a tile's badge says: live, idle, starting, restarting, no signal or reconnecting.
function tileStatus(tile) {
  if (server.down || (!socket.open && !document.hidden && !singleName)) return 'reconnecting';
  const state = tile.info.state;
  const fresh = tile.wanted && performance.now() - tile.lastFrameAt < STALE_AFTER_MS;
  if (state === 'error') return 'no signal';
  if (state === 'restarting') return 'restarting';
  if (tile.wanted && tile.shown && fresh) return 'live';
  if (tile.wanted && !fresh) return state === 'starting' ? 'starting' : 'no signal';
  return { playing: 'live', idle: 'idle', starting: 'starting' }[state] || state || '–';
}

const OVERLAY_TEXT = {
  reconnecting: 'reconnecting…', restarting: 'reconnecting…', 'no signal': 'no signal — reconnecting…',
  starting: 'starting…',
};

function renderTile(tile) {
  tile.linkBox.hidden = !server.links;
  const status = tileStatus(tile);
  tile.status = status;
  tile.el.dataset.status = status;
  tile.badge.dataset.state = status;
  setText(tile.badge, status);
  const overlay = OVERLAY_TEXT[status] || '';
  setText(tile.overlay, overlay);
  tile.overlay.hidden = !overlay;
  const i = tile.info;
  setText(tile.res, i.width && i.height ? `${i.width}×${i.height}` : '–');
  const resTitle = tile.refusal ? `shown at full size: ${tile.refusal}` : '';
  if (tile.res.title !== resTitle) tile.res.title = resTitle;
  setText(tile.fps, `${Number(i.fps || 0).toFixed(1)} fps`);
  setText(tile.clients, `${i.clients ?? 0} client${i.clients === 1 ? '' : 's'}`);
}

function renderAll() {
  for (const tile of tiles.values()) renderTile(tile);
  const live = [...tiles.values()].filter((t) => t.info.state === 'playing').length;
  setText(ui.summary, server.down ? '' : `· ${tiles.size} stream${tiles.size === 1 ? '' : 's'}, ${live} playing`);
  const state = server.down ? 'reconnecting' : socket.open || singleName || document.hidden ? 'playing' : 'reconnecting';
  ui.connection.dataset.state = state;
  setText(ui.connection, state === 'playing' ? 'connected' : 'reconnecting');
  ui.empty.hidden = tiles.size > 0 || server.down;
  if (singleName) renderSingle();
}

async function tileSnapshot(tile, button) {
  button.disabled = true;
  try {
    // The frame the tile shows when it is full size; else the server's newest, full size.
    const full = tile.shown && !tile.shown.name.includes('@');
    const blob = full ? tile.shown.blob : await fetchSnapshot(tile.name);
    downloadBlob(blob, snapshotFileName(tile.name));
  } catch (err) {
    setText(tile.overlay, `snapshot failed: ${err.message}`);
    tile.overlay.hidden = false;
  } finally {
    button.disabled = false;
  }
}

// A signed link to the tile's stream: made by the server (the page never sees the key), then
// copied. Absolute on this page's origin: the address the viewer reached the server by (behind
// a proxy, the server's own Host may differ).
async function copyEmbedLink(tile, button) {
  button.disabled = true;
  const label = 'copy embed link';
  try {
    const query = new URLSearchParams({ stream: tile.name, ttl: '7d', scope: 'stream' });
    const res = await fetch(`/api/links?${query}`, { method: 'POST', cache: 'no-store' });
    if (!res.ok) throw new Error(await errorFrom(res));
    const body = await res.json();
    const url = `${location.origin}${body.path}`;
    let copied = false;
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(url);
        copied = true;
      } catch {
        copied = false; // refused (no permission, page not focused): show it instead
      }
    }
    tile.linkField.value = url;
    tile.linkField.title = `valid until ${new Date(body.expires).toLocaleString()}`;
    tile.linkField.hidden = copied;
    if (copied) {
      button.textContent = 'copied ✓';
      setTimeout(() => { button.textContent = label; }, 2000);
    } else {
      tile.linkField.focus();
    }
  } catch (err) {
    tile.linkField.value = `no link: ${err.message}`;
    tile.linkField.hidden = false;
  } finally {
    button.disabled = false;
  }
}

// ---- single view ---------------------------------------------------------

const single = { wanted: false, retryTimer: null, backoff: createBackoff() };

// A fresh query string makes the browser open a new connection instead of reusing a dead one.
function startSingle() {
  clearTimeout(single.retryTimer);
  single.retryTimer = null;
  if (!singleName || document.hidden) return;
  single.wanted = true;
  const params = new URLSearchParams({ t: String(Date.now()) });
  const framing = requestedFraming();
  if (framing) params.set('framing', framing);
  ui.live.dataset.stream = singleName;
  ui.live.src = `${streamPath(singleName)}?${params}`;
}

function stopSingle() {
  clearTimeout(single.retryTimer);
  single.retryTimer = null;
  single.wanted = false; // src = '' fires an error event; it must not schedule a retry
  ui.live.src = '';
}

function onSingleError() {
  if (!single.wanted || single.retryTimer) return;
  ui.viewer.classList.add('offline');
  single.retryTimer = setTimeout(startSingle, single.backoff.next());
}

function onSingleLoad() {
  single.backoff.reset();
  ui.viewer.classList.remove('offline');
}

function renderSingle() {
  const s = server.streams.find((x) => x.name === singleName);
  const state = server.down ? 'reconnecting' : s ? s.state : 'unknown';
  const label = { playing: 'live', error: 'no signal' }[state] || state;
  ui.singleBadge.dataset.state = state === 'error' ? 'no signal' : state === 'playing' ? 'live' : state;
  setText(ui.singleBadge, label);
  // Not every browser fires 'load' for a multipart image: the overlay follows the server too.
  const offline = server.down || single.retryTimer !== null || state === 'restarting' || state === 'error';
  ui.viewer.classList.toggle('offline', offline);
  if (!s) return;
  setText(ui.fps, Number(s.fps || 0).toFixed(1));
  setText(ui.resolution, s.width && s.height ? `${s.width}×${s.height}` : '–');
  setText(ui.frameSize, s.lastFrameBytes != null ? `${(s.lastFrameBytes / 1024).toFixed(1)} KB` : '–');
  setText(ui.frameAge, s.lastFrameAgeSeconds != null ? formatAge(s.lastFrameAgeSeconds) : '–');
  setText(ui.clients, String(s.clients ?? '–'));
  setText(ui.frames, Number(s.framesPublished || 0).toLocaleString());
  setText(ui.restarts, String(s.restarts ?? '–'));
  setText(ui.uptime, formatDuration(s.uptimeSeconds || 0));
  setText(ui.pipeline, s.pipeline || '–');
  const e = s.lastError;
  ui.lastError.hidden = !e;
  if (e) {
    setText(ui.errorWhen, e.at ? `at ${new Date(e.at * 1000).toLocaleTimeString()}` : '');
    setText(ui.errorElement, e.element || '');
    setText(ui.errorMessage, e.message || '');
    ui.errorMessage.title = e.debug || ''; // the long GStreamer debug text, on hover
  }
}

function openSingle(name) {
  if (singleName === name) return;
  if (singleName) stopSingle();
  else wallScrollY = window.scrollY;
  singleName = name;
  ui.single.hidden = false;
  ui.wall.hidden = true;
  setText(ui.singleName, name);
  setText(ui.embedTag, `<img src="${location.origin}${streamPath(name)}">`);
  setText(ui.snapshotUrl, `${location.origin}${snapshotPath(name)}`);
  document.title = `${name} · Framecast`;
  single.backoff.reset();
  startSingle();
  sendWanted(); // the wall's tiles are covered: stop their frames
  renderAll();
  window.scrollTo(0, 0);
}

function closeSingle() {
  if (!singleName) return;
  stopSingle();
  if (fullscreenElement()) (document.exitFullscreen || document.webkitExitFullscreen).call(document);
  singleName = null;
  ui.single.hidden = true;
  ui.wall.hidden = false;
  document.title = 'Framecast';
  window.scrollTo(0, wallScrollY);
  sendWanted();
  renderAll();
}

async function takeSnapshot() {
  const name = singleName;
  if (!name) return;
  ui.snapshot.disabled = true;
  showMessage('Taking snapshot…');
  try {
    const blob = await fetchSnapshot(name);
    const filename = snapshotFileName(name);
    downloadBlob(blob, filename);
    showMessage(`Saved ${filename}`);
  } catch (err) {
    showMessage(`Snapshot failed: ${err.message}`, true);
  } finally {
    ui.snapshot.disabled = false;
  }
}

// ---- fullscreen ----------------------------------------------------------

const fullscreenElement = () => document.fullscreenElement || document.webkitFullscreenElement;

function toggleFullscreen() {
  const el = ui.viewer;
  const exit = document.exitFullscreen || document.webkitExitFullscreen;
  const enter = el.requestFullscreen || el.webkitRequestFullscreen;
  const result = fullscreenElement() ? exit.call(document) : enter.call(el);
  // Promise-based in current browsers; a refusal would otherwise be an uncaught rejection.
  if (result && result.catch) result.catch((err) => showMessage(`Fullscreen refused: ${err.message}`, true));
}

function updateFullscreenButton() {
  ui.fullscreen.textContent = fullscreenElement() ? 'Exit fullscreen' : 'Fullscreen';
}

// ---- routing and wiring --------------------------------------------------

function route() {
  const match = /^#\/view\/([^?]+)/.exec(location.hash);
  if (match) openSingle(decodeURIComponent(match[1]));
  else closeSingle();
}

function onVisibilityChange() {
  if (document.hidden) {
    stopSingle();
    sendWanted(); // [] : no frames for a hidden tab
    clearTimeout(poll.timer);
    poll.timer = null;
  } else {
    single.backoff.reset();
    startSingle();
    socket.backoff.reset();
    if (socket.ws) sendWanted(); else connectSocket();
    if (!poll.inFlight) schedulePoll(0);
  }
  renderAll();
}

function init() {
  ui.live.addEventListener('error', onSingleError);
  ui.live.addEventListener('load', onSingleLoad);
  ui.snapshot.addEventListener('click', takeSnapshot);

  // iPhone Safari cannot put anything but <video> in fullscreen: hide the button there.
  const canFullscreen = document.fullscreenEnabled || document.webkitFullscreenEnabled;
  ui.fullscreen.hidden = !canFullscreen;
  if (canFullscreen) {
    ui.fullscreen.addEventListener('click', toggleFullscreen);
    ui.live.addEventListener('dblclick', toggleFullscreen);
    document.addEventListener('fullscreenchange', updateFullscreenButton);
    document.addEventListener('webkitfullscreenchange', updateFullscreenButton);
  }
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && singleName && !fullscreenElement()) location.hash = '#/';
  });

  document.addEventListener('visibilitychange', onVisibilityChange);
  window.addEventListener('hashchange', route);
  // Stale tiles turn to "no signal" even when no poll or frame comes to re-render them.
  setInterval(() => { if (!document.hidden) renderAll(); }, 1000);

  watchPixelRatio();
  route();
  connectSocket();
  pollStreams();
}

window.framecast = {
  tiles,
  wanted: wantedStreams,
  socketState: () => (socket.open ? 'open' : socket.ws ? 'connecting' : 'closed'),
};

init();
