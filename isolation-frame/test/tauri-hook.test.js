'use strict';
// Hook files written for Tauri's Isolation pattern run unchanged in the
// isogate frame: each test evaluates a hook *source file* in the frame's
// realm, after frame.js, exactly as the frame document does, then seals
// through the frame and opens the envelopes with node:crypto.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const nodeCrypto = require('node:crypto');
const { createClient } = require('../shim.js');

const FRAME_SRC = fs.readFileSync(path.join(__dirname, '..', 'frame.js'), 'utf8');
const KEY = nodeCrypto.randomBytes(32);
const ORIGIN = 'tauri://localhost';

// The hook of the wry example (examples/wry-app), written for Tauri.
const WRY_EXAMPLE_HOOK = fs.readFileSync(
  path.join(__dirname, '..', '..', 'examples', 'wry-app', 'src', 'page', 'tauri-hook.js'), 'utf8');

// Tauri 2 style: `(payload, options)`, async, reads and rewrites the payload.
const TAURI2_HOOK = `
window.__TAURI_ISOLATION_HOOK__ = async (payload, options) => {
  if (payload.cmd === 'plugin:fs|read_text_file' && !String(payload.payload.path).startsWith('/notes/')) {
    throw new Error('path outside /notes');
  }
  if (payload.cmd === 'save') payload.payload.title = String(payload.payload.title).trim();
  return payload;
};
`;

const flush = () => new Promise((r) => setImmediate(r));

function open(envelope) {
  const env = Buffer.from(envelope);
  const wlen = env[1];
  const olen = env.readUInt16BE(2 + wlen);
  const end = 4 + wlen + olen + 12;
  const sealed = env.subarray(end);
  const d = nodeCrypto.createDecipheriv('aes-256-gcm', KEY, env.subarray(end - 12, end));
  d.setAAD(env.subarray(0, end));
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  const pt = Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]);
  return JSON.parse(pt.subarray(4, 4 + pt.readUInt32BE(0)).toString());
}

// A frame document's realm: frame.js, then the hook file, as written.
async function frameWithHook(hookSource) {
  const listeners = [];
  const parent = { postMessage() {} };
  const config = JSON.stringify({ key: KEY.toString('base64url'), window: 'main', origin: ORIGIN, load: 1, hook: true });
  let configEl = { textContent: config, parentNode: { removeChild() { configEl = null; } } };
  const win = {
    crypto: globalThis.crypto,
    TextEncoder,
    console,
    parent,
    document: { getElementById: (id) => (id === 'isogate-config' ? configEl : null) },
    addEventListener(type, fn) { listeners.push(fn); },
  };
  win.window = win;
  vm.createContext(win);
  vm.runInContext(FRAME_SRC, win);
  vm.runInContext(hookSource, win);

  const opened = [];
  let client;
  let ready = false;
  parent.postMessage = (data, targetOrigin, transfer) => {
    assert.equal(targetOrigin, ORIGIN);
    if (data.type === 'ready') ready = true;
    client.handleFrameMessage(structuredClone(data, { transfer }));
  };
  client = createClient({
    postToFrame: (req) => listeners.forEach((fn) => fn({ source: parent, origin: ORIGIN, data: structuredClone(req) })),
    send: async (envelope) => {
      const m = open(envelope);
      opened.push(m);
      return m.kind === 'invoke' ? { id: m.id, ok: true, result: m.args } : null;
    },
  });
  // Key import runs off the main thread: up to 10 s on a loaded machine.
  const deadline = Date.now() + 10000;
  while (!ready && Date.now() < deadline) await flush();
  assert.ok(ready, 'the frame became ready');
  return { client, opened, win };
}

test('the wry example\'s Tauri hook file runs unchanged', async () => {
  const { client, opened, win } = await frameWithHook(WRY_EXAMPLE_HOOK);
  assert.equal(typeof win.__TAURI_ISOLATION_HOOK__, 'function');
  assert.deepEqual(await client.invoke('greet', { name: 'Ada' }), { name: 'Ada' });
  await assert.rejects(client.invoke('greet', { name: 'Mallory' }, { timeout: 50 }), { message: 'isogate: timeout' });
  await client.emit('note-opened', { id: 1 });
  assert.deepEqual(opened.map((m) => m.cmd || m.event), ['greet', 'note-opened'], 'Mallory was never sealed');
});

test('a Tauri 2 style async hook: rewrites, and throws to refuse', async () => {
  const { client, opened } = await frameWithHook(TAURI2_HOOK);
  assert.deepEqual(await client.invoke('save', { title: '  plan  ' }), { title: 'plan' });
  assert.deepEqual(await client.invoke('plugin:fs|read_text_file', { path: '/notes/a.md' }), { path: '/notes/a.md' });
  await assert.rejects(client.invoke('plugin:fs|read_text_file', { path: '/etc/passwd' }, { timeout: 50 }),
    { message: 'isogate: timeout' });
  assert.deepEqual(opened.map((m) => m.args), [{ title: 'plan' }, { path: '/notes/a.md' }]);
});
