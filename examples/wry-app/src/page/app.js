// The app's page. It runs in the UNTRUSTED main frame: everything it does,
// an attacker's script could do too, which is what the attack buttons and
// the self-test show.
'use strict';
(function () {
  var selfTest = document.body.dataset.mode === 'self-test';
  // A core-to-window event the host sends once the page has loaded.
  var hello = selfTest && new Promise(function (resolve) {
    isogate.listen('self-test-hello', resolve);
  });
  // An event the core tries to send here, which the policy delivers only to
  // a `wallet` window: it must never arrive.
  var balance = null;
  if (selfTest) isogate.listen('wallet-balance', function (payload) { balance = payload; });

  function toBase64url(bytes) {
    var s = '';
    for (var i = 0; i < bytes.length; i += 0x8000) {
      s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  // What an attacker's script can do: post any envelope over wry's IPC
  // (isogate.js's own transport does the same for real calls).
  function send(envelope) {
    window.ipc.postMessage(toBase64url(envelope));
  }

  function log(text, bad) {
    var li = document.createElement('li');
    li.textContent = text;
    if (bad) li.className = 'bad';
    document.getElementById('log').prepend(li);
  }

  function describe(e) {
    return e instanceof Error ? e.message : JSON.stringify(e);
  }

  // Seals one greet envelope and posts it twice (the second is a replay),
  // then posts a copy with one ciphertext bit flipped, then a raw string.
  function attackEnvelopes() {
    return isogate.seal({ kind: 'invoke', id: 900001, cmd: 'greet', args: { name: 'replay' } })
      .then(function (env) {
        send(env);
        send(env);
        var tampered = env.slice();
        tampered[tampered.length - 20] ^= 1;
        send(tampered);
        window.ipc.postMessage(JSON.stringify({ kind: 'invoke', id: 1, cmd: 'greet', args: { name: 'raw' } }));
      });
  }

  function interactive() {
    var actions = {
      'btn-greet': function () { return isogate.invoke('greet', { name: document.getElementById('name').value }); },
      'btn-denied': function () { return isogate.invoke('delete_everything', {}, { timeout: 1500 }); },
      'btn-long': function () { return isogate.invoke('greet', { name: 'x'.repeat(100) }, { timeout: 1500 }); },
      'btn-hook': function () { return isogate.invoke('greet', { name: 'Mallory' }, { timeout: 1500 }); },
      'btn-replay': function () { return attackEnvelopes().then(function () { return 'sent (see the host\'s audit log)'; }); },
      'btn-raw': function () {
        window.ipc.postMessage('{"kind":"invoke","id":1,"cmd":"delete_everything","args":{}}');
        return Promise.resolve('sent (see the host\'s audit log)');
      },
    };
    Object.keys(actions).forEach(function (id) {
      document.getElementById(id).addEventListener('click', function () {
        actions[id]().then(
          function (v) { log(id + ' → ' + JSON.stringify(v)); },
          function (e) { log(id + ' → rejected: ' + describe(e), true); });
      });
    });
    log('ready: the isolation frame imported its key');
  }

  // Loads a probe document of the frame origin, not sandboxed by the
  // iframe, and reports the origin its message arrives from ("null" means
  // the response's CSP `sandbox` header was applied), or that it never
  // arrived (blocked, e.g. by a `frame-ancestors` header).
  function probe(path, ms) {
    return new Promise(function (resolve) {
      var iframe = document.createElement('iframe');
      var done = false;
      function finish(v) {
        if (done) return;
        done = true;
        window.removeEventListener('message', onMessage);
        iframe.remove();
        resolve(v);
      }
      function onMessage(event) {
        if (event.source === iframe.contentWindow && event.data === 'isogate-probe') finish(event.origin);
      }
      window.addEventListener('message', onMessage);
      setTimeout(function () { finish('no message'); }, ms);
      iframe.style.display = 'none';
      iframe.src = 'isogate-probe://localhost/' + path;
      document.body.appendChild(iframe);
    });
  }

  function runSelfTest() {
    var results = [];
    function check(name, ok, detail) {
      results.push({ name: name, ok: !!ok, detail: String(detail) });
    }
    function info(name, detail) {
      results.push({ name: name, info: true, detail: String(detail) });
    }
    var isolation = document.querySelector('iframe');
    var contentDocument = 'unreadable';
    try { contentDocument = isolation.contentDocument === null ? 'null' : 'readable'; } catch (e) { /* cross-origin */ }
    check('the isolation frame document is not reachable from the page', contentDocument !== 'readable', contentDocument);
    info('the page is a secure context', window.isSecureContext + ' (crypto.subtle: ' + typeof (window.crypto && window.crypto.subtle) + ')');

    return isogate.invoke('greet', { name: 'WebKit' }).then(
      function (r) { check('allowed call gets its reply', r === 'Hello, WebKit!', JSON.stringify(r)); },
      function (e) { check('allowed call gets its reply', false, describe(e)); }
    ).then(function () {
      return isogate.invoke('delete_everything', {}, { timeout: 1500 }).then(
        function (r) { check('denied command is discarded', false, 'got ' + JSON.stringify(r)); },
        function (e) { check('denied command is discarded', e instanceof Error && e.message === 'isogate: timeout', describe(e)); });
    }).then(function () {
      return isogate.invoke('greet', { name: 'x'.repeat(100) }, { timeout: 1500 }).then(
        function (r) { check('arguments outside the policy are discarded', false, 'got ' + JSON.stringify(r)); },
        function (e) { check('arguments outside the policy are discarded', e instanceof Error && e.message === 'isogate: timeout', describe(e)); });
    }).then(function () {
      // The app's Tauri isolation hook drops this one inside the frame: it
      // is never sealed, so the host sees nothing at all.
      return isogate.invoke('greet', { name: 'Mallory' }, { timeout: 1500 }).then(
        function (r) { check('the Tauri isolation hook runs unchanged in the frame', false, 'got ' + JSON.stringify(r)); },
        function (e) { check('the Tauri isolation hook runs unchanged in the frame', e instanceof Error && e.message === 'isogate: timeout', describe(e)); });
    }).then(function () {
      return Promise.race([hello, new Promise(function (resolve) { setTimeout(resolve, 3000, 'no event'); })]).then(
        function (payload) { check('a core-to-window event arrives', payload && payload.from === 'the core', JSON.stringify(payload)); });
    }).then(function () {
      // The host granted this page load one read of the file the user
      // picked (before it sent the greeting above).
      return isogate.invoke('read_file', { path: '/home/user/picked.txt' }).then(
        function (r) { check('grant: the picked file can be read', r === 'contents of /home/user/picked.txt', JSON.stringify(r)); },
        function (e) { check('grant: the picked file can be read', false, describe(e)); });
    }).then(function () {
      return isogate.invoke('read_file', { path: '/home/user/picked.txt' }, { timeout: 1500 }).then(
        function (r) { check('grant: only once', false, 'got ' + JSON.stringify(r)); },
        function (e) { check('grant: only once', e instanceof Error && e.message === 'isogate: timeout', describe(e)); });
    }).then(function () {
      return isogate.invoke('read_file', { path: '/home/user/.ssh/id_ed25519' }, { timeout: 1500 }).then(
        function (r) { check('grant: no other file', false, 'got ' + JSON.stringify(r)); },
        function (e) { check('grant: no other file', e instanceof Error && e.message === 'isogate: timeout', describe(e)); });
    }).then(function () {
      check('egress: an event the policy does not deliver here never arrives', balance === null, JSON.stringify(balance));
    }).then(attackEnvelopes).then(function () {
      // The page tries to read a document of the frame origin: its own
      // frame's URL (the token is spent; the document there is refused
      // to the page either way).
      return fetch(isolation.src).then(
        function (r) { return r.text().then(function (t) { return 'read ' + t.length + ' bytes'; }); },
        function (e) { return 'refused (' + describe(e) + ')'; });
    }).then(function (outcome) {
      check('the page cannot read a frame-origin document', outcome.indexOf('read') !== 0, outcome);
      return probe('sandbox', 1500);
    }).then(function (origin) {
      info('CSP `sandbox` response header', origin === 'null' ? 'applied (probe origin "null")' : 'not applied (probe origin ' + JSON.stringify(origin) + ')');
      return probe('frame-ancestors', 1500);
    }).then(function (origin) {
      info('CSP `frame-ancestors` response header', origin === 'no message' ? 'applied (probe blocked)' : 'not applied (probe ran, origin ' + JSON.stringify(origin) + ')');
      return isogate.emit('self-test-report', { origin: location.origin, results: results });
    });
  }

  // isogate.js knows this page load's frame URL and wry's IPC transport.
  isogate.init().then(selfTest ? runSelfTest : interactive);
})();
