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
      (e.detail ? ' — ' + e.detail : '');
    show(text, e.outcome);
  };
  audit.addEventListener('lost', function (m) {
    show('this console was slow and lost ' + m.data + ' audit events so far', 'dropped');
  });

  function stats() {
    fetch('/stats').then(function (r) { return r.json(); }).then(function (s) {
      document.getElementById('stats').textContent = JSON.stringify(s, null, 2);
    }, function () {});
  }
  stats();
  setInterval(stats, 2000);
})();
