// An app hook script that throws before it defines the hook: the frame has
// no `appConfig`. A frame rendered with it must seal nothing.
var allowed = window.appConfig.isolation.allowed;
window.__ISOGATE_HOOK__ = function (message) {
  return allowed.indexOf(message.cmd) >= 0 ? message : null;
};
