// An isolation hook written for Tauri's Isolation pattern, used unchanged:
// isogate's frame finds `window.__TAURI_ISOLATION_HOOK__`, calls it with
// Tauri's payload shape (`{cmd, payload}`) and seals what it returns.
window.__TAURI_ISOLATION_HOOK__ = (payload) => {
  // This app never greets Mallory: such calls stop here, inside the frame.
  if (payload.cmd === 'greet' && payload.payload && payload.payload.name === 'Mallory') {
    return null;
  }
  return payload;
};
