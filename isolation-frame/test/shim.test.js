'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { createClient } = require('../shim.js');

const flush = () => new Promise((r) => setImmediate(r));
// Marks a promise as handled so it can reject while the clock is advanced.
const quiet = (p) => { p.catch(() => {}); return p; };

// Manually driven timers.
function fakeClock() {
  let now = 0;
  let nextId = 1;
  const timers = new Map();
  return {
    setTimeout(fn, ms) { const id = nextId++; timers.set(id, { at: now + ms, fn }); return id; },
    clearTimeout(id) { timers.delete(id); },
    pending() { return timers.size; },
    async advance(ms) {
      now += ms;
      for (const [id, t] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
        if (t.at <= now && timers.delete(id)) t.fn();
      }
      await flush();
    },
  };
}

// A fake isolation frame: "seals" by returning the JSON of the request, or
// stays silent when told to reject.
function setup({ transport, reject = () => false, autoReady = true } = {}) {
  const clock = fakeClock();
  const posted = [];
  const sent = [];
  let client;
  const postToFrame = (req) => {
    posted.push(req);
    if (reject(req)) return;
    const env = new TextEncoder().encode(JSON.stringify(req.message));
    queueMicrotask(() => client.handleFrameMessage({ isogate: 1, type: 'sealed', ref: req.ref, envelope: env.buffer }));
  };
  const send = async (envelope) => {
    const msg = JSON.parse(new TextDecoder().decode(envelope));
    sent.push(msg);
    return transport ? transport(msg) : null;
  };
  client = createClient({ postToFrame, send, setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout });
  if (autoReady) client.handleFrameMessage({ isogate: 1, type: 'ready' });
  return { client, clock, posted, sent };
}

test('seal requests are queued until the frame is ready', async () => {
  const { client, posted } = setup({ autoReady: false });
  const p = client.seal({ kind: 'emit', event: 'e', payload: 1 });
  await flush();
  assert.equal(posted.length, 0);
  client.handleFrameMessage({ isogate: 1, type: 'ready' });
  await client.ready;
  assert.equal(posted.length, 1);
  assert.deepEqual(posted[0], { isogate: 1, type: 'seal', ref: posted[0].ref, message: { kind: 'emit', event: 'e', payload: 1 }, body: null });
  const env = await p;
  assert.ok(env instanceof Uint8Array);
});

test('seal times out with the generic error after 5000 ms', async () => {
  const { client, clock } = setup({ reject: () => true });
  const p = client.seal({ kind: 'emit', event: 'e', payload: 1 });
  let settled = false;
  p.catch(() => {}).finally(() => { settled = true; });
  await clock.advance(4999);
  assert.equal(settled, false);
  await clock.advance(1);
  await assert.rejects(p, (e) => e instanceof Error && e.message === 'isogate: timeout');
});

test('invoke resolves with reply.result from a synchronous transport', async () => {
  const { client, sent, clock } = setup({ transport: (m) => ({ id: m.id, ok: true, result: `Hello, ${m.args.name}` }) });
  assert.equal(await client.invoke('greet', { name: 'Ada' }), 'Hello, Ada');
  assert.deepEqual(sent[0], { kind: 'invoke', id: sent[0].id, cmd: 'greet', args: { name: 'Ada' } });
  assert.equal(clock.pending(), 0, 'timers cleared');
});

test('invoke rejects with reply.error as is when ok is false', async () => {
  const { client } = setup({ transport: (m) => ({ id: m.id, ok: false, error: { code: 404, text: 'note not found' } }) });
  await assert.rejects(client.invoke('open', { id: 3 }), (e) => {
    assert.deepEqual(e, { code: 404, text: 'note not found' });
    return true;
  });
});

test('invoke defaults args to {} and allocates increasing ids', async () => {
  const { client, sent } = setup({ transport: (m) => ({ id: m.id, ok: true, result: m.id }) });
  const a = await client.invoke('a');
  const b = await client.invoke('b');
  assert.ok(b > a);
  assert.deepEqual(sent[0].args, {});
});

test('invoke with bytes: they become the body, args becomes {}', async () => {
  const { client, posted } = setup({ transport: (m) => ({ id: m.id, ok: true, result: null }) });
  await client.invoke('upload', new Uint8Array([1, 2, 3]));
  assert.deepEqual(posted[0].message.args, {});
  assert.deepEqual([...posted[0].body], [1, 2, 3]);
  await client.invoke('upload', new Uint8Array([4]).buffer);
  assert.ok(posted[1].body instanceof Uint8Array);
  assert.deepEqual([...posted[1].body], [4]);
});

test('async transport: reply arrives through deliver(), unknown ids ignored', async () => {
  const { client, sent } = setup();
  const p = client.invoke('slow', {});
  await flush();
  await flush();
  const id = sent[0].id;
  client.deliver({ id: id + 1000, ok: true, result: 'wrong' });
  client.deliver(null);
  client.deliver('junk');
  client.deliver({ id, ok: true, result: 'right' });
  assert.equal(await p, 'right');
  client.deliver({ id, ok: true, result: 'late' }); // no effect, no throw
});

test('a transport reply for another id is not taken as this reply', async () => {
  const { client, sent, clock } = setup({ transport: (m) => ({ id: m.id + 1, ok: true, result: 'x' }) });
  const p = client.invoke('c', {});
  await flush();
  await flush();
  client.deliver({ id: sent[0].id, ok: false, error: 'e' });
  await assert.rejects(p, (e) => e === 'e');
  assert.equal(clock.pending(), 0);
});

test('invoke: every failure is the same generic timeout error', async (t) => {
  const generic = (e) => e instanceof Error && e.message === 'isogate: timeout' && Object.keys(e).length === 0;

  await t.test('no reply (discarded / hook rejected)', async () => {
    const { client, clock } = setup();
    const p = quiet(client.invoke('x', {}));
    await clock.advance(5000);
    await assert.rejects(p, generic);
  });
  await t.test('frame never seals', async () => {
    const { client, clock } = setup({ reject: () => true });
    const p = quiet(client.invoke('x', {}));
    await clock.advance(5000);
    await assert.rejects(p, generic);
  });
  await t.test('transport throws', async () => {
    const { client } = setup({ transport: () => { throw new Error('HTTP 500: secret detail'); } });
    await assert.rejects(client.invoke('x', {}), generic);
  });
  await t.test('transport rejects', async () => {
    const { client } = setup({ transport: () => Promise.reject(new TypeError('network')) });
    await assert.rejects(client.invoke('x', {}), generic);
  });
  await t.test('custom timeout is one overall deadline', async () => {
    const { client, clock } = setup({ reject: () => true });
    const p = client.invoke('x', {}, { timeout: 8000 });
    let settled = false;
    p.catch(() => {}).finally(() => { settled = true; });
    await clock.advance(7999);
    assert.equal(settled, false, 'the 5000 ms seal default does not cut it short');
    await clock.advance(1);
    await assert.rejects(p, generic);
    assert.equal(clock.pending(), 0);
  });
  await t.test('late reply after the timeout is ignored', async () => {
    const { client, clock, sent } = setup();
    const p = quiet(client.invoke('x', {}, { timeout: 100 }));
    await flush();
    await flush();
    await clock.advance(100);
    await assert.rejects(p, generic);
    client.deliver({ id: sent[0].id, ok: true, result: 1 });
  });
});

test('emit seals {kind, event, payload}, sends, resolves undefined', async () => {
  const { client, sent } = setup({ transport: () => null });
  assert.equal(await client.emit('note-opened', { id: 3 }), undefined);
  assert.deepEqual(sent[0], { kind: 'emit', event: 'note-opened', payload: { id: 3 } });
});

test('emit failures are generic too', async () => {
  const { client, clock } = setup({ reject: () => true });
  const p = quiet(client.emit('e', 1));
  await clock.advance(5000);
  await assert.rejects(p, { message: 'isogate: timeout' });
  const s2 = setup({ transport: () => { throw new Error('detail'); } });
  await assert.rejects(s2.client.emit('e', 1), { message: 'isogate: timeout' });
});

test('frame messages of the wrong shape are ignored', async () => {
  const { client, clock } = setup({ reject: () => true });
  const p = quiet(client.seal({ kind: 'emit', event: 'e', payload: 1 }));
  client.handleFrameMessage(null);
  client.handleFrameMessage({ type: 'sealed', ref: 1, envelope: new ArrayBuffer(1) });
  client.handleFrameMessage({ isogate: 1, type: 'sealed', ref: 1, envelope: 'not bytes' });
  client.handleFrameMessage({ isogate: 1, type: 'sealed', ref: 999, envelope: new ArrayBuffer(1) });
  await clock.advance(5000);
  await assert.rejects(p, { message: 'isogate: timeout' });
});

test('listen / deliverEvent / unlisten', () => {
  const { client } = setup();
  const got = [];
  const un1 = client.listen('tick', (p) => got.push(['a', p]));
  const un2 = client.listen('tick', (p) => got.push(['b', p]));
  client.listen('other', () => got.push(['other']));
  client.deliverEvent({ event: 'tick', payload: 1 });
  un1();
  client.deliverEvent({ event: 'tick', payload: 2 });
  un2();
  un2(); // idempotent
  client.deliverEvent({ event: 'tick', payload: 3 });
  client.deliverEvent({ event: 'nobody', payload: 4 });
  client.deliverEvent(null);
  assert.deepEqual(got, [['a', 1], ['b', 1], ['b', 2]]);
});

test('a throwing listener does not stop the others', () => {
  const { client } = setup();
  const got = [];
  client.listen('e', () => { throw new Error('app bug'); });
  client.listen('e', (p) => got.push(p));
  client.deliverEvent({ event: 'e', payload: 'x' });
  assert.deepEqual(got, ['x']);
});
