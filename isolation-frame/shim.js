// isogate main-frame shim: defines window.isogate (invoke/emit/listen).
// Runs in the UNTRUSTED main frame; it is a convenience, not a security
// boundary. Classic script, no dependencies; in Node it exports createClient.
(function (root) {
  'use strict';

  var TIMEOUT_MS = 5000;

  // Every failure looks the same to the caller (THREAT_MODEL.md, claim 10:
  // discards are silent, no reasons).
  function timeoutError() {
    return new Error('isogate: timeout');
  }

  function isBytes(v) {
    return v instanceof ArrayBuffer || v instanceof Uint8Array;
  }

  // Rejects with the generic error after ms unless p settles first.
  function withTimeout(timers, p, ms) {
    return new Promise(function (resolve, reject) {
      var t = timers.setTimeout(function () { reject(timeoutError()); }, ms);
      p.then(function (v) { timers.clearTimeout(t); resolve(v); },
        function () { timers.clearTimeout(t); reject(timeoutError()); });
    });
  }

  // The DOM-free core. postToFrame(msg) posts a request to the isolation
  // frame; send(envelope) is the host transport and resolves to a reply
  // object or null.
  function createClient(opts) {
    var postToFrame = opts.postToFrame;
    var transport = opts.send;
    var timers = {
      setTimeout: opts.setTimeout || setTimeout,
      clearTimeout: opts.clearTimeout || clearTimeout
    };
    var ready = false;
    var resolveReady;
    var readyPromise = new Promise(function (r) { resolveReady = r; });
    var nextRef = 1;
    var nextId = 1;
    var seals = new Map(); // ref -> {request, sent, resolve}
    var calls = new Map(); // id -> function(reply)
    var listeners = new Map(); // event -> Set(handler)

    function post(s) {
      s.sent = true;
      postToFrame(s.request);
    }

    function sealWithin(message, body, ms) {
      return new Promise(function (resolve, reject) {
        var ref = nextRef++;
        var timer = timers.setTimeout(function () {
          if (seals.delete(ref)) reject(timeoutError());
        }, ms);
        var s = {
          request: { isogate: 1, type: 'seal', ref: ref, message: message, body: body == null ? null : body },
          sent: false,
          resolve: function (envelope) { timers.clearTimeout(timer); resolve(envelope); }
        };
        seals.set(ref, s);
        if (ready) {
          try {
            post(s);
          } catch (e) {
            seals.delete(ref);
            timers.clearTimeout(timer);
            reject(timeoutError());
          }
        }
      });
    }

    function seal(message, body) {
      return sealWithin(message, body, TIMEOUT_MS);
    }

    function send(envelope) {
      return Promise.resolve().then(function () { return transport(envelope); });
    }

    // Called with event.data of messages that passed the source/origin check.
    function handleFrameMessage(data) {
      if (data === null || typeof data !== 'object' || data.isogate !== 1) return;
      if (data.type === 'ready') {
        ready = true;
        seals.forEach(function (s) {
          if (!s.sent) { try { post(s); } catch (e) { /* seal timer rejects */ } }
        });
        resolveReady();
      } else if (data.type === 'sealed' && data.envelope instanceof ArrayBuffer) {
        var s = seals.get(data.ref);
        if (!s) return;
        seals.delete(data.ref);
        s.resolve(new Uint8Array(data.envelope));
      }
    }

    function invoke(cmd, args, options) {
      if (args === undefined) args = {};
      var timeout = options && options.timeout !== undefined ? options.timeout : TIMEOUT_MS;
      var body = null;
      if (isBytes(args)) {
        body = args instanceof Uint8Array ? args : new Uint8Array(args);
        args = {};
      }
      var id = nextId++;
      return new Promise(function (resolve, reject) {
        var done = false;
        function finish(fn, v) {
          if (done) return;
          done = true;
          timers.clearTimeout(timer);
          calls.delete(id);
          fn(v);
        }
        function fail() { finish(reject, timeoutError()); }
        function onReply(reply) {
          if (reply.ok === true) finish(resolve, reply.result);
          else if (reply.ok === false) finish(reject, reply.error);
        }
        var timer = timers.setTimeout(fail, timeout);
        // Registered before sending so an async delivery can never be missed.
        calls.set(id, onReply);
        sealWithin({ kind: 'invoke', id: id, cmd: cmd, args: args }, body, timeout)
          .then(send)
          .then(function (reply) {
            if (reply && typeof reply === 'object' && reply.id === id) onReply(reply);
            // otherwise wait for deliver() until the timeout
          })
          .catch(fail);
      });
    }

    function emit(event, payload) {
      var p = sealWithin({ kind: 'emit', event: event, payload: payload }, null, TIMEOUT_MS)
        .then(send)
        .then(function () { return undefined; });
      return withTimeout(timers, p, TIMEOUT_MS);
    }

    function deliver(reply) {
      if (reply === null || typeof reply !== 'object') return;
      var cb = calls.get(reply.id);
      if (cb) cb(reply);
    }

    function listen(event, handler) {
      if (typeof handler !== 'function') throw new TypeError('isogate: handler must be a function');
      var set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      set.add(handler);
      return function unlisten() {
        set.delete(handler);
        if (set.size === 0 && listeners.get(event) === set) listeners.delete(event);
      };
    }

    function deliverEvent(msg) {
      if (msg === null || typeof msg !== 'object') return;
      var set = listeners.get(msg.event);
      if (!set) return;
      Array.from(set).forEach(function (h) {
        try {
          h(msg.payload);
        } catch (e) {
          if (typeof reportError === 'function') reportError(e);
        }
      });
    }

    return {
      ready: readyPromise,
      handleFrameMessage: handleFrameMessage,
      seal: seal,
      send: send,
      invoke: invoke,
      emit: emit,
      deliver: deliver,
      listen: listen,
      deliverEvent: deliverEvent
    };
  }

  // The browser wrapper: the client exists from the start, so calls made
  // before init() are queued (and time out if init never happens).
  function createIsogate(win) {
    var iframe = null;
    var transport = null;
    var client = createClient({
      postToFrame: function (msg) {
        // '*' is unavoidable: the sandboxed frame's origin is opaque ("null").
        // The request is not secret; it is the caller's own message.
        iframe.contentWindow.postMessage(msg, '*');
      },
      send: function (envelope) {
        if (!transport) throw timeoutError();
        return transport(envelope);
      },
      setTimeout: function (f, ms) { return win.setTimeout(f, ms); },
      clearTimeout: function (t) { win.clearTimeout(t); }
    });

    function init(opts) {
      if (iframe) return client.ready;
      transport = opts.send;
      var doc = win.document;
      iframe = doc.createElement('iframe');
      iframe.setAttribute('sandbox', 'allow-scripts');
      // `hidden`, not a style attribute: a strict page CSP blocks inline styles.
      iframe.hidden = true;
      iframe.src = opts.frameUrl;
      win.addEventListener('message', function (event) {
        if (event.source !== iframe.contentWindow || event.origin !== 'null') return;
        client.handleFrameMessage(event.data);
      });
      (opts.container || doc.body).appendChild(iframe);
      return client.ready;
    }

    return {
      init: init,
      seal: client.seal,
      send: client.send,
      invoke: client.invoke,
      emit: client.emit,
      deliver: client.deliver,
      listen: client.listen,
      deliverEvent: client.deliverEvent
    };
  }

  if (typeof module === 'object' && module && module.exports) {
    module.exports = { createClient: createClient, createIsogate: createIsogate };
  }
  if (typeof root.document !== 'undefined') {
    root.isogate = createIsogate(root);
  }
})(typeof window !== 'undefined' ? window : globalThis);
