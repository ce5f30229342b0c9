// The audit console: runs on the console origin, which only the host's
// user opens. It reads the live audit stream and the counters.
'use strict';
(function () {
  var MAX_ROWS = 500;

  function show(text, cls) {
    var list = document.getElementById('audit');
    var li = document.createElement('li');
    li.textContent = text;
    if (cls) li.className = cls;
    list.prepend(li);
    while (list.children.length > MAX_ROWS) list.lastChild.remove();
  }

  var audit = new EventSource('/audit');
  audit.onopen = function () { document.getElementById('status').textContent = 'live'; };
  audit.onerror = function () { document.getElementById('status').textContent = 'reconnecting…'; };
  audit.onmessage = function (m) {
    var e = JSON.parse(m.data);
    var text = e.outcome + (e.reason ? ' (' + e.reason + ')' : '') + ' window=' + e.window +
      (e.name ? ' ' + e.kind + '=' + e.name : '') + (e.rule ? ' rule=' + e.rule : '') +
      (e.grant ? ' grant=' + e.grant : '') +
      (e.detail ? ' — ' + e.detail : '');
    show(text, e.outcome);
  };
  audit.addEventListener('lost', function (m) {
    show('this console was slow and lost ' + m.data + ' audit events so far', 'dropped');
  });

  // The host's own actions (this origin only: the page cannot post here).
  function action(path, describe) {
    fetch(path, { method: 'POST' }).then(function (r) {
      return r.text().then(function (text) {
        var body = null;
        try { body = JSON.parse(text); } catch (e) { body = null; }
        return { ok: r.ok && body !== null, status: r.status, body: body || {} };
      });
    }).then(function (res) {
      var item = document.createElement('li');
      item.textContent = res.ok ? describe(res.body) :
        path + ' refused (' + res.status + ')' + (res.body.error ? ': ' + res.body.error : '');
      document.getElementById('actions').prepend(item);
    }, function (e) {
      var item = document.createElement('li');
      item.textContent = path + ' failed: ' + e;
      document.getElementById('actions').prepend(item);
    });
  }
  function pick(win) {
    action('/grant?window=' + win, function (g) {
      return g.grant + ': window ' + g.window + ' may ' + g.command + ' ' + g.path + ' ' +
        g.uses + ' time(s) within ' + g.ttl_seconds + ' s';
    });
  }
  document.getElementById('btn-pick-main').addEventListener('click', function () { pick('main'); });
  document.getElementById('btn-pick-settings').addEventListener('click', function () { pick('settings'); });
  document.getElementById('btn-broadcast').addEventListener('click', function () {
    action('/broadcast', function (b) {
      return b.event + ': ' + Object.keys(b.delivered).map(function (w) {
        return w + (b.delivered[w] ? ' delivered' : ' not delivered (see the audit)');
      }).join(', ');
    });
  });

  function line(label, value) { return label + ': ' + value + '\n'; }

  function stats() {
    fetch('/stats').then(function (r) { return r.json(); }).then(function (s) {
      var g = s.gate || {}, h = s.host || {}, c = s.connections || {};
      var text = line('router calls', s.router_calls) +
        line('events delivered to the host', s.events_delivered) +
        line('dispatched / delivered / dropped', [g.dispatched, g.delivered, g.dropped].join(' / ')) +
        line('audit events over the audit rate cap', g.audit_suppressed) +
        line('grants given by the picker', s.grants) +
        line('broadcast delivered / not delivered', (s.broadcast || {}).delivered + ' / ' + (s.broadcast || {}).dropped);
      (g.discarded || []).forEach(function (pair) {
        if (pair[1]) text += line('discarded (' + pair[0] + ')', pair[1]);
      });
      text += line('frames issued / served / unused', [h.frames_issued, h.frames_served, h.frames_unused].join(' / ')) +
        line('messages from windows not open', h.unknown_window) +
        line('live event streams / audit readers', s.event_streams + ' / ' + s.audit_readers) +
        line('refused: wrong Host / another origin', (s.refused || {}).wrong_host + ' / ' + (s.refused || {}).wrong_origin);
      Object.keys(c).forEach(function (k) {
        var o = c[k];
        text += line(k + ' connections open / accepted', o.open + ' / ' + o.accepted) +
          line(k + ' request / stream write timeouts', o.request_timeouts + ' / ' + o.write_timeouts);
      });
      document.getElementById('stats').textContent = text;
    }, function () {});
  }
  stats();
  setInterval(stats, 2000);
})();
