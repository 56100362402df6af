'use strict';

// Framecast page: live MJPEG view, status panel, snapshot download, embed hints.

const POLL_INTERVAL_MS = 1000;
const STATUS_TIMEOUT_MS = 3000;
// The server waits up to 5 s for a fresh frame before answering 503; leave it room.
const SNAPSHOT_TIMEOUT_MS = 10000;
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 10000;

const $ = (id) => document.getElementById(id);
const ui = {
  live: $('live'), viewer: $('viewer'), badge: $('badge'), name: $('name'),
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

// ---- live stream ---------------------------------------------------------
// An MJPEG <img> holds one HTTP connection for as long as it shows the stream, and browsers
// allow only 6 per host: release it while the page is hidden.

const stream = { wanted: true, retryTimer: null, backoff: createBackoff() };

function setOffline(offline) {
  ui.viewer.classList.toggle('offline', offline);
}

// A fresh query string makes the browser open a new connection instead of reusing a dead one.
function startStream() {
  clearTimeout(stream.retryTimer);
  stream.retryTimer = null;
  stream.wanted = true;
  ui.live.src = `/stream?t=${Date.now()}`;
}

function stopStream() {
  clearTimeout(stream.retryTimer);
  stream.retryTimer = null;
  stream.wanted = false; // src = '' fires an error event; it must not schedule a retry
  ui.live.src = '';
}

function onStreamError() {
  if (!stream.wanted || stream.retryTimer) return;
  setOffline(true);
  stream.retryTimer = setTimeout(startStream, stream.backoff.next());
}

function onStreamLoad() {
  stream.backoff.reset();
  setOffline(false);
}

// ---- status polling ------------------------------------------------------

const poll = { timer: null, inFlight: false, serverDown: false, lastUptime: 0, backoff: createBackoff() };
let streamName = 'main';

function setBadge(state) {
  ui.badge.dataset.state = state;
  setText(ui.badge, state);
}

function render(s) {
  streamName = s.name || streamName;
  setText(ui.name, s.name ? `· ${s.name}` : '');
  setBadge(s.state);
  setText(ui.fps, Number(s.fps).toFixed(1));
  setText(ui.resolution, s.width && s.height ? `${s.width}×${s.height}` : '–');
  setText(ui.frameSize, s.lastFrameBytes != null ? `${(s.lastFrameBytes / 1024).toFixed(1)} KB` : '–');
  setText(ui.frameAge, s.lastFrameAgeSeconds != null ? formatAge(s.lastFrameAgeSeconds) : '–');
  setText(ui.clients, String(s.clients));
  setText(ui.frames, Number(s.framesPublished).toLocaleString());
  setText(ui.restarts, String(s.restarts));
  setText(ui.uptime, formatDuration(s.uptimeSeconds));
  setText(ui.pipeline, s.pipeline || '–');

  const e = s.lastError;
  ui.lastError.hidden = !e;
  if (e) {
    setText(ui.errorWhen, e.at ? `at ${new Date(e.at * 1000).toLocaleTimeString()}` : '');
    setText(ui.errorElement, e.element || '');
    setText(ui.errorMessage, e.message);
    ui.errorMessage.title = e.debug || ''; // the long GStreamer debug text, on hover
  }
}

function schedulePoll(delayMs) {
  clearTimeout(poll.timer);
  // No polling while hidden: nobody looks, and the browser would throttle it anyway.
  poll.timer = document.hidden ? null : setTimeout(pollStatus, delayMs);
}

async function pollStatus() {
  poll.timer = null;
  poll.inFlight = true;
  let delay = POLL_INTERVAL_MS;
  try {
    const res = await fetchWithTimeout('/api/status', STATUS_TIMEOUT_MS);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const status = await res.json();
    // Back after an outage, or restarted between two polls (uptime went down): the
    // <img> may still hold a dead connection showing a frozen frame, so reopen it.
    const recovered = poll.serverDown || status.uptimeSeconds < poll.lastUptime;
    poll.serverDown = false;
    poll.lastUptime = status.uptimeSeconds;
    poll.backoff.reset();
    render(status);
    if (recovered && !document.hidden) {
      stream.backoff.reset();
      startStream();
    }
    // Not every browser fires 'load' for a multipart image: the overlay follows the server too.
    setOffline(stream.retryTimer !== null);
  } catch {
    // The server is gone (or not answering): say so and retry less and less often.
    poll.serverDown = true;
    setBadge('reconnecting');
    setOffline(true);
    delay = poll.backoff.next();
  } finally {
    poll.inFlight = false;
    schedulePoll(delay);
  }
}

// ---- snapshot ------------------------------------------------------------

// A 503 carries {"error", "state", "lastError"}: show the reason rather than a status code.
async function errorFrom(res) {
  try {
    const body = await res.json();
    return [body.error, body.lastError].filter(Boolean).join(' — ') || `HTTP ${res.status}`;
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

async function takeSnapshot() {
  ui.snapshot.disabled = true;
  showMessage('Taking snapshot…');
  try {
    const res = await fetchWithTimeout('/snapshot', SNAPSHOT_TIMEOUT_MS);
    if (!res.ok) throw new Error(await errorFrom(res));
    const filename = `${streamName}-${fileStamp(new Date())}.jpg`;
    downloadBlob(await res.blob(), filename);
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

// ---- wiring --------------------------------------------------------------

function onVisibilityChange() {
  if (document.hidden) {
    stopStream();
    clearTimeout(poll.timer);
    poll.timer = null;
  } else {
    stream.backoff.reset();
    startStream();
    if (!poll.inFlight) schedulePoll(0);
  }
}

function init() {
  ui.live.addEventListener('error', onStreamError);
  ui.live.addEventListener('load', onStreamLoad);
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

  document.addEventListener('visibilitychange', onVisibilityChange);

  setText(ui.embedTag, `<img src="${location.origin}/stream">`);
  setText(ui.snapshotUrl, `${location.origin}/snapshot`);

  if (document.hidden) {
    stopStream(); // opened in a background tab: do not hold a connection yet
  } else if (ui.live.complete && ui.live.naturalWidth === 0) {
    onStreamError(); // the first load failed before this script could listen
  }
  pollStatus();
}

init();
