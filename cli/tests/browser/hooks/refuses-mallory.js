// An app hook that works: it refuses to greet Mallory and seals the rest.
window.__ISOGATE_HOOK__ = function (message) {
  if (message.kind === 'invoke' && message.cmd === 'greet' && message.args.name === 'Mallory') return null;
  return message;
};
