// Demo page logic. This runs in the untrusted main frame: it can do anything
// an attacker's script could, which is what the attack buttons show.
'use strict';
(function () {
  var params = new URLSearchParams(location.search);
  var windowLabel = params.get('window') || 'main';
  document.getElementById('window-label').textContent = windowLabel;

  function show(list, text, cls) {
    var li = document.createElement('li');
    li.textContent = text;
    if (cls) li.className = cls;
    document.getElementById(list).prepend(li);
  }

  function send(envelope) {
    return fetch('/ipc?window=' + encodeURIComponent(windowLabel), { method: 'POST', body: envelope })
      .then(function (r) {
        // Only a debug build started with --debug-reasons sets this header.
        var why = r.headers.get('x-isogate-debug');
        if (why) console.warn(why);
        return r.status === 200 ? r.json() : null;
      });
  }

  // Tests and the attack buttons use these; the page is untrusted anyway.
  window.demo = {
    window: windowLabel,
    send: send,
    toBase64: function (bytes) {
      var s = '';
      for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
      return btoa(s);
    },
    fromBase64: function (text) {
      var s = atob(text), out = new Uint8Array(s.length);
      for (var i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
      return out;
    },
    ready: false,
    // Core events this page received, oldest first (the last 100).
    received: [],
  };

  function call(label, promise) {
    return promise.then(
      function (v) { show('results', label + ' → reply ' + JSON.stringify(v)); return v; },
      function (e) { show('results', label + ' → rejected: ' + (e && e.message ? e.message : JSON.stringify(e))); }
    );
  }

  function greetEnvelope() {
    return isogate.seal({ kind: 'invoke', id: 900000 + Math.floor(Math.random() * 1000), cmd: 'greet', args: { name: 'Mallory' } });
  }

  var actions = {
    'btn-greet': function () { return call('greet', isogate.invoke('greet', { name: document.getElementById('name').value })); },
    'btn-add': function () { return call('add', isogate.invoke('add', { a: 2, b: 40 })); },
    'btn-event': function () { return call('emit clicked', isogate.emit('clicked', { button: 'demo' })); },
    'btn-picked': function () { return call('read_note picked file', isogate.invoke('read_note', { path: '/home/user/picked.txt' }, { timeout: 1500 })); },
    'btn-denied': function () { return call('delete_everything', isogate.invoke('delete_everything', {}, { timeout: 1500 })); },
    'btn-badargs': function () { return call('read_note ../etc/passwd', isogate.invoke('read_note', { path: '/notes/../etc/passwd' }, { timeout: 1500 })); },
    'btn-tamper': function () {
      return greetEnvelope().then(function (env) {
        env[env.length - 20] ^= 1; // flip one ciphertext bit
        return call('tampered envelope', send(env));
      });
    },
    'btn-replay': function () {
      return greetEnvelope().then(function (env) {
        return call('envelope, first time', send(env)).then(function () {
          return call('same envelope again', send(env));
        });
      });
    },
    'btn-raw': function () {
      var raw = JSON.stringify({ kind: 'invoke', id: 1, cmd: 'greet', args: { name: 'raw' } });
      return call('raw unsealed request', send(new TextEncoder().encode(raw)));
    },
  };
  Object.keys(actions).forEach(function (id) {
    document.getElementById(id).addEventListener('click', actions[id]);
  });

  // Core-to-window events (and replies the host pushes later). One stream
  // per window: when another page opens this window, this one is told and
  // stops, instead of taking the stream back.
  var events = new EventSource('/events?window=' + encodeURIComponent(windowLabel));
  events.onmessage = function (m) { isogate.deliverEvent(JSON.parse(m.data)); };
  events.addEventListener('reply', function (m) { isogate.deliver(JSON.parse(m.data)); });
  events.addEventListener('superseded', function () {
    events.close();
    document.getElementById('status').textContent = 'another page took over window ' + windowLabel + '; reload to take it back';
  });
  ['clicked-ack', 'settings-saved'].forEach(function (name) {
    isogate.listen(name, function (payload) {
      window.demo.received.push({ event: name, payload: payload });
      if (window.demo.received.length > 100) window.demo.received.shift();
      show('events', name + ' ' + JSON.stringify(payload));
    });
  });

  fetch('/frame?window=' + encodeURIComponent(windowLabel), { method: 'POST' })
    .then(function (r) { return r.json(); })
    .then(function (f) { return isogate.init({ frameUrl: f.url, send: send }); })
    .then(function () {
      window.demo.ready = true;
      document.getElementById('status').textContent = 'ready';
    }, function (e) {
      document.getElementById('status').textContent = 'failed: ' + e;
    });
})();
