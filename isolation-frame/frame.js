// isogate isolation frame script (wire format: docs/WIRE.md, version 1).
// Classic script, no dependencies. Runs inside <iframe sandbox="allow-scripts">;
// in Node it only exports its pure helpers for tests.
(function (root) {
  'use strict';

  var VERSION = 0x01;
  var MAX_WINDOW_LEN = 128;
  var MAX_ORIGIN_LEN = 1024;
  var MAX_NAME_LEN = 128;
  var NAME_RE = /^[A-Za-z0-9_\-.:|/]+$/;
  // Deep enough for any message the core accepts with a raised max_depth, low
  // enough to keep the recursive copy off the stack limit.
  var MAX_JSON_DEPTH = 512;
  var TAURI_EMIT_CMD = 'plugin:event|emit';
  var EMPTY = new Uint8Array(0);
  var utf8 = new TextEncoder();

  // Brand checks that work across realms (structured clone, vm contexts) and
  // cannot be spoofed by look-alike objects.
  var abByteLength = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength').get;
  var typedArrayTag = Object.getOwnPropertyDescriptor(
    Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag).get;

  function isArrayBuffer(v) {
    if (v === null || typeof v !== 'object') return false;
    try { abByteLength.call(v); return true; } catch (e) { return false; }
  }

  function isUint8Array(v) {
    return ArrayBuffer.isView(v) && typedArrayTag.call(v) === 'Uint8Array';
  }

  // null/undefined -> empty; ArrayBuffer or Uint8Array -> a private copy;
  // anything else -> null (invalid).
  function toBytes(b) {
    if (b === null || b === undefined) return EMPTY;
    if (isUint8Array(b)) return new Uint8Array(b);
    if (isArrayBuffer(b)) return new Uint8Array(b.slice(0));
    return null;
  }

  function isPlainObject(v) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
    if (Object.prototype.toString.call(v) !== '[object Object]') return false;
    var p = Object.getPrototypeOf(v);
    return p === null || Object.getPrototypeOf(p) === null;
  }

  // Returns a fresh copy made only of JSON values, or throws. The copy is what
  // gets serialized, so getters, toJSON and later mutation cannot change it.
  function copyJson(v, depth) {
    if (depth > MAX_JSON_DEPTH) throw new Error('too deep');
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return v;
      case 'number':
        if (!isFinite(v)) throw new Error('number');
        return v;
      case 'object':
        if (v === null) return null;
        if (Array.isArray(v)) {
          var a = [];
          for (var i = 0; i < v.length; i++) a.push(copyJson(v[i], depth + 1));
          return a;
        }
        if (!isPlainObject(v)) throw new Error('object');
        var o = {};
        var keys = Object.keys(v);
        for (var k = 0; k < keys.length; k++) {
          // defineProperty: a "__proto__" key stays an ordinary key.
          Object.defineProperty(o, keys[k], {
            value: copyJson(v[keys[k]], depth + 1),
            enumerable: true, writable: true, configurable: true
          });
        }
        return o;
      default:
        throw new Error('type');
    }
  }

  function isName(s) {
    return typeof s === 'string' && s.length >= 1 && s.length <= MAX_NAME_LEN && NAME_RE.test(s);
  }

  // Returns a fresh message with exactly the wire fields in wire order (extra
  // fields dropped), or null when the shape is invalid.
  function validateMessage(m) {
    try {
      if (!isPlainObject(m)) return null;
      if (m.kind === 'invoke') {
        if (!Number.isSafeInteger(m.id) || m.id < 0) return null;
        if (!isName(m.cmd)) return null;
        if (!isPlainObject(m.args)) return null;
        return { kind: 'invoke', id: m.id === 0 ? 0 : m.id, cmd: m.cmd, args: copyJson(m.args, 1) };
      }
      if (m.kind === 'emit') {
        if (!isName(m.event)) return null;
        if (!('payload' in m)) return null;
        return { kind: 'emit', event: m.event, payload: copyJson(m.payload, 1) };
      }
    } catch (e) { /* fall through */ }
    return null;
  }

  function encodeHeader(window, origin) {
    if (typeof window !== 'string' || typeof origin !== 'string') throw new TypeError('isogate: bad header');
    var w = utf8.encode(window);
    if (w.length < 1 || w.length > MAX_WINDOW_LEN) throw new RangeError('isogate: bad window label');
    if (origin.length < 1 || origin.length > MAX_ORIGIN_LEN || !/^[\x21-\x7e]+$/.test(origin)) {
      throw new RangeError('isogate: bad origin');
    }
    var o = utf8.encode(origin);
    var h = new Uint8Array(2 + w.length + 2 + o.length);
    h[0] = VERSION;
    h[1] = w.length;
    h.set(w, 2);
    h[2 + w.length] = o.length >>> 8;
    h[3 + w.length] = o.length & 0xff;
    h.set(o, 4 + w.length);
    return h;
  }

  function buildPlaintext(message, bodyBytes) {
    var m = validateMessage(message);
    if (m === null) throw new TypeError('isogate: invalid message');
    var body = toBytes(bodyBytes);
    if (body === null) throw new TypeError('isogate: invalid body');
    if (m.kind === 'emit' && body.length !== 0) throw new TypeError('isogate: emit has no body');
    var json = utf8.encode(JSON.stringify(m));
    var p = new Uint8Array(4 + json.length + body.length);
    new DataView(p.buffer).setUint32(0, json.length);
    p.set(json, 4);
    p.set(body, 4 + json.length);
    return p;
  }

  function makeNonce(load, seq) {
    if (!Number.isInteger(load) || load < 0 || load > 0xffffffff) throw new RangeError('isogate: bad load id');
    if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError('isogate: bad seq');
    var n = new Uint8Array(12);
    var dv = new DataView(n.buffer);
    dv.setUint32(0, load);
    dv.setUint32(4, Math.floor(seq / 0x100000000));
    dv.setUint32(8, seq >>> 0);
    return n;
  }

  function concat(a, b) {
    var out = new Uint8Array(a.length + b.length);
    out.set(a, 0);
    out.set(b, a.length);
    return out;
  }

  // header: the version..origin prefix from encodeHeader. The AAD is that
  // prefix followed by the nonce (WIRE.md's "header").
  function sealWithKey(cryptoKey, header, load, seq, message, bodyBytes) {
    try {
      var nonce = makeNonce(load, seq);
      var aad = concat(header, nonce);
      var plaintext = buildPlaintext(message, bodyBytes);
    } catch (e) {
      return Promise.reject(e);
    }
    return root.crypto.subtle.encrypt(
      { name: 'AES-GCM', iv: nonce, additionalData: aad, tagLength: 128 }, cryptoKey, plaintext
    ).then(function (ct) {
      return concat(aad, new Uint8Array(ct));
    });
  }

  // Resolves to a valid message, or null when the hook rejects it.
  function applyHook(hook, isTauri, message, ctx) {
    var m = validateMessage(message);
    if (m === null) return Promise.resolve(null);
    if (typeof hook !== 'function') return Promise.resolve(m);
    return new Promise(function (resolve) {
      if (!isTauri) {
        resolve(hook(m, { window: ctx.window, origin: ctx.origin }));
        return;
      }
      var payload = m.kind === 'invoke'
        ? { cmd: m.cmd, payload: m.args }
        : { cmd: TAURI_EMIT_CMD, payload: { event: m.event, payload: m.payload } };
      resolve(Promise.resolve(hook(payload)).then(function (r) {
        if (!isPlainObject(r)) return null;
        if (m.kind === 'invoke') return { kind: 'invoke', id: m.id, cmd: r.cmd, args: r.payload };
        if (r.cmd !== TAURI_EMIT_CMD || !isPlainObject(r.payload)) return null;
        return { kind: 'emit', event: r.payload.event, payload: r.payload.payload };
      }));
    }).then(function (r) {
      // null and undefined both reject; so does anything that is not a message.
      return r === null || r === undefined ? null : validateMessage(r);
    }, function () {
      return null;
    });
  }

  // The app hook to run for a message, looked up every time: the isogate
  // hook wins over a Tauri-style one; null when neither is a function.
  function findHook(win) {
    var hook = win.__ISOGATE_HOOK__;
    if (typeof hook === 'function') return { fn: hook, isTauri: false };
    hook = win.__TAURI_ISOLATION_HOOK__;
    if (typeof hook === 'function') return { fn: hook, isTauri: true };
    return null;
  }

  var B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

  function base64urlEncode(bytes) {
    var out = '';
    for (var i = 0; i < bytes.length; i += 3) {
      var n = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8) | (bytes[i + 2] || 0);
      var chars = Math.min(4, Math.ceil((bytes.length - i) * 4 / 3));
      for (var j = 0; j < chars; j++) out += B64[(n >>> (18 - 6 * j)) & 63];
    }
    return out;
  }

  // Accepts the URL-safe and standard alphabets, with or without '=' padding.
  function base64urlDecode(s) {
    if (typeof s !== 'string') throw new TypeError('isogate: base64');
    s = s.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
    if (s.length % 4 === 1 || !/^[A-Za-z0-9_-]*$/.test(s)) throw new TypeError('isogate: base64');
    var out = new Uint8Array(Math.floor(s.length * 3 / 4));
    var acc = 0, bits = 0, o = 0;
    for (var i = 0; i < s.length; i++) {
      acc = ((acc << 6) | B64.indexOf(s[i])) & 0xffffff;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out[o++] = (acc >>> bits) & 0xff;
      }
    }
    return out;
  }

  function start(win, doc) {
    var el = doc.getElementById('isogate-config');
    if (!el) return;
    var config = JSON.parse(el.textContent);
    el.textContent = '';
    if (el.parentNode) el.parentNode.removeChild(el);
    el = null;

    var keyText = config.key;
    config.key = null;
    var label = config.window;
    var origin = config.origin;
    var load = config.load;
    // Rendered with a hook: seal only through it, never without it.
    var hookRequired = config.hook === true;
    var header = encodeHeader(label, origin);
    makeNonce(load, 0); // validates load
    var raw = base64urlDecode(keyText);
    keyText = null;
    if (raw.length !== 32) { raw.fill(0); return; }

    var subtle = win.crypto.subtle;
    var parent = win.parent;
    var key = null;
    var seq = 0;

    function onMessage(event) {
      try {
        if (key === null || event.source !== parent || event.origin !== origin) return;
        var d = event.data;
        if (!isPlainObject(d) || d.isogate !== 1 || d.type !== 'seal') return;
        var ref = d.ref;
        if (typeof ref !== 'number' || !isFinite(ref)) return;
        var body = toBytes(d.body);
        var m = validateMessage(d.message);
        if (body === null || m === null) return;
        if (m.kind === 'emit' && !(d.body === null || d.body === undefined)) return;

        var hook = findHook(win);
        if (hook === null && hookRequired) return; // no hook: no seal
        var fn = hook === null ? null : hook.fn;
        var isTauri = hook !== null && hook.isTauri;
        applyHook(fn, isTauri, m, { window: label, origin: origin }).then(function (msg) {
          if (msg === null) return null;
          if (msg.kind === 'emit' && body.length !== 0) return null;
          if (!Number.isSafeInteger(seq)) return null;
          var s = seq++; // taken synchronously: concurrent seals never share a nonce
          return sealWithKey(key, header, load, s, msg, body);
        }).then(function (envelope) {
          if (envelope === null) return;
          var buf = envelope.buffer; // envelope is a fresh, exactly-sized array
          parent.postMessage({ isogate: 1, type: 'sealed', ref: ref, envelope: buf }, origin, [buf]);
        }).catch(function () { /* rejected: no reply, the caller times out */ });
      } catch (e) { /* ignore silently */ }
    }

    var imported;
    try {
      // importKey copies the bytes when called, so they can be wiped right away.
      imported = subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['encrypt']);
    } finally {
      raw.fill(0);
      raw = null;
    }
    // Ready once the key is imported and, for a frame rendered with a hook,
    // the hook is defined. Requests posted before that are not even received.
    function becomeReady() {
      var hookMissing = true;
      try { hookMissing = hookRequired && findHook(win) === null; } catch (e) { /* a throwing getter */ }
      if (hookMissing) return; // never ready: nothing is ever sealed
      win.addEventListener('message', onMessage);
      parent.postMessage({ isogate: 1, type: 'ready' }, origin);
    }

    imported.then(function (k) {
      key = k;
      // The hook script comes after this one: it has run (and had its one
      // chance to define the hook) once the document is parsed.
      if (hookRequired && doc.readyState === 'loading') {
        doc.addEventListener('DOMContentLoaded', becomeReady);
      } else {
        becomeReady();
      }
    }, function () { /* no key: never ready */ });
  }

  if (typeof module === 'object' && module && module.exports) {
    module.exports = {
      encodeHeader: encodeHeader,
      buildPlaintext: buildPlaintext,
      sealWithKey: sealWithKey,
      validateMessage: validateMessage,
      applyHook: applyHook,
      base64urlDecode: base64urlDecode,
      base64urlEncode: base64urlEncode
    };
  } else if (typeof root.document !== 'undefined') {
    try { start(root, root.document); } catch (e) { /* bad config: stay silent */ }
  }
})(typeof window !== 'undefined' ? window : globalThis);
