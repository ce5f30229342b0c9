'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { applyHook } = require('../frame.js');

const CTX = { window: 'main', origin: 'http://127.0.0.1:8917' };
const INV = { kind: 'invoke', id: 4, cmd: 'greet', args: { name: 'Ada' } };
const EMIT = { kind: 'emit', event: 'note-opened', payload: { id: 3 } };

test('no hook: the validated message passes through', async () => {
  assert.deepEqual(await applyHook(undefined, false, INV, CTX), INV);
  assert.deepEqual(await applyHook(undefined, true, { ...EMIT, extra: 1 }, CTX), EMIT);
  assert.equal(await applyHook(undefined, false, { kind: 'x' }, CTX), null);
});

test('hook receives the message and the context, may modify it', async () => {
  let seen;
  const out = await applyHook((m, ctx) => {
    seen = ctx;
    return { ...m, args: { name: m.args.name.toUpperCase() } };
  }, false, INV, CTX);
  assert.deepEqual(seen, CTX);
  assert.deepEqual(out, { kind: 'invoke', id: 4, cmd: 'greet', args: { name: 'ADA' } });
  // mutating in place and returning it is fine too
  const out2 = await applyHook((m) => { m.cmd = 'other'; return m; }, false, INV, CTX);
  assert.equal(out2.cmd, 'other');
  assert.equal(INV.cmd, 'greet', 'the caller object is not touched');
});

test('null, undefined, throw and rejected promise all reject', async () => {
  assert.equal(await applyHook(() => null, false, INV, CTX), null);
  assert.equal(await applyHook(() => undefined, false, INV, CTX), null);
  assert.equal(await applyHook(() => {}, false, INV, CTX), null);
  assert.equal(await applyHook(() => { throw new Error('no'); }, false, INV, CTX), null);
  assert.equal(await applyHook(() => Promise.reject(new Error('no')), false, INV, CTX), null);
  assert.equal(await applyHook(async () => null, false, INV, CTX), null);
  assert.equal(await applyHook(async () => undefined, false, INV, CTX), null);
});

test('async hook resolving to a message', async () => {
  const out = await applyHook(async (m) => {
    await new Promise((r) => setTimeout(r, 5));
    return { ...m, args: { ...m.args, checked: true } };
  }, false, INV, CTX);
  assert.deepEqual(out.args, { name: 'Ada', checked: true });
});

test('a hook cannot produce an invalid message', async () => {
  assert.equal(await applyHook(() => ({ ...INV, args: [] }), false, INV, CTX), null);
  assert.equal(await applyHook(() => ({ ...INV, id: -1 }), false, INV, CTX), null);
  assert.equal(await applyHook(() => ({ ...INV, cmd: 'bad cmd' }), false, INV, CTX), null);
  assert.equal(await applyHook(() => true, false, INV, CTX), null);
  assert.equal(await applyHook(() => 'greet', false, INV, CTX), null);
  assert.equal(await applyHook(async () => ({ ...INV, args: { f() {} } }), false, INV, CTX), null);
  const extra = await applyHook(() => ({ ...INV, secret: 'x' }), false, INV, CTX);
  assert.deepEqual(Object.keys(extra), ['kind', 'id', 'cmd', 'args']);
});

test('Tauri-shaped hook: invoke maps to {cmd, payload} and back', async () => {
  let seen;
  const out = await applyHook((p) => {
    seen = p;
    return { ...p, cmd: 'greet2', payload: { ...p.payload, n: 1 } };
  }, true, INV, CTX);
  assert.deepEqual(seen, { cmd: 'greet', payload: { name: 'Ada' } });
  assert.deepEqual(out, { kind: 'invoke', id: 4, cmd: 'greet2', args: { name: 'Ada', n: 1 } });
  assert.deepEqual(await applyHook((p) => p, true, INV, CTX), INV);
  assert.deepEqual(await applyHook(async (p) => p, true, INV, CTX), INV);
});

test('Tauri-shaped hook: emit maps to plugin:event|emit and back', async () => {
  let seen;
  const out = await applyHook((p) => {
    seen = p;
    return { cmd: p.cmd, payload: { event: p.payload.event, payload: { id: 4 } } };
  }, true, EMIT, CTX);
  assert.deepEqual(seen, { cmd: 'plugin:event|emit', payload: { event: 'note-opened', payload: { id: 3 } } });
  assert.deepEqual(out, { kind: 'emit', event: 'note-opened', payload: { id: 4 } });
  // an emit cannot be turned into something else
  assert.equal(await applyHook((p) => ({ ...p, cmd: 'greet' }), true, EMIT, CTX), null);
});

test('Tauri-shaped hook: rejections', async () => {
  assert.equal(await applyHook(() => null, true, INV, CTX), null);
  assert.equal(await applyHook(() => undefined, true, INV, CTX), null);
  assert.equal(await applyHook(() => { throw new Error('x'); }, true, INV, CTX), null);
  assert.equal(await applyHook(async () => { throw new Error('x'); }, true, EMIT, CTX), null);
  assert.equal(await applyHook((p) => ({ cmd: p.cmd }), true, INV, CTX), null, 'payload missing');
  assert.equal(await applyHook((p) => ({ cmd: p.cmd, payload: [1] }), true, INV, CTX), null);
});
