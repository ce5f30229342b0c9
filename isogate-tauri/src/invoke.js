// isogate-tauri invoke system: defines window.__TAURI_INTERNALS__.postMessage
// (what @tauri-apps/api's invoke, listen, emit and Channel end in) so that
// every call is sealed by the isolation frame and POSTed to the core, which
// opens and checks it before Tauri dispatches it. Runs in the UNTRUSTED main
// frame after isogate's shim: a convenience, not a security boundary. It
// never holds Tauri's invoke key (the core adds it after the gate).
// __ISOGATE_FRAME_URL__ and __ISOGATE_IPC_URL__ are filled in by the crate.
(function () {
  'use strict';
  var FRAME_URL = __ISOGATE_FRAME_URL__;
  var IPC_URL = __ISOGATE_IPC_URL__;
  // The reserved argument that carries what Tauri sends beside the payload
  // (headers; "raw" for an empty binary body): sealed like the arguments.
  var TAURI_KEY = '$tauri';
  var SERIALIZE_TO_IPC_FN = '__TAURI_TO_IPC_KEY__';
  var NO_REPLY = 'isogate: no reply';
  var gate = window.isogate;
  var nativeFetch = window.fetch.bind(window);
  var internals = window.__TAURI_INTERNALS__;
  var nextId = 1;

  // What Tauri's own serializer does with nested values (Map, bytes inside
  // JSON, Channel and other objects with a __TAURI_TO_IPC_KEY__ method).
  function replacer(_key, val) {
    if (val instanceof Map) return Object.fromEntries(val.entries());
    if (val instanceof Uint8Array) return Array.from(val);
    if (val instanceof ArrayBuffer) return Array.from(new Uint8Array(val));
    if (typeof val === 'object' && val !== null && SERIALIZE_TO_IPC_FN in val) {
      return val[SERIALIZE_TO_IPC_FN]();
    }
    return val;
  }

  function headersOf(options) {
    var out = null;
    if (options && options.headers) {
      new Headers(options.headers).forEach(function (value, name) {
        out = out || {};
        out[name] = value;
      });
    }
    return out;
  }

  // {cmd, callback, error, payload, options} -> {message, body}, or null.
  function toMessage(m) {
    var payload = m.payload;
    var args;
    var body = null;
    var extra = {};
    var hasExtra = false;
    if (payload instanceof ArrayBuffer) {
      body = new Uint8Array(payload);
    } else if (ArrayBuffer.isView(payload)) {
      body = new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
    } else if (Array.isArray(payload)) {
      body = Uint8Array.from(payload);
    }
    if (body !== null) {
      args = {};
      if (body.length === 0) { extra.raw = true; hasExtra = true; }
    } else if (payload === null || payload === undefined) {
      args = {};
    } else {
      args = JSON.parse(JSON.stringify(payload, replacer));
      if (args === null || typeof args !== 'object' || Array.isArray(args)) return null;
    }
    var headers = headersOf(m.options);
    if (headers !== null) { extra.headers = headers; hasExtra = true; }
    if (hasExtra) args[TAURI_KEY] = extra;
    return { message: { kind: 'invoke', id: nextId++, cmd: m.cmd, args: args }, body: body };
  }

  function run(id, data) {
    internals.runCallback(id, data);
  }

  function postMessage(m) {
    var callback = m.callback;
    var error = m.error;
    var sealed;
    try {
      sealed = toMessage(m);
    } catch (e) {
      sealed = null;
    }
    if (sealed === null) {
      Promise.resolve().then(function () { run(error, NO_REPLY); });
      return;
    }
    gate.seal(sealed.message, sealed.body)
      .then(function (envelope) {
        return nativeFetch(IPC_URL, { method: 'POST', body: envelope, cache: 'no-store' });
      })
      .then(function (response) {
        var result = response.headers.get('Isogate-Result');
        if (result !== 'ok' && result !== 'error') throw new Error(NO_REPLY);
        var target = result === 'ok' ? callback : error;
        var type = (response.headers.get('Content-Type') || '').split(',')[0];
        var data = type === 'application/json'
          ? response.json()
          : response.arrayBuffer();
        return data.then(function (d) { run(target, d); });
      })
      .catch(function () { run(error, NO_REPLY); });
  }

  Object.defineProperty(internals, 'postMessage', { value: postMessage });

  function start() {
    gate.init({
      frameUrl: FRAME_URL,
      send: function () { throw new Error(NO_REPLY); },
      container: document.body || document.documentElement
    });
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
