'use strict';
// Runs frame.js's browser start-up in a vm context with a fake DOM, wired to
// the shim client, with a fake host that opens envelopes with node:crypto.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const nodeCrypto = require('node:crypto');
const { createClient } = require('../shim.js');

const FRAME_SRC = fs.readFileSync(path.join(__dirname, '..', 'frame.js'), 'utf8');
const KEY = Buffer.from(new Uint8Array(32).map((_, i) => i));
const ORIGIN = 'http://127.0.0.1:8917';
const CONFIG = { key: KEY.toString('base64url'), window: 'main', origin: ORIGIN, load: 1 };
const KNOWN_ENVELOPE = fs.readFileSync(path.join(__dirname, 'known-answer.txt'), 'utf8')
  .match(/^envelope: (.*)$/m)[1];

const flush = () => new Promise((r) => setImmediate(r));
// Waits until `pred()` holds, for up to 10 s of event-loop turns: WebCrypto
// runs off the main thread, and a loaded machine can take a while.
async function waitFor(pred) {
  const deadline = Date.now() + 10000;
  while (!pred() && Date.now() < deadline) await flush();
  return pred();
}
// Lets the frame react to what was posted (200 event-loop turns), for
// checks that nothing happened.
async function settle() {
  for (let i = 0; i < 200; i++) await flush();
}

// The frame document's realm: frame.js, then the hook script if any (a
// throwing script is reported and the parser goes on, as in a browser), then
// the end of parsing (DOMContentLoaded) unless `parsed` is false.
function loadFrame(config = CONFIG, { hook, parsed = true } = {}) {
  const toParent = [];
  const listeners = [];
  const docListeners = [];
  const scriptErrors = [];
  let removed = false;
  const configEl = {
    textContent: JSON.stringify(config),
    parentNode: { removeChild(el) { assert.equal(el, configEl); removed = true; } },
  };
  const parent = {
    postMessage(data, targetOrigin, transfer) { toParent.push({ data, targetOrigin, transfer }); },
  };
  const win = {
    crypto: globalThis.crypto,
    TextEncoder,
    parent,
    document: {
      readyState: 'loading',
      getElementById: (id) => (id === 'isogate-config' && !removed ? configEl : null),
      addEventListener(type, fn) { docListeners.push({ type, fn }); },
    },
    addEventListener(type, fn) { listeners.push({ type, fn }); },
  };
  win.window = win;
  vm.createContext(win);
  const globalsBefore = Object.getOwnPropertyNames(win).sort();
  vm.runInContext(FRAME_SRC, win);
  const ready = () => toParent.some((m) => m.data.type === 'ready');
  const run = (src) => {
    try { vm.runInContext(src, win); } catch (e) { scriptErrors.push(e); }
  };
  const finishParsing = () => {
    win.document.readyState = 'interactive';
    for (const l of docListeners) if (l.type === 'DOMContentLoaded') l.fn({});
  };
  if (hook !== undefined) run(hook);
  if (parsed) finishParsing();
  return {
    win, parent, toParent, configEl, globalsBefore, ready, run, finishParsing, scriptErrors,
    isRemoved: () => removed,
    // Delivers a message to the frame as the browser would (structured clone).
    dispatch(data, { source = parent, origin = ORIGIN } = {}) {
      for (const l of listeners) {
        if (l.type === 'message') l.fn({ source, origin, data: structuredClone(data) });
      }
    },
  };
}

function open(envelope) {
  const env = Buffer.from(envelope);
  const wlen = env[1];
  const olen = env.readUInt16BE(2 + wlen);
  const end = 4 + wlen + olen + 12;
  const nonce = env.subarray(end - 12, end);
  const sealed = env.subarray(end);
  const d = nodeCrypto.createDecipheriv('aes-256-gcm', KEY, nonce);
  d.setAAD(env.subarray(0, end));
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  const pt = Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]);
  const jlen = pt.readUInt32BE(0);
  return {
    window: env.subarray(2, 2 + wlen).toString(),
    origin: env.subarray(4 + wlen, 4 + wlen + olen).toString(),
    load: nonce.readUInt32BE(0),
    seq: Number(nonce.readBigUInt64BE(4)),
    json: pt.subarray(4, 4 + jlen).toString(),
    message: JSON.parse(pt.subarray(4, 4 + jlen).toString()),
    body: pt.subarray(4 + jlen),
  };
}

// Shim client wired to the frame; the host answers invokes from `router`.
function wire(frame, router = (m) => ({ ok: true, result: m.cmd })) {
  const opened = [];
  const envelopes = [];
  let client;
  frame.parent.postMessage = (data, targetOrigin, transfer) => {
    frame.toParent.push({ data, targetOrigin, transfer });
    assert.equal(targetOrigin, ORIGIN);
    // (vm-realm objects: compare by value, not with deepStrictEqual)
    if (data.type === 'sealed') assert.ok(transfer.length === 1 && transfer[0] === data.envelope);
    client.handleFrameMessage(structuredClone(data, { transfer }));
  };
  client = createClient({
    postToFrame: (req) => frame.dispatch(req),
    send: async (envelope) => {
      envelopes.push(Buffer.from(envelope).toString('hex'));
      const o = open(envelope);
      opened.push(o);
      if (o.message.kind !== 'invoke') return null;
      return { id: o.message.id, ...router(o.message, o.body) };
    },
  });
  return { client, opened, envelopes };
}

test('start-up: config element emptied and removed, ready posted to the configured origin only', async () => {
  const frame = loadFrame();
  assert.ok(await waitFor(frame.ready));
  assert.equal(frame.isRemoved(), true);
  assert.equal(frame.configEl.textContent, '');
  assert.equal(frame.toParent.length, 1);
  assert.equal(JSON.stringify(frame.toParent[0].data), '{"isogate":1,"type":"ready"}');
  assert.equal(frame.toParent[0].targetOrigin, ORIGIN);
  assert.deepEqual(Object.getOwnPropertyNames(frame.win).sort(), frame.globalsBefore, 'no globals added');
});

test('a bad config never becomes ready', async () => {
  for (const bad of [
    { ...CONFIG, key: Buffer.alloc(16).toString('base64url') },
    { ...CONFIG, key: 'not base64!' },
    { ...CONFIG, load: -1 },
    { ...CONFIG, window: '' },
  ]) {
    const frame = loadFrame(bad);
    await settle();
    assert.equal(frame.toParent.length, 0, JSON.stringify(bad));
  }
});

test('end to end: the first invoke is the WIRE.md known answer', async () => {
  const frame = loadFrame();
  const { client, opened, envelopes } = wire(frame, (m) => ({ ok: true, result: `Hello, ${m.args.name}` }));
  assert.ok(await waitFor(frame.ready));
  client.handleFrameMessage({ isogate: 1, type: 'ready' });
  assert.equal(await client.invoke('greet', { name: 'Ada' }), 'Hello, Ada');
  assert.equal(envelopes[0], KNOWN_ENVELOPE);
  assert.deepEqual(opened[0].message, { kind: 'invoke', id: 1, cmd: 'greet', args: { name: 'Ada' } });
  assert.equal(opened[0].window, 'main');
  assert.equal(opened[0].origin, ORIGIN);
  assert.equal(opened[0].load, 1);
  assert.equal(opened[0].seq, 0);
});

test('end to end: body bytes, emit, and rejected errors', async () => {
  const frame = loadFrame();
  const { client, opened } = wire(frame, (m, body) =>
    m.cmd === 'fail' ? { ok: false, error: 'nope' } : { ok: true, result: [...body] });
  assert.ok(await waitFor(frame.ready));
  client.handleFrameMessage({ isogate: 1, type: 'ready' });
  assert.deepEqual(await client.invoke('upload', new Uint8Array([9, 8, 7])), [9, 8, 7]);
  assert.equal(opened[0].json, `{"kind":"invoke","id":${opened[0].message.id},"cmd":"upload","args":{}}`);
  await client.emit('note-opened', { id: 3 });
  assert.equal(opened[1].json, '{"kind":"emit","event":"note-opened","payload":{"id":3}}');
  assert.equal(opened[1].body.length, 0);
  await assert.rejects(client.invoke('fail'), (e) => e === 'nope');
  assert.deepEqual(opened.map((o) => o.seq), [0, 1, 2]);
});

test('concurrent seals never share a seq, even with an async hook finishing out of order', async () => {
  const frame = loadFrame();
  frame.win.__ISOGATE_HOOK__ = (m) => new Promise((r) => setTimeout(() => r(m), Math.random() * 20));
  const { client, opened } = wire(frame);
  assert.ok(await waitFor(frame.ready));
  client.handleFrameMessage({ isogate: 1, type: 'ready' });
  const N = 40;
  const results = await Promise.all(Array.from({ length: N }, (_, i) => client.invoke(`c${i}`)));
  assert.deepEqual(results, Array.from({ length: N }, (_, i) => `c${i}`));
  const seqs = opened.map((o) => o.seq).sort((a, b) => a - b);
  assert.deepEqual(seqs, Array.from({ length: N }, (_, i) => i));
});

test('the frame ignores everything that is not a valid seal request from the parent', async () => {
  const frame = loadFrame();
  assert.ok(await waitFor(frame.ready));
  const good = { isogate: 1, type: 'seal', ref: 1, message: { kind: 'invoke', id: 1, cmd: 'c', args: {} }, body: null };
  const bad = [
    [good, { source: {} }],
    [good, { source: null }],
    [good, { origin: 'null' }],
    [good, { origin: 'http://127.0.0.1:8918' }],
    [good, { origin: 'http://127.0.0.1:8917/' }],
    [{ ...good, isogate: 2 }],
    [{ ...good, isogate: '1' }],
    [{ ...good, type: 'sealed' }],
    [{ ...good, ref: '1' }],
    [{ ...good, ref: undefined }],
    [{ ...good, message: { ...good.message, kind: 'emit' } }],
    [{ ...good, message: { ...good.message, id: 1.5 } }],
    [{ ...good, message: { ...good.message, args: [1] } }],
    [{ ...good, body: 'abc' }],
    [{ ...good, body: [1, 2] }],
    [{ ...good, body: { length: 2 } }],
    [{ ...good, message: { kind: 'emit', event: 'e', payload: 1 }, body: new Uint8Array([1]) }],
    [{ ...good, message: { kind: 'emit', event: 'e', payload: 1 }, body: new Uint8Array(0) }],
    ['string'],
    [null],
    [[good]],
  ];
  for (const [data, ev] of bad) frame.dispatch(data, ev);
  await settle();
  assert.equal(frame.toParent.length, 1, 'only the ready message');

  frame.dispatch(good);
  assert.ok(await waitFor(() => frame.toParent.length === 2));
  const reply = frame.toParent[1];
  assert.equal(reply.targetOrigin, ORIGIN);
  assert.equal(reply.data.ref, 1);
  assert.equal(open(new Uint8Array(reply.data.envelope)).seq, 0);
});

test('hooks are looked up at message time; isogate hook wins over the Tauri hook', async () => {
  const frame = loadFrame();
  const { client, opened } = wire(frame);
  assert.ok(await waitFor(frame.ready));
  client.handleFrameMessage({ isogate: 1, type: 'ready' });

  frame.win.__TAURI_ISOLATION_HOOK__ = (p) => ({ ...p, payload: { ...p.payload, tauri: true } });
  await client.invoke('a', { x: 1 });
  assert.deepEqual(opened[0].message.args, { x: 1, tauri: true });

  frame.win.__ISOGATE_HOOK__ = (m, ctx) => ({ ...m, args: { ...m.args, ctx } });
  await client.invoke('b', { x: 2 });
  assert.deepEqual(opened[1].message.args, { x: 2, ctx: { window: 'main', origin: ORIGIN } });

  frame.win.__ISOGATE_HOOK__ = (m) => (m.cmd === 'forbidden' ? null : m);
  await assert.rejects(client.invoke('forbidden', {}, { timeout: 50 }), { message: 'isogate: timeout' });
  assert.equal(opened.length, 2, 'nothing was sealed for the rejected call');
  await client.invoke('allowed');
  assert.equal(opened[2].seq, 2, 'a rejected message does not consume a seq');
});

// A frame rendered with a hook ("hook": true) seals only through it.
const HOOK_CONFIG = { ...CONFIG, hook: true };
const TIMEOUT = { message: 'isogate: timeout' };
const sealedRefs = (frame) => frame.toParent.filter((m) => m.data.type === 'sealed').map((m) => m.data.ref);
// A seal request posted by the parent itself (the page can always do this).
const directRequest = (ref, cmd) =>
  ({ isogate: 1, type: 'seal', ref, message: { kind: 'invoke', id: ref, cmd, args: {} }, body: null });

test('rendered with a hook whose script throws before defining it: nothing is ever sealed', async () => {
  for (const name of ['__ISOGATE_HOOK__', '__TAURI_ISOLATION_HOOK__']) {
    const hook = `var c = window.appConfig.isolation;\nwindow.${name} = (m) => (c.allow(m) ? m : null);`;
    const frame = loadFrame(HOOK_CONFIG, { hook });
    const { client, opened } = wire(frame);
    assert.equal(frame.scriptErrors.length, 1, 'the hook script threw');
    await settle(); // the key is imported by now
    frame.dispatch(directRequest(900, 'delete_everything'));
    await assert.rejects(client.invoke('delete_everything', {}, { timeout: 100 }), TIMEOUT);
    assert.equal(frame.ready(), false, name);
    assert.deepEqual(sealedRefs(frame), [], name);
    assert.equal(opened.length, 0, name);
  }
});

test('rendered with a hook whose script defines something else: nothing is ever sealed', async () => {
  for (const hook of ['', 'window.__ISOGATE_HOOK__ = { check(m) { return m; } };', 'window.__TAURI_ISOLATION_HOOK__ = null;']) {
    const frame = loadFrame(HOOK_CONFIG, { hook });
    const { client, opened } = wire(frame);
    await settle();
    frame.dispatch(directRequest(900, 'delete_everything'));
    await assert.rejects(client.invoke('delete_everything', {}, { timeout: 100 }), TIMEOUT);
    assert.equal(frame.ready(), false, hook);
    assert.deepEqual(sealedRefs(frame), [], hook);
    assert.equal(opened.length, 0, hook);
  }
});

test('hook defined late: nothing is sealed before it exists, then calls go through it', async () => {
  for (const hook of [
    'window.__ISOGATE_HOOK__ = (m) => ({ ...m, args: { ...m.args, hooked: true } });',
    'window.__TAURI_ISOLATION_HOOK__ = (p) => ({ ...p, payload: { ...p.payload, hooked: true } });',
  ]) {
    const frame = loadFrame(HOOK_CONFIG, { parsed: false });
    const { client, opened } = wire(frame);
    await settle(); // the key is imported, the hook script has not run yet
    frame.dispatch(directRequest(900, 'delete_everything'));
    const early = client.invoke('greet', { name: 'Ada' }); // held by the shim until ready
    await settle();
    assert.equal(frame.ready(), false);
    assert.deepEqual(sealedRefs(frame), []);
    frame.run(hook);
    frame.finishParsing();
    assert.equal(await early, 'greet');
    assert.deepEqual(opened.map((o) => o.message.args), [{ name: 'Ada', hooked: true }], hook);
    assert.equal(sealedRefs(frame).includes(900), false, 'the request from before the hook stays unsealed');
  }
});

test('rendered with a hook that throws or rejects: that message is dropped, the next is sealed', async () => {
  for (const hook of [
    `window.__ISOGATE_HOOK__ = (m) => {
       if (m.cmd === 'throws') throw new Error('no');
       if (m.cmd === 'rejects') return Promise.reject(new Error('no'));
       return m;
     };`,
    `window.__TAURI_ISOLATION_HOOK__ = (p) => {
       if (p.cmd === 'throws') throw new Error('no');
       if (p.cmd === 'rejects') return Promise.reject(new Error('no'));
       return p;
     };`,
    `window.__TAURI_ISOLATION_HOOK__ = async (p) => {
       if (p.cmd === 'throws' || p.cmd === 'rejects') throw new Error('no');
       return p;
     };`,
  ]) {
    const frame = loadFrame(HOOK_CONFIG, { hook });
    const { client, opened } = wire(frame);
    await client.ready;
    await assert.rejects(client.invoke('throws', {}, { timeout: 100 }), TIMEOUT);
    await assert.rejects(client.invoke('rejects', {}, { timeout: 100 }), TIMEOUT);
    assert.equal(await client.invoke('fine'), 'fine');
    assert.deepEqual(opened.map((o) => [o.message.cmd, o.seq]), [['fine', 0]], hook);
  }
});
