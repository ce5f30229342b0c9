// The frontend of the example: plain @tauri-apps/api calls (window.__TAURI__
// with `withGlobalTauri`), unchanged from an app without isogate. In
// self-test mode it also plays the hostile page: it tries Tauri's own IPC
// paths, replays an envelope, and reports what it saw.
(function () {
  'use strict';
  var core = window.__TAURI__.core;
  var event = window.__TAURI__.event;
  var fs = window.__TAURI__.fs;
  var IPC_URL = location.protocol === 'tauri:' ? 'ipc://localhost/' : location.protocol + '//ipc.localhost/';
  var NO_REPLY = 'isogate: no reply';
  var log = document.getElementById('log');

  function show(line) { log.textContent += line + '\n'; }

  // Settles with {how: 'resolved'|'rejected'|'timeout', value} within ms.
  function within(promise, ms) {
    return new Promise(function (resolve) {
      var t = setTimeout(function () { resolve({ how: 'timeout' }); }, ms);
      promise.then(function (v) { clearTimeout(t); resolve({ how: 'resolved', value: v }); },
        function (e) { clearTimeout(t); resolve({ how: 'rejected', value: String(e) }); });
    });
  }

  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  function fnv1a(bytes) {
    var h = 0x811c9dc5;
    for (var i = 0; i < bytes.length; i++) {
      h ^= bytes[i];
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h;
  }

  function interactive() {
    document.getElementById('greet').addEventListener('click', function () {
      var name = document.getElementById('name').value;
      within(core.invoke('greet', { name: name }), 10000).then(function (r) { show('greet: ' + r.how + ' ' + JSON.stringify(r.value)); });
    });
    document.getElementById('delete').addEventListener('click', function () {
      within(core.invoke('delete_everything'), 10000).then(function (r) { show('delete_everything: ' + r.how + ' ' + JSON.stringify(r.value)); });
    });
  }

  function selfTest(paths) {
    var results = [];
    function check(name, ok, detail) {
      results.push({ name: name, ok: !!ok, detail: String(detail) });
      show((ok ? 'ok   ' : 'FAIL ') + name + ': ' + detail);
    }
    function info(name, detail) {
      results.push({ name: name, info: true, detail: String(detail) });
      show('info ' + name + ': ' + detail);
    }
    var coreEvents = [];
    var channelMessages = [];
    var big = 'x'.repeat(20000);
    return within(core.invoke('greet', { name: 'Tauri' }), 10000).then(function (r) {
      check('an allowed app command returns its value', r.how === 'resolved' && r.value === 'Hello, Tauri!', JSON.stringify(r));
      return within(core.invoke('delete_everything'), 10000);
    }).then(function (r) {
      check('a command outside the policy is discarded (generic rejection, no reply)', r.how === 'rejected' && r.value === NO_REPLY, JSON.stringify(r));
      return within(core.invoke('greet', { name: 'Mallory' }), 10000);
    }).then(function (r) {
      check('the Tauri isolation hook runs unchanged (it refuses to greet Mallory: nothing sealed)', r.how === 'rejected' && r.value === NO_REPLY, JSON.stringify(r));
      return within(fs.readTextFile(paths.readable), 10000);
    }).then(function (r) {
      check('an allowed plugin command (fs readTextFile) returns the file', r.how === 'resolved' && r.value === paths.content, JSON.stringify(r));
      return within(fs.writeTextFile(paths.forbidden, 'written through the gate?'), 10000);
    }).then(function (r) {
      check('a plugin command outside the policy (fs writeTextFile, which Tauri\'s capability allows) is discarded', r.how === 'rejected' && r.value === NO_REPLY, JSON.stringify(r));
      // Tauri's own custom-protocol IPC, as its ipc-protocol.js would call it, with a guessed key.
      var attempts = ['greet', 'delete_everything'].map(function (cmd) {
        return within(fetch('ipc://localhost/' + cmd, {
          method: 'POST',
          body: JSON.stringify({ name: 'ipc' }),
          headers: { 'Content-Type': 'application/json', 'Tauri-Callback': '1', 'Tauri-Error': '2', 'Tauri-Invoke-Key': 'guessed' }
        }).then(function (resp) { return resp.status + ' ' + (resp.headers.get('Isogate-Result') || 'no result'); }), 5000);
      });
      return Promise.all(attempts);
    }).then(function (rs) {
      var ok = rs.every(function (r) { return r.how !== 'resolved' || /^204 no result$/.test(r.value); });
      check('direct ipc:// requests (Tauri\'s protocol, guessed key) get no reply', ok, JSON.stringify(rs));
      var hasIpc = !!(window.ipc && typeof window.ipc.postMessage === 'function');
      info('window.ipc.postMessage exists', hasIpc);
      if (hasIpc) {
        ['greet', 'delete_everything'].forEach(function (cmd) {
          window.ipc.postMessage(JSON.stringify({ cmd: cmd, callback: 1, error: 2, payload: { name: 'postMessage' }, options: {}, __TAURI_INVOKE_KEY__: 'guessed' }));
        });
      }
      var leaked = Object.getOwnPropertyNames(window.__TAURI_INTERNALS__).filter(function (k) { return /key/i.test(k); });
      check('the page holds no invoke key (no *key* property in __TAURI_INTERNALS__)', leaked.length === 0, JSON.stringify(leaked));
      return sleep(500);
    }).then(function () {
      // A hostile page seals an allowed call itself and sends the envelope twice.
      return window.isogate.seal({ kind: 'invoke', id: 4000000000, cmd: 'greet', args: { name: 'Replay' } }, null);
    }).then(function (envelope) {
      function send() {
        return fetch(IPC_URL, { method: 'POST', body: envelope }).then(function (resp) {
          var result = resp.headers.get('Isogate-Result');
          return result ? resp.json().then(function (v) { return result + ' ' + JSON.stringify(v); }) : resp.status + ' no result';
        });
      }
      return send().then(function (first) { return send().then(function (second) { return [first, second]; }); });
    }).then(function (pair) {
      check('a replayed envelope is discarded (first copy answered, second not)', pair[0] === 'ok "Hello, Replay!"' && pair[1] === '204 no result', JSON.stringify(pair));
      return within(event.listen('never-delivered', function () {}), 10000);
    }).then(function (r) {
      check('a listen for an event the deliver rules never send this window is refused', r.how === 'rejected' && r.value === NO_REPLY, JSON.stringify(r));
      return within(fetch('isogate-frame://localhost/frame').then(function (resp) {
        return resp.text().then(function (t) { return 'read ' + resp.status + ' ' + t.length + ' bytes'; });
      }), 5000);
    }).then(function (r) {
      check('the page cannot fetch its frame document (served once, another origin)', !(r.how === 'resolved' && /^read 200/.test(r.value)), JSON.stringify(r));
      return event.listen('core-ping', function (e) { coreEvents.push(e.payload); });
    }).then(function () {
      return within(core.invoke('trigger_core_emit'), 10000);
    }).then(function (r) {
      return sleep(300).then(function () {
        check('a core emit to the window arrives (listen registered through the gate)', r.how === 'resolved' && coreEvents.length === 1 && coreEvents[0].from === 'core', JSON.stringify(coreEvents));
        return within(event.emit('page-ping', { n: 7 }), 10000);
      });
    }).then(function (r) {
      check('a frontend emit passes the gate (the core counts it)', r.how === 'resolved', JSON.stringify(r));
      return within(event.emit('not-allowed', { n: 1 }), 10000);
    }).then(function (r) {
      check('an emit of an event outside the policy is discarded', r.how === 'rejected' && r.value === NO_REPLY, JSON.stringify(r));
      var channel = new core.Channel();
      channel.onmessage = function (m) { channelMessages.push(m); };
      return within(core.invoke('stream', { channel: channel }), 10000).then(function (r) { return sleep(500).then(function () { return r; }); });
    }).then(function (r) {
      var got = channelMessages.map(function (m) { return typeof m === 'string' ? m.length : m; });
      check('a Channel delivers small and large messages (the large one fetched through the gate)', r.how === 'resolved' && channelMessages.length === 2 && channelMessages[0] === 'small' && channelMessages[1] === big, JSON.stringify(got));
      var bytes = new Uint8Array(10 * 1024 * 1024);
      for (var i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 255;
      var expected = { len: bytes.length, fnv: fnv1a(bytes) };
      var started = performance.now();
      return within(core.invoke('digest', bytes), 30000).then(function (r) {
        var ms = performance.now() - started;
        check('a 10 MiB binary argument arrives intact', r.how === 'resolved' && r.value.len === expected.len && r.value.fnv === expected.fnv,
          JSON.stringify({ got: r, expected: expected }));
        info('10 MiB round trip', ms.toFixed(0) + ' ms');
      });
    }).then(function () {
      // An envelope sealed by this page load, kept for the next one.
      return window.isogate.seal({ kind: 'invoke', id: 4000000001, cmd: 'greet', args: { name: 'Stale' } }, null);
    }).then(function (envelope) {
      return { results: results, stale: btoa(String.fromCharCode.apply(null, envelope)) };
    }, function (e) {
      check('the self-test page ran to the end', false, String(e));
      return { results: results, stale: null };
    });
  }

  // After the reload: the old load's envelope is refused, the new frame works.
  function afterReload(saved) {
    var results = saved.results;
    function check(name, ok, detail) {
      results.push({ name: name, ok: !!ok, detail: String(detail) });
      show((ok ? 'ok   ' : 'FAIL ') + name + ': ' + detail);
    }
    var stale = Uint8Array.from(atob(saved.stale || ''), function (c) { return c.charCodeAt(0); });
    return fetch(IPC_URL, { method: 'POST', body: stale }).then(function (resp) {
      return resp.status + ' ' + (resp.headers.get('Isogate-Result') || 'no result');
    }).then(function (outcome) {
      check('after a reload, an envelope of the previous page load is discarded', outcome === '204 no result', outcome);
      return within(core.invoke('greet', { name: 'Reloaded' }), 10000);
    }).then(function (r) {
      check('after a reload, a new frame load seals again', r.how === 'resolved' && r.value === 'Hello, Reloaded!', JSON.stringify(r));
      return results;
    });
  }

  // --bench: the same calls in every mode, timed here (BENCHMARKS.md).
  function runBench() {
    var results = { small: [], paused: [], mib1: [], mib10: [] };
    function pattern(n) {
      var bytes = new Uint8Array(n);
      for (var i = 0; i < n; i++) bytes[i] = (i * 31 + 7) & 255;
      return { bytes: bytes, fnv: fnv1a(bytes) };
    }
    var b1 = pattern(1024 * 1024);
    var b10 = pattern(10 * 1024 * 1024);
    function digest(b) {
      return function () {
        return core.invoke('digest', b.bytes).then(function (r) {
          if (r.len !== b.bytes.length || r.fnv !== b.fnv) throw new Error('digest mismatch');
        });
      };
    }
    function ping() {
      return core.invoke('ping').then(function (r) {
        if (r !== 'pong') throw new Error('bad ping');
      });
    }
    // n samples, each the mean time of `batch` calls of fn made one after
    // the other (WebKit's performance.now() has a 1 ms resolution here:
    // batches make short calls measurable), each sample after `pause` ms.
    function repeat(n, batch, fn, out, pause) {
      var p = Promise.resolve();
      for (var i = 0; i < n; i++) {
        p = p.then(function () { return pause ? sleep(pause) : null; }).then(function () {
          var t = performance.now();
          var calls = Promise.resolve();
          for (var k = 0; k < batch; k++) calls = calls.then(fn);
          return calls.then(function () { if (out) out.push((performance.now() - t) / batch); });
        });
      }
      return p;
    }
    results.pattern = (window.__TAURI_INTERNALS__.__TAURI_PATTERN__ || {}).pattern || null;
    results.iframes = Array.from(document.querySelectorAll('iframe')).map(function (f) { return f.src; });
    show('bench: running');
    return repeat(30, 1, ping, null, 0)
      .then(function () { return repeat(24, 25, ping, results.small, 0); })
      .then(function () { return repeat(60, 1, ping, results.paused, 100); })
      .then(function () { return repeat(3, 1, digest(b1), null, 0); })
      .then(function () { return repeat(8, 4, digest(b1), results.mib1, 0); })
      .then(function () { return repeat(5, 1, digest(b10), results.mib10, 0); })
      .then(function () {
        // isogate only: the frame's part of a 10 MiB call (copy to the frame, seal, copy back).
        if (!window.isogate || !window.isogate.seal) return null;
        results.seal10 = [];
        return repeat(5, 1, function () {
          return window.isogate.seal({ kind: 'invoke', id: 1, cmd: 'digest', args: {} }, b10.bytes);
        }, results.seal10, 0);
      })
      .then(function () { return core.invoke('bench_report', { results: results }); },
        function (e) { show('bench failed: ' + e); results.error = String(e); return core.invoke('bench_report', { results: results }); });
  }

  core.invoke('self_test_paths').then(function (paths) {
    if (paths.bench) return runBench();
    if (!paths.self_test) return interactive();
    var saved = sessionStorage.getItem('isogate-self-test');
    if (saved !== null) {
      sessionStorage.removeItem('isogate-self-test');
      return afterReload(JSON.parse(saved)).then(function (results) {
        return core.invoke('report', { results: results });
      });
    }
    return selfTest(paths).then(function (state) {
      sessionStorage.setItem('isogate-self-test', JSON.stringify(state));
      location.reload();
    });
  }, function (e) { show('self_test_paths: ' + e); });
})();
