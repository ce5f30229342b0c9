// isogate-wry: appended to the isogate shim in the script the app origin
// serves at /isogate.js, once per page load. It gives `isogate.init` this
// load's one-shot frame URL and wry's IPC transport, so the page calls
// `isogate.init()` with no arguments. Runs in the UNTRUSTED page: a
// convenience, not a security boundary.
(function (root, frameUrl) {
  'use strict';
  var isogate = root.isogate;
  var init = isogate.init;

  // wry's IPC carries strings only: envelopes travel as base64url text.
  function toBase64url(bytes) {
    var s = '';
    for (var i = 0; i < bytes.length; i += 0x8000) {
      s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  // Replies arrive later, through isogate.deliver() (evaluate_script).
  function send(envelope) {
    root.ipc.postMessage(toBase64url(envelope));
    return null;
  }

  isogate.init = function (opts) {
    var merged = { frameUrl: frameUrl, send: send };
    Object.keys(opts || {}).forEach(function (k) { merged[k] = opts[k]; });
    return init(merged);
  };
})(window, ISOGATE_FRAME_URL);
